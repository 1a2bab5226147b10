using System.Text.Json;
using Microsoft.Playwright;
using Portal.Testing;

namespace Portal.E2E.Tests;

/// <summary>
/// The foundation's promise, in real Chromium against the real portal and PostgreSQL: an engineer creates a session,
/// the customer runs the test from the link, and every engineer watching sees the result live.
/// </summary>
public sealed class CustomerRunTests() : BrowserTest("e2e")
{
    [Fact]
    public async Task RunTest_WithWebSockets_ResultShownLiveToTwoEngineersAndStored()
    {
        var engineer = await LogInAsync();
        await engineer.GetByRole(AriaRole.Button, new() { Name = "New session" }).ClickAsync();
        await engineer.GetByLabel("Customer name").First.FillAsync("Acme Corp");
        await engineer.GetByLabel("Ticket reference").First.FillAsync("T-1001");
        await engineer.GetByRole(AriaRole.Button, new() { Name = "Create link" }).ClickAsync();
        var link = await engineer.Locator("#customer-link").InputValueAsync();
        await engineer.Locator(".sessions-grid a", new() { HasTextString = "Acme Corp" }).WaitForAsync();
        await engineer.GetByRole(AriaRole.Button, new() { Name = "Open session" }).ClickAsync();
        // The session page's own heading, not a URL event: client-side navigations can slip past WaitForURL.
        await engineer.Locator("h1", new() { HasTextString = "Acme Corp" }).WaitForAsync();
        engineer.Url.ShouldMatch("/sessions/[0-9a-f-]{36}$");
        await WaitInteractiveAsync(engineer);
        var colleague = await LogInAsync();
        await colleague.GotoAsync(engineer.Url);
        await WaitInteractiveAsync(colleague);
        await MarkNoReloadAsync(engineer);
        await MarkNoReloadAsync(colleague);

        var customer = await (await Browser.NewContextAsync()).NewPageAsync();
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

        // The raw result opens on demand in the run's card (which otherwise re-renders only when its rows change).
        var echoRow = engineer.Locator(".results-grid tr", new() { HasTextString = "ws.echo" });
        await echoRow.GetByRole(AriaRole.Button, new() { Name = "JSON" }).ClickAsync();
        (await echoRow.Locator(".raw-json").InnerTextAsync(new() { Timeout = 5_000 })).ShouldContain("\"Step\": \"ws.echo\"");

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
        Portal.Output.Where(line => line.Contains(token, StringComparison.Ordinal)).ShouldBeEmpty();
    }

