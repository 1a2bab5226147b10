using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Npgsql;
using Portal.Testing;

namespace Portal.E2E.Tests;

/// <summary>The whole in-browser battery against the local portal, in real Chromium.</summary>
public sealed class BatteryTests : IAsyncLifetime
{
    private PortalProcess _portal = default!;
    private IPlaywright _playwright = default!;
    private IBrowser _browser = default!;

    public async Task InitializeAsync()
    {
        _portal = await PortalProcess.StartAsync("battery");
        _playwright = await Playwright.CreateAsync();
        _browser = await Chromium.LaunchAsync(_playwright);
    }

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
        await _portal.DisposeAsync();
    }

    [Fact]
    public async Task RunTest_WholeBattery_EveryStepReportsPlausibleNumbers()
    {
        using var api = _portal.CreateClient();
        using var created = await api.PostAsJsonAsync("/api/v1/sessions", new { customerName = "Battery", idleSeconds = 5 });
        var session = await created.Content.ReadFromJsonAsync<JsonElement>();
        var page = await (await _browser.NewContextAsync()).NewPageAsync();

        await page.GotoAsync(session.GetProperty("customerUrl").GetString()!);
        await page.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await page.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 60_000 });

        var results = await ResultsAsync(session.GetProperty("id").GetGuid());
        string[] expected = ["env", "http.ping", "ws.echo", "ws.messages", "ws.close", "sse", "longpoll", "signalr.transports", "http.download", "http.upload", "targets", "ws.idle", "server.connection"];
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
        m["ws.echo"].GetProperty("samples").GetInt32().ShouldBe(20);
        m["ws.echo"].GetProperty("closeCode").GetInt32().ShouldBe(1000);
        m["ws.messages"].GetProperty("largestTextBytes").GetInt32().ShouldBe(1024 * 1024);
        m["ws.messages"].GetProperty("largestBinaryBytes").GetInt32().ShouldBe(1024 * 1024);
        m["ws.close"].GetProperty("clientCloseCode").GetInt32().ShouldBe(1000);
        m["ws.close"].GetProperty("serverCloseCode").GetInt32().ShouldBe(4000);
        m["sse"].GetProperty("events").GetInt32().ShouldBe(10);
        m["sse"].GetProperty("reconnectMs").GetDouble().ShouldBeGreaterThan(0);
        m["longpoll"].GetProperty("cycles").GetInt32().ShouldBe(3);
        m["signalr.transports"].GetProperty("working").GetInt32().ShouldBe(3);
        m["http.download"].GetProperty("mbps").GetDouble().ShouldBeGreaterThan(10);
        m["http.upload"].GetProperty("mbps").GetDouble().ShouldBeGreaterThan(10);
        m["ws.idle"].GetProperty("survived").GetInt32().ShouldBe(1);
        m["ws.idle"].GetProperty("idleSeconds").GetInt32().ShouldBe(5);
        results["server.connection"].Source.ShouldBe("server");
        m["server.connection"].GetProperty("httpVersion").GetDouble().ShouldBe(1.1);
        results["server.connection"].Detail.GetProperty("clientAddress").GetString().ShouldBe("127.0.0.1");
        (await page.Locator("#steps li").CountAsync()).ShouldBe(expected.Length - 1);
    }

    private async Task<Dictionary<string, (string Status, string Source, JsonElement Metrics, JsonElement Detail)>> ResultsAsync(Guid session)
    {
        await using var dataSource = NpgsqlDataSource.Create(_portal.ConnectionString);
        await using var command = dataSource.CreateCommand("SELECT step, status, source, metrics::text, detail::text FROM results WHERE session_id = $1");
        command.Parameters.Add(new() { Value = session });
        var rows = new Dictionary<string, (string, string, JsonElement, JsonElement)>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0), (reader.GetString(1), reader.GetString(2), JsonDocument.Parse(reader.GetString(3)).RootElement, JsonDocument.Parse(reader.GetString(4)).RootElement));
        }

        return rows;
    }
}
