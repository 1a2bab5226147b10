using System.Text.Json;
using Microsoft.Playwright;
using Portal.Testing;

namespace Portal.E2E.Tests;

/// <summary>The reporter's promise: no result lost, none stored twice — through cuts, reloads and re-runs.</summary>
public sealed class ReporterTests() : BrowserTest("reporter")
{
    private const string QuickSteps = "env,http.ping,ws.echo,ws.messages,ws.close,sse,longpoll";
    [Fact]
    public async Task RunTest_ConnectionsCutMidRun_NoResultLostNoneDuplicated()
    {
        var (session, link) = await CreateSessionAsync("Reporter");
        await using var relay = new TcpRelay(Portal.BaseAddress);
        var page = await (await Browser.NewContextAsync()).NewPageAsync();
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
        var (session, link) = await CreateSessionAsync("Reporter");
        var context = await Browser.NewContextAsync();
        await CutOffFromPortalAsync(context);
        var page = await context.NewPageAsync();
        await page.GotoAsync(link + "?steps=env,http.ping,ws.echo");
        await page.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await page.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 30_000 });
        var pageIds = await PageResultIdsAsync(page);
        var queued = await OutboxSizeAsync(page);
        (await StoredIdsAsync(session, null)).ShouldBeEmpty();

        await context.UnrouteAllAsync();
        await page.ReloadAsync();

        queued.ShouldBe(pageIds.Count + 2); // the results, the observation and the run's completion
        await Eventually.TrueAsync(async () => (await StoredIdsAsync(session, "client")).SetEquals(pageIds), "the reloaded page re-sent every result");
        await Eventually.TrueAsync(
            async () => await OutboxSizeAsync(page) == 0,
            "the outbox is empty once acknowledged");
        (await CountAsync("SELECT count(*) FROM runs WHERE session_id = $1 AND status = 'completed'", session)).ShouldBe(1);
        (await CountAsync("SELECT count(*) FROM results WHERE session_id = $1 AND source = 'server'", session)).ShouldBe(1);
    }

    [Fact]
    public async Task ReportCode_NothingGetsThrough_CustomerGetsCodeEngineerImportsIt()
    {
        var (session, link) = await CreateSessionAsync("Offline");
        var context = await Browser.NewContextAsync();
        await CutOffFromPortalAsync(context);
        var customer = await context.NewPageAsync();
        await customer.GotoAsync(link + "?steps=env,http.ping,ws.echo");
        await customer.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        var codeBox = customer.GetByLabel("Report code");
        await codeBox.WaitForAsync(new() { Timeout = 30_000 });
        var code = await codeBox.InputValueAsync();
        var pageIds = await PageResultIdsAsync(customer);
        var engineer = await LogInAsync();
        await engineer.GotoAsync(new Uri(Portal.BaseAddress, $"/sessions/{session}").ToString());
        await WaitInteractiveAsync(engineer);

        await engineer.GetByRole(AriaRole.Button, new() { Name = "Import report code" }).ClickAsync();
        await engineer.GetByRole(AriaRole.Textbox, new() { Name = "Report code" }).FillAsync(code);
        await engineer.GetByRole(AriaRole.Button, new() { Name = "Import", Exact = true }).ClickAsync();

        code.ShouldStartWith("P1.");
        code.Length.ShouldBeLessThan(2_000);
        await engineer.GetByText("Imported 3 of 3 results").WaitForAsync(new() { Timeout = 5_000 });
        (await StoredIdsAsync(session, "client")).SetEquals(pageIds).ShouldBeTrue();
        (await CountAsync("SELECT count(*) FROM results WHERE session_id = $1 AND transport = 'report-code'", session)).ShouldBe(3);
        (await CountAsync("SELECT count(*) FROM runs WHERE session_id = $1 AND status = 'completed'", session)).ShouldBe(1);
        // The notice can render before the page's last reload: wait for the row, then check it is there once.
        var echoRows = engineer.Locator(".results-grid tr", new() { HasTextString = "ws.echo" });
        await echoRows.First.WaitForAsync(new() { Timeout = 5_000 });
        (await echoRows.CountAsync()).ShouldBe(1);
    }

    [Fact]
    public async Task RunAgain_FromConsole_StartsANewRunOnTheOpenCustomerPage()
    {
        var (session, link) = await CreateSessionAsync("Reporter");
        var customer = await (await Browser.NewContextAsync()).NewPageAsync();
        await customer.GotoAsync(link + "?steps=ws.echo");
        await customer.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await customer.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 20_000 });
        var engineer = await LogInAsync();
        await engineer.GotoAsync(new Uri(Portal.BaseAddress, $"/sessions/{session}").ToString());
        await WaitInteractiveAsync(engineer);

        await engineer.GetByRole(AriaRole.Button, new() { Name = "Run again" }).ClickAsync();

        await customer.Locator("body[data-runs='2'][data-state=done]").WaitForAsync(new() { Timeout = 20_000 });
        await Eventually.TrueAsync(async () => await CountAsync("SELECT count(*) FROM runs WHERE session_id = $1 AND status = 'completed'", session) == 2, "a second run completed");
        await engineer.Locator(".run-card").Nth(1).WaitForAsync(new() { Timeout = 5_000 });
    }


    /// <summary>Nothing from this browser context reaches the portal's hub or ingest: results pile up in the page's outbox.</summary>
    private static async Task CutOffFromPortalAsync(IBrowserContext context)
    {
        await context.RouteAsync("**/hubs/run**", route => route.AbortAsync());
        await context.RouteAsync("**/api/runs/**", route => route.AbortAsync());
    }

    private async Task<long> CountAsync(string sql, Guid session) => (await QueryAsync(sql, r => r.GetInt64(0), session))[0];
}