    [Fact]
    public async Task RunTest_WebSocketMissingInBrowser_StepSkippedAsTheBrowsersLimitAndResultArrivesOverFallback()
    {
        var (session, link) = await CreateSessionAsync("No WebSockets Ltd");
        var engineer = await LogInAsync();
        await engineer.GotoAsync(new Uri(Portal.BaseAddress, $"/sessions/{session}").ToString());
        await WaitInteractiveAsync(engineer);

        var context = await Browser.NewContextAsync();
        await context.AddInitScriptAsync("delete window.WebSocket; window.WebSocket = undefined;");
        var customer = await context.NewPageAsync();
        await customer.GotoAsync(link + "?steps=ws.echo");
        await customer.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await customer.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 30_000 });

        var status = engineer.Locator(".results-grid tr", new() { HasTextString = "ws.echo" }).Locator(".result-status");
        await status.WaitForAsync(new() { Timeout = 5_000 });
        // A browser without WebSocket cannot test WebSockets: that is the browser's limit, not the network's.
        (await status.InnerTextAsync()).ShouldBe("SKIPPED", StringCompareShould.IgnoreCase);
        var stored = (await StoredResultsAsync(new Uri(link).Segments[^1])).Where(r => r.Step == "ws.echo").ToList();
        stored.Count.ShouldBe(1);
        stored[0].Transport.ShouldBeOneOf("serversentevents", "longpolling");
        stored[0].Status.ShouldBe("skipped");
        stored[0].Detail.GetProperty("unsupported").GetString().ShouldBe("WebSocket");
        stored[0].Detail.GetProperty("summary").GetString()!.ShouldMatch(@"^Chrome \d+ cannot test this: it has no WebSocket\. Not a problem of your network\.$");
        // A completed run's findings are final (stored in the transaction that completes it): nothing blames the network.
        await Eventually.TrueAsync(async () => (await StoredResultsAsync(new Uri(link).Segments[^1])).All(r => r.RunStatus == "completed"), "the run to complete");
        (await QueryAsync("SELECT count(*) FROM findings WHERE session_id = $1 AND code IN ('websocket-blocked', 'step-failed')", r => r.GetInt64(0), session))[0].ShouldBe(0);
    }

    [Fact]
    public async Task RunTest_EventSourceMissingInBrowser_SseSkippedOthersRunAllClear()
    {
        var (session, link) = await CreateSessionAsync("Old browser Ltd");
        var context = await Browser.NewContextAsync();
        await context.AddInitScriptAsync("delete window.EventSource; window.EventSource = undefined;");
        var customer = await context.NewPageAsync();

        await customer.GotoAsync(link + "?steps=http.ping,ws.echo,sse,signalr.transports");
        await customer.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await customer.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 30_000 });

        var stored = (await StoredResultsAsync(new Uri(link).Segments[^1])).ToDictionary(r => r.Step);
        stored["sse"].Status.ShouldBe("skipped");
        stored["sse"].Detail.GetProperty("unsupported").GetString().ShouldBe("EventSource (Server-Sent Events)");
        // SignalR's SSE transport is not tried either; the transports the browser has all work.
        stored["signalr.transports"].Status.ShouldBe("pass");
        stored["signalr.transports"].Detail.GetProperty("unsupported").EnumerateArray().Select(u => u.GetString()).ShouldBe(["serverSentEvents"]);
        (await customer.Locator("#steps").InnerTextAsync()).ShouldContain("cannot test this: it has no EventSource");
        await Eventually.TrueAsync(
            async () => (await QueryAsync("SELECT code FROM findings WHERE session_id = $1", r => r.GetString(0), session)).SequenceEqual(["all-clear"]),
            "the run's findings to be all-clear only");
    }



    [Fact]
    public async Task RunTest_PageBusyDuringTheEventStream_NotBlamedOnTheNetwork()
    {
        // Every event stream the page opens finds its main thread busy for 450 ms a quarter-second in: the events due
        // then are handed over together afterwards, as a buffering proxy would release them. Every time, so a second
        // attempt cannot rescue it: only seeing that the page itself was busy does.
        var (session, link) = await CreateSessionAsync("Busy laptop Ltd");
        var context = await Browser.NewContextAsync();
        await context.AddInitScriptAsync(
            """
            const Original = window.EventSource;
            window.EventSource = class extends Original {
              constructor(url, init) {
                super(url, init);
                setTimeout(() => { const end = performance.now() + 450; while (performance.now() < end) { } }, 250);
              }
            };
            """);
        var customer = await context.NewPageAsync();

        await customer.GotoAsync(link + "?steps=sse");
        await customer.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await customer.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 30_000 });

        var sse = (await StoredResultsAsync(new Uri(link).Segments[^1])).Single(r => r.Step == "sse");
        sse.Status.ShouldBe("pass", sse.Metrics.ToString());
        sse.Metrics.GetProperty("heldByPage").GetInt32().ShouldBeGreaterThanOrEqualTo(3, sse.Metrics.ToString());
        sse.Metrics.GetProperty("bursts").GetInt32().ShouldBeLessThan(3);
        await Eventually.TrueAsync(
            async () => (await QueryAsync("SELECT code FROM findings WHERE session_id = $1", r => r.GetString(0), session)).SequenceEqual(["all-clear"]),
            "the run's findings to be all-clear only");
    }

    private static Task MarkNoReloadAsync(IPage page) => page.EvaluateAsync("() => { window.__sameDocument = true; }");


    private async Task<List<StoredRow>> StoredResultsAsync(string token) => await QueryAsync(
        """
        SELECT r.step, r.status, r.transport, r.metrics::text, r.detail::text, u.status
        FROM results r JOIN runs u ON u.id = r.run_id JOIN sessions s ON s.id = r.session_id
        WHERE s.token_hash = $1 ORDER BY r.received_at
        """,
        r => new StoredRow(r.GetString(0), r.GetString(1), r.GetString(2), JsonDocument.Parse(r.GetString(3)).RootElement, JsonDocument.Parse(r.GetString(4)).RootElement, r.GetString(5)),
        System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token)));

    private sealed record StoredRow(string Step, string Status, string Transport, JsonElement Metrics, JsonElement Detail, string RunStatus);
}
