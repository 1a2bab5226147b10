using System.Globalization;
using Microsoft.Playwright;
using Portal.Testing;

namespace Portal.E2E.Tests;

/// <summary>
/// Calls and video through the portal's own TURN server (a real coturn the portal starts), in real Chromium: UDP and
/// TCP reachable, numbered packets all arriving, an all-clear; and the credentials the page gets are the link's own,
/// short-lived, made with a secret that never leaves the portal.
/// </summary>
public sealed class TurnTests() : BrowserTest("turn", new()
{
    ["Portal__Turn__Embedded"] = "true",
    ["Portal__Turn__Port"] = s_turnPort.ToString(CultureInfo.InvariantCulture),
})
{
    private static readonly int s_turnPort = PortalProcess.FreePort();

    [SkippableFact]
    public async Task CustomerPage_ThroughThePortalsOwnTurn_UdpAndTcpReachableNothingLost()
    {
        Skip.IfNot(File.Exists("/usr/bin/turnserver"), "coturn's turnserver is not installed (Debian package coturn).");
        var (session, link) = await CreateSessionAsync("Calls Ltd");
        var customer = await (await Browser.NewContextAsync()).NewPageAsync();

        await customer.GotoAsync(link + "?steps=webrtc.turn");
        await customer.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await customer.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 60_000 });

        var stored = await QueryAsync("SELECT status, metrics::text, detail::text FROM results WHERE session_id = $1 AND step = 'webrtc.turn'",
            r => (Status: r.GetString(0), Metrics: System.Text.Json.JsonDocument.Parse(r.GetString(1)).RootElement, Detail: r.GetString(2)), session);
        var turn = stored.Single();
        turn.Status.ShouldBe("pass", turn.Detail);
        turn.Metrics.GetProperty("lossPercent").GetDouble().ShouldBe(0, turn.Metrics.ToString());
        turn.Metrics.GetProperty("udpLossPercent").GetDouble().ShouldBe(0, turn.Metrics.ToString());
        foreach (var transport in new[] { "udp", "tcp" })
        {
            turn.Metrics.GetProperty($"{transport}Reachable").GetInt32().ShouldBe(1, transport);
            // Datagrams on the relayed path: the 1,000 numbered messages and the data channel's own acknowledgements.
            turn.Metrics.GetProperty($"{transport}Packets").GetInt32().ShouldBeGreaterThanOrEqualTo(1_000, transport);
            turn.Metrics.GetProperty($"{transport}RttMs").GetDouble().ShouldBeInRange(0.01, 200, transport);
        }

        // Through the relay the portal started, not a browser shortcut: the URLs are its own.
        turn.Detail.ShouldContain($"turn:127.0.0.1:{s_turnPort}?transport=udp");
        (await customer.Locator("li[data-step='webrtc.turn']").InnerTextAsync()).ShouldContain("0 % loss");
        await Eventually.TrueAsync(
            async () => (await QueryAsync("SELECT code FROM findings WHERE session_id = $1", r => r.GetString(0), session)).SequenceEqual(["all-clear"]),
            "the run's findings to be all-clear only");
    }
}
