using System.Text.Json;
using Microsoft.Playwright;

namespace Portal.E2E.Tests;

/// <summary>The whole in-browser battery against the local portal, in real Chromium.</summary>
// Two addresses (127.0.0.2 is loopback too): the second is the cross-origin step's other origin.
// With the portal's own TURN server (coturn): the calls-and-video step runs too.
public sealed class BatteryTests() : BrowserTest("battery", new()
{
    ["ASPNETCORE_URLS"] = "http://127.0.0.1:0;http://127.0.0.2:0",
    ["Portal__Turn__Embedded"] = "true",
    ["Portal__Turn__Port"] = s_turnPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
})
{
    private static readonly int s_turnPort = global::Portal.Testing.PortalProcess.FreePort();

    [Fact]
    public async Task RunTest_WholeBattery_EveryStepReportsPlausibleNumbers()
    {
        var (session, link) = await CreateSessionAsync("Battery", idleSeconds: 5);
        var page = await (await Browser.NewContextAsync()).NewPageAsync();

        await page.GotoAsync(link);
        await page.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await page.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 60_000 });

        var results = (await QueryAsync(
            "SELECT step, status, source, metrics::text, detail::text FROM results WHERE session_id = $1",
            r => (Step: r.GetString(0), Status: r.GetString(1), Source: r.GetString(2), Metrics: JsonDocument.Parse(r.GetString(3)).RootElement, Detail: JsonDocument.Parse(r.GetString(4)).RootElement),
            session)).ToDictionary(r => r.Step, StringComparer.Ordinal);
        string[] expected = ["env", "http.ping", "http.cors", "ws.echo", "ws.messages", "ws.close", "ws.variants", "sse", "longpoll", "signalr.transports", "http.download", "http.upload", "webrtc.turn", "targets", "ws.idle", "server.connection"];
        results.Keys.Order(StringComparer.Ordinal).ShouldBe(expected.Order(StringComparer.Ordinal));
        foreach (var step in expected.Except(["targets"]))
        {
            results[step].Status.ShouldBe("pass", $"{step}: {results[step].Detail}");
        }

        results["targets"].Status.ShouldBe("skipped");
        var m = results.ToDictionary(r => r.Key, r => r.Value.Metrics);
        Math.Abs(m["env"].GetProperty("clockSkewMs").GetDouble()).ShouldBeLessThan(2_000);
        m["http.ping"].GetProperty("samples").GetInt32().ShouldBe(10);
        m["http.ping"].GetProperty("rttMedianMs").GetDouble().ShouldBeInRange(0.01, 200);
        m["http.ping"].GetProperty("rttP90Ms").GetDouble().ShouldBeGreaterThanOrEqualTo(m["http.ping"].GetProperty("rttMedianMs").GetDouble());
        m["http.cors"].GetProperty("plainOk").GetInt32().ShouldBe(1);
        m["http.cors"].GetProperty("credentialedOk").GetInt32().ShouldBe(1);
        results["http.cors"].Detail.GetProperty("origin").GetString().ShouldStartWith("http://127.0.0.2:");
        m["ws.echo"].GetProperty("samples").GetInt32().ShouldBe(20);
        m["ws.echo"].GetProperty("closeCode").GetInt32().ShouldBe(1000);
        m["ws.messages"].GetProperty("largestTextBytes").GetInt32().ShouldBe(1024 * 1024);
        m["ws.messages"].GetProperty("largestBinaryBytes").GetInt32().ShouldBe(1024 * 1024);
        m["ws.close"].GetProperty("clientCloseCode").GetInt32().ShouldBe(1000);
        m["ws.close"].GetProperty("serverCloseCode").GetInt32().ShouldBe(4000);
        m["ws.variants"].GetProperty("working").GetInt32().ShouldBe(1);
        m["ws.variants"].GetProperty("wsOk").GetInt32().ShouldBe(1);
        m["sse"].GetProperty("events").GetInt32().ShouldBe(10);
        m["sse"].GetProperty("reconnectMs").GetDouble().ShouldBeGreaterThan(0);
        m["longpoll"].GetProperty("cycles").GetInt32().ShouldBe(3);
        m["signalr.transports"].GetProperty("working").GetInt32().ShouldBe(3);
        m["http.download"].GetProperty("mbps").GetDouble().ShouldBeGreaterThan(10);
        m["http.upload"].GetProperty("mbps").GetDouble().ShouldBeGreaterThan(10);
        m["webrtc.turn"].GetProperty("udpReachable").GetInt32().ShouldBe(1);
        m["webrtc.turn"].GetProperty("tcpReachable").GetInt32().ShouldBe(1);
        m["webrtc.turn"].GetProperty("lossPercent").GetDouble().ShouldBe(0);
        m["ws.idle"].GetProperty("survived").GetInt32().ShouldBe(1);
        m["ws.idle"].GetProperty("idleSeconds").GetInt32().ShouldBe(5);
        results["server.connection"].Source.ShouldBe("server");
        m["server.connection"].GetProperty("httpVersion").GetDouble().ShouldBe(1.1);
        results["server.connection"].Detail.GetProperty("clientAddress").GetString().ShouldBe("127.0.0.1");
        (await page.Locator("#steps li").CountAsync()).ShouldBe(expected.Length - 1);
    }

}
