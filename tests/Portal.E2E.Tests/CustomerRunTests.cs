using System.Text.Json;
using Microsoft.Playwright;
using Npgsql;
using Portal.Testing;

namespace Portal.E2E.Tests;

/// <summary>
/// The foundation's promise, in real Chromium against the real portal and PostgreSQL: an engineer creates a session,
/// the customer runs the test from the link, and every engineer watching sees the result live.
/// </summary>
public sealed class CustomerRunTests : IAsyncLifetime
{
    private PortalProcess _portal = default!;
    private IPlaywright _playwright = default!;
    private IBrowser _browser = default!;

    public async Task InitializeAsync()
    {
        _portal = await PortalProcess.StartAsync("e2e");
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
    public async Task RunTest_WithWebSockets_ResultShownLiveToTwoEngineersAndStored()
    {
        var engineer = await LogInAsync();
        await engineer.GetByRole(AriaRole.Button, new() { Name = "New session" }).ClickAsync();
        await engineer.GetByLabel("Customer name").First.FillAsync("Acme Corp");
        await engineer.GetByLabel("Ticket reference").First.FillAsync("T-1001");
        await engineer.GetByRole(AriaRole.Button, new() { Name = "Create link" }).ClickAsync();
        var link = await engineer.Locator("#customer-link").InputValueAsync();
        await engineer.GetByRole(AriaRole.Button, new() { Name = "Open session" }).ClickAsync();
        await engineer.WaitForURLAsync("**/sessions/*", new() { WaitUntil = WaitUntilState.Commit });
        await WaitInteractiveAsync(engineer);
        var colleague = await LogInAsync();
        await colleague.GotoAsync(engineer.Url);
        await WaitInteractiveAsync(colleague);
        await MarkNoReloadAsync(engineer);
        await MarkNoReloadAsync(colleague);

        var customer = await (await _browser.NewContextAsync()).NewPageAsync();
        await customer.GotoAsync(link + "?steps=ws.echo");
        await customer.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await customer.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 20_000 });

        foreach (var page in new[] { engineer, colleague })
        {
            var status = page.Locator(".results-grid tr", new() { HasTextString = "ws.echo" }).Locator(".result-status");
            await status.WaitForAsync(new() { Timeout = 5_000 });
            (await status.InnerTextAsync()).ShouldBe("PASS", StringCompareShould.IgnoreCase);
            await page.Locator(".run-status", new() { HasTextString = "completed" }).WaitForAsync(new() { Timeout = 5_000 });
            (await page.EvaluateAsync<bool>("() => window.__sameDocument === true")).ShouldBeTrue("the page was reloaded");
        }

        (await customer.Locator("#verdict").InnerTextAsync()).ShouldContain("All tests passed");
        var all = await StoredResultsAsync(new Uri(link).Segments[^1]);
        all.Select(r => r.Step).Order(StringComparer.Ordinal).ShouldBe(["server.connection", "ws.echo"]);
        var stored = all.Where(r => r.Step == "ws.echo").ToList();
        stored[0].Status.ShouldBe("pass");
        stored[0].Transport.ShouldBe("websockets");
        stored[0].Metrics.GetProperty("samples").GetInt32().ShouldBe(20);
        stored[0].Metrics.GetProperty("closeCode").GetInt32().ShouldBe(1000);
        stored[0].Metrics.GetProperty("rttMedianMs").GetDouble().ShouldBeGreaterThan(0);
        stored[0].RunStatus.ShouldBe("completed");
        var token = new Uri(link).Segments[^1];
        _portal.Output.Where(line => line.Contains(token, StringComparison.Ordinal)).ShouldBeEmpty();
    }

    [Fact]
    public async Task RunTest_WebSocketMissingInBrowser_ResultStillArrivesOverFallback()
    {
        using var api = _portal.CreateClient();
        using var created = await api.PostAsync("/api/v1/sessions", JsonContent("""{"customerName":"No WebSockets Ltd"}"""));
        var body = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
        var link = body.GetProperty("customerUrl").GetString()!;
        var engineer = await LogInAsync();
        await engineer.GotoAsync(new Uri(_portal.BaseAddress, $"/sessions/{body.GetProperty("id").GetGuid()}").ToString());
        await WaitInteractiveAsync(engineer);

        var context = await _browser.NewContextAsync();
        await context.AddInitScriptAsync("delete window.WebSocket; window.WebSocket = undefined;");
        var customer = await context.NewPageAsync();
        await customer.GotoAsync(link + "?steps=ws.echo");
        await customer.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await customer.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 30_000 });

        var status = engineer.Locator(".results-grid tr", new() { HasTextString = "ws.echo" }).Locator(".result-status");
        await status.WaitForAsync(new() { Timeout = 5_000 });
        (await status.InnerTextAsync()).ShouldBe("FAIL", StringCompareShould.IgnoreCase);
        var stored = (await StoredResultsAsync(new Uri(link).Segments[^1])).Where(r => r.Step == "ws.echo").ToList();
        stored.Count.ShouldBe(1);
        stored[0].Transport.ShouldBeOneOf("serversentevents", "longpolling");
        stored[0].Status.ShouldBe("fail");
        stored[0].Detail.GetProperty("error").GetString()!.ShouldContain("not available");
    }

    private async Task<IPage> LogInAsync()
    {
        var page = await (await _browser.NewContextAsync()).NewPageAsync();
        await page.GotoAsync(new Uri(_portal.BaseAddress, "/account/login").ToString());
        await page.Locator("#email").FillAsync(PortalProcess.AdminEmail);
        await page.Locator("#password").FillAsync(PortalProcess.AdminPassword);
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();
        await page.WaitForURLAsync("**/sessions");
        await WaitInteractiveAsync(page);
        return page;
    }

    private static Task WaitInteractiveAsync(IPage page) =>
        page.Locator("[data-interactive=true]").WaitForAsync(new() { Timeout = 15_000 });

    private static Task MarkNoReloadAsync(IPage page) => page.EvaluateAsync("() => { window.__sameDocument = true; }");

    private static StringContent JsonContent(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    private async Task<List<StoredRow>> StoredResultsAsync(string token)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token));
        await using var dataSource = NpgsqlDataSource.Create(_portal.ConnectionString);
        await using var command = dataSource.CreateCommand("""
            SELECT r.step, r.status, r.transport, r.metrics::text, r.detail::text, u.status
            FROM results r JOIN runs u ON u.id = r.run_id JOIN sessions s ON s.id = r.session_id
            WHERE s.token_hash = $1 ORDER BY r.received_at
            """);
        command.Parameters.Add(new() { Value = hash });
        var rows = new List<StoredRow>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(new StoredRow(reader.GetString(0), reader.GetString(1), reader.GetString(2),
                JsonDocument.Parse(reader.GetString(3)).RootElement, JsonDocument.Parse(reader.GetString(4)).RootElement, reader.GetString(5)));
        }

        return rows;
    }

    private sealed record StoredRow(string Step, string Status, string Transport, JsonElement Metrics, JsonElement Detail, string RunStatus);
}
