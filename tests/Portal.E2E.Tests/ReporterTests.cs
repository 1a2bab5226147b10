using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Npgsql;
using Portal.Testing;

namespace Portal.E2E.Tests;

/// <summary>The reporter's promise: no result lost, none stored twice — through cuts, reloads and re-runs.</summary>
public sealed class ReporterTests : IAsyncLifetime
{
    private const string QuickSteps = "env,http.ping,ws.echo,ws.messages,ws.close,sse,longpoll";
    private PortalProcess _portal = default!;
    private IPlaywright _playwright = default!;
    private IBrowser _browser = default!;

    public async Task InitializeAsync()
    {
        _portal = await PortalProcess.StartAsync("reporter");
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
    public async Task RunTest_ConnectionsCutMidRun_NoResultLostNoneDuplicated()
    {
        var (session, link) = await CreateSessionAsync();
        await using var relay = new TcpRelay(_portal.BaseAddress);
        var page = await (await _browser.NewContextAsync()).NewPageAsync();
        await page.GotoAsync(new Uri(relay.BaseAddress, new Uri(link).AbsolutePath + $"?steps={QuickSteps}").ToString());

        await page.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await page.Locator("#steps li").Nth(1).WaitForAsync();
        var cut = relay.CutAll();
        await page.Locator("#steps li").Nth(4).WaitForAsync(new() { Timeout = 30_000 });
        cut += relay.CutAll();
        await page.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 60_000 });

        cut.ShouldBeGreaterThan(0);
        var pageIds = await PageResultIdsAsync(page);
        pageIds.Count.ShouldBe(QuickSteps.Split(',').Length);
        await Eventually.TrueAsync(async () => (await StoredIdsAsync(session, "client")).SetEquals(pageIds), "PostgreSQL holds exactly the page's results");
        (await CountAsync("SELECT count(*) FROM runs WHERE session_id = $1 AND status = 'completed'", session)).ShouldBe(1);
    }

    [Fact]
    public async Task Reload_WithUnsentResults_ResentAfterReloadAndStoredOnce()
    {
        var (session, link) = await CreateSessionAsync();
        var context = await _browser.NewContextAsync();
        // Nothing reaches the portal's hub or ingest: results pile up in the page's outbox.
        await context.RouteAsync("**/hubs/run**", route => route.AbortAsync());
        await context.RouteAsync("**/api/runs/**", route => route.AbortAsync());
        var page = await context.NewPageAsync();
        await page.GotoAsync(link + "?steps=env,http.ping,ws.echo");
        await page.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await page.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 30_000 });
        var pageIds = await PageResultIdsAsync(page);
        var queued = await page.EvaluateAsync<int>("() => Object.keys(localStorage).filter(k => k.startsWith('portal.outbox.')).map(k => JSON.parse(localStorage.getItem(k)).length).reduce((a, b) => a + b, 0)");
        (await StoredIdsAsync(session, null)).ShouldBeEmpty();

        await context.UnrouteAllAsync();
        await page.ReloadAsync();

        queued.ShouldBe(pageIds.Count + 2); // the results, the observation and the run's completion
        await Eventually.TrueAsync(async () => (await StoredIdsAsync(session, "client")).SetEquals(pageIds), "the reloaded page re-sent every result");
        await Eventually.TrueAsync(
            async () => await page.EvaluateAsync<int>("() => Object.keys(localStorage).filter(k => k.startsWith('portal.outbox.')).map(k => JSON.parse(localStorage.getItem(k)).length).reduce((a, b) => a + b, 0)") == 0,
            "the outbox is empty once acknowledged");
        (await CountAsync("SELECT count(*) FROM runs WHERE session_id = $1 AND status = 'completed'", session)).ShouldBe(1);
        (await CountAsync("SELECT count(*) FROM results WHERE session_id = $1 AND source = 'server'", session)).ShouldBe(1);
    }

    [Fact]
    public async Task RunAgain_FromConsole_StartsANewRunOnTheOpenCustomerPage()
    {
        var (session, link) = await CreateSessionAsync();
        var customer = await (await _browser.NewContextAsync()).NewPageAsync();
        await customer.GotoAsync(link + "?steps=ws.echo");
        await customer.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await customer.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 20_000 });
        var engineer = await (await _browser.NewContextAsync()).NewPageAsync();
        await engineer.GotoAsync(new Uri(_portal.BaseAddress, "/account/login").ToString());
        await engineer.Locator("#email").FillAsync(PortalProcess.AdminEmail);
        await engineer.Locator("#password").FillAsync(PortalProcess.AdminPassword);
        await engineer.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();
        await engineer.WaitForURLAsync("**/sessions");
        await engineer.GotoAsync(new Uri(_portal.BaseAddress, $"/sessions/{session}").ToString());
        await engineer.Locator("[data-interactive=true]").WaitForAsync(new() { Timeout = 15_000 });

        await engineer.GetByRole(AriaRole.Button, new() { Name = "Run again" }).ClickAsync();

        await customer.Locator("body[data-runs='2'][data-state=done]").WaitForAsync(new() { Timeout = 20_000 });
        await Eventually.TrueAsync(async () => await CountAsync("SELECT count(*) FROM runs WHERE session_id = $1 AND status = 'completed'", session) == 2, "a second run completed");
        await engineer.Locator(".run-card").Nth(1).WaitForAsync(new() { Timeout = 5_000 });
    }

    private async Task<(Guid Session, string Link)> CreateSessionAsync()
    {
        using var api = _portal.CreateClient();
        using var created = await api.PostAsJsonAsync("/api/v1/sessions", new { customerName = "Reporter", idleSeconds = 5 });
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        return (body.GetProperty("id").GetGuid(), body.GetProperty("customerUrl").GetString()!);
    }

    private static async Task<HashSet<Guid>> PageResultIdsAsync(IPage page) =>
        [.. (await page.Locator("#steps li").EvaluateAllAsync<string[]>("items => items.map(i => i.dataset.resultId)")).Select(Guid.Parse)];

    private async Task<HashSet<Guid>> StoredIdsAsync(Guid session, string? source)
    {
        await using var dataSource = NpgsqlDataSource.Create(_portal.ConnectionString);
        await using var command = dataSource.CreateCommand("SELECT id FROM results WHERE session_id = $1 AND ($2::text IS NULL OR source = $2)");
        command.Parameters.Add(new() { Value = session });
        command.Parameters.Add(new() { Value = (object?)source ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        var ids = new HashSet<Guid>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetGuid(0));
        }

        return ids;
    }

    private async Task<long> CountAsync(string sql, Guid session)
    {
        await using var dataSource = NpgsqlDataSource.Create(_portal.ConnectionString);
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new() { Value = session });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
