using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Portal.Testing;

namespace Portal.E2E.Tests;

/// <summary>The engineer console as a team uses it: presence, shared notes, Run again, comparing runs, reports.</summary>
public class ConsoleTests() : BrowserTest("console", new()
{
    ["Portal__Probes__AllowList__0"] = "127.0.0.1/32",
    // Presence on a short clock, so that a page which vanishes without a goodbye is seen to go within seconds.
    ["Portal__Presence__Heartbeat"] = "00:00:01",
    ["Portal__Presence__Stale"] = "00:00:05",
})
{
    private const string SecondPassword = "second-engineer-password";

    /// <summary>Invites an engineer through the admin API and sets their password through the invitation page.</summary>
    private async Task<string> InviteEngineerAsync()
    {
        var email = $"colleague-{Guid.NewGuid():N}"[..20] + "@portal.test";
        using var api = Portal.CreateClient();
        using var invited = await api.PostAsJsonAsync("/api/v1/admin/users", new { email, role = "Engineer" });
        invited.EnsureSuccessStatusCode();
        var path = (await invited.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("invitePath").GetString()!;
        var page = await (await Browser.NewContextAsync()).NewPageAsync();
        await page.GotoAsync(new Uri(Portal.BaseAddress, path).ToString());
        await page.Locator("#password").FillAsync(SecondPassword);
        await page.GetByRole(AriaRole.Button, new() { Name = "Set password" }).ClickAsync();
        await page.WaitForURLAsync("**/account/login");
        await page.Context.CloseAsync();
        return email;
    }

    private async Task<IPage> LogInAsAsync(string email, string password, Uri? through = null)
    {
        var page = await (await Browser.NewContextAsync()).NewPageAsync();
        await page.GotoAsync(new Uri(through ?? Portal.BaseAddress, "/account/login").ToString());
        await page.Locator("#email").FillAsync(email);
        await page.Locator("#password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();
        await page.WaitForURLAsync("**/sessions");
        await WaitInteractiveAsync(page);
        return page;
    }

    private async Task OpenSessionAsync(IPage page, Guid session, Uri? through = null)
    {
        await page.GotoAsync(new Uri(through ?? Portal.BaseAddress, $"/sessions/{session}").ToString());
        await WaitInteractiveAsync(page);
    }

    [Fact]
    public async Task SessionPage_TwoEngineers_SeeEachOtherAndTheirNotesLive()
    {
        var (session, _) = await CreateSessionAsync("Team case");
        var colleague = await InviteEngineerAsync();
        var admin = await LogInAsync();
        var other = await LogInAsAsync(colleague, SecondPassword);

        await OpenSessionAsync(admin, session);
        await OpenSessionAsync(other, session);

        await admin.Locator(".presence .watcher", new() { HasTextString = colleague }).WaitForAsync(new() { Timeout = 10_000 });
        await other.Locator(".presence .watcher", new() { HasTextString = PortalProcess.AdminEmail }).WaitForAsync(new() { Timeout = 10_000 });

        await admin.GetByRole(AriaRole.Textbox, new() { Name = "New note" }).FillAsync("Customer is on hotel Wi-Fi; asked for a wired retry.");
        await admin.GetByRole(AriaRole.Button, new() { Name = "Add note" }).ClickAsync();

        var seen = other.Locator(".note", new() { HasTextString = "hotel Wi-Fi" });
        await seen.WaitForAsync(new() { Timeout = 10_000 });
        (await seen.Locator(".note-author").InnerTextAsync()).ShouldBe(PortalProcess.AdminEmail);

        await other.GetByRole(AriaRole.Textbox, new() { Name = "New note" }).FillAsync("Reproduced from the office too.");
        await other.GetByRole(AriaRole.Button, new() { Name = "Add note" }).ClickAsync();
        await admin.Locator(".note", new() { HasTextString = "Reproduced from the office" }).Locator(".note-author", new() { HasTextString = colleague }).WaitForAsync(new() { Timeout = 10_000 });

        // The colleague leaves the page, as a person does, then closes the browser (a browser that just vanishes is the
        // next test's case).
        await other.GotoAsync("about:blank");
        await other.Context.CloseAsync();
        await admin.Locator(".presence .watcher", new() { HasTextString = colleague }).WaitForAsync(new() { State = WaitForSelectorState.Detached, Timeout = 15_000 });
        (await QueryAsync("SELECT count(*) FROM notes WHERE session_id = $1", r => r.GetInt64(0), session))[0].ShouldBe(2);
    }

    [Fact]
    public async Task SessionPage_ColleagueVanishesWithoutGoodbye_DropsOffOnceSilent()
    {
        var (session, _) = await CreateSessionAsync("Lost colleague");
        var colleague = await InviteEngineerAsync();
        var relay = new TcpRelay(Portal.BaseAddress);
        var admin = await LogInAsync();
        var other = await LogInAsAsync(colleague, SecondPassword, relay.BaseAddress);
        await OpenSessionAsync(admin, session);
        await OpenSessionAsync(other, session, relay.BaseAddress);
        var badge = admin.Locator(".presence .watcher", new() { HasTextString = colleague });
        await badge.WaitForAsync(new() { Timeout = 10_000 });

        // The colleague's network goes away: their connections are reset and nothing more gets through, so no
        // goodbye and no other event reaches the portal. Their page still counts until it has been silent 5 s.
        await relay.DisposeAsync();

        await badge.WaitForAsync(new() { State = WaitForSelectorState.Detached, Timeout = 15_000 });
        await admin.Locator(".presence .watcher", new() { HasTextString = PortalProcess.AdminEmail }).WaitForAsync();
        await other.Context.CloseAsync();
    }

    [Fact]
    public async Task SessionsList_Opened_ShowsEverySessionAndTheFiltersNarrowIt()
    {
        await CreateSessionAsync("Alpha Logistics");
        var (beta, _) = await CreateSessionAsync("Beta Pharma");
        await CreateSessionAsync("Gamma Retail");
        using (var api = Portal.CreateClient())
        {
            (await api.PostAsync($"/api/v1/sessions/{beta}/close", null)).EnsureSuccessStatusCode();
        }

        var engineer = await LogInAsync();
        var names = engineer.Locator(".sessions-grid tbody a");

        // Straight after log-in, with nothing typed: the newest first.
        await names.Nth(2).WaitForAsync(new() { Timeout = 10_000 });
        (await names.AllInnerTextsAsync()).ShouldBe(["Gamma Retail", "Beta Pharma", "Alpha Logistics"]);

        await engineer.GetByRole(AriaRole.Textbox, new() { Name = "Search customer or ticket" }).FillAsync("pharma");
        await engineer.Keyboard.PressAsync("Enter");
        await Eventually.TrueAsync(async () => (await names.AllInnerTextsAsync()).SequenceEqual(["Beta Pharma"]), "the search to leave only Beta Pharma");

        await engineer.GetByRole(AriaRole.Button, new() { Name = "Clear" }).ClickAsync();
        await Eventually.TrueAsync(async () => await names.CountAsync() == 3, "Clear to bring every session back");
        await engineer.Locator(".rz-dropdown", new() { Has = engineer.Locator("input[name=status]") }).ClickAsync();
        await engineer.GetByRole(AriaRole.Option, new() { Name = "closed", Exact = true }).ClickAsync();
        await Eventually.TrueAsync(async () => (await names.AllInnerTextsAsync()).SequenceEqual(["Beta Pharma"]), "the status filter to leave only the closed session");

        await engineer.ReloadAsync();
        await WaitInteractiveAsync(engineer);
        await names.Nth(2).WaitForAsync(new() { Timeout = 10_000 });
    }

    [Fact]
    public async Task AdminPage_Engineer_KeptOutAdminGetsIn()
    {
        var colleague = await InviteEngineerAsync();
        var engineer = await LogInAsAsync(colleague, SecondPassword);
        var admin = await LogInAsync();

        await engineer.GotoAsync(new Uri(Portal.BaseAddress, "/admin").ToString());
        await admin.GotoAsync(new Uri(Portal.BaseAddress, "/admin").ToString());
        await WaitInteractiveAsync(admin);

        await engineer.WaitForURLAsync("**/account/denied**");
        await engineer.GetByText("it is for admins").WaitForAsync();
        (await engineer.GetByRole(AriaRole.Tab, new() { Name = "API keys" }).CountAsync()).ShouldBe(0);
        await admin.GetByRole(AriaRole.Tab, new() { Name = "API keys" }).ClickAsync();
        await admin.GetByRole(AriaRole.Textbox, new() { Name = "Key name" }).FillAsync("from the console");
        await admin.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();
        var key = await admin.Locator("#secret-value").InputValueAsync();
        key.ShouldStartWith("ptl_");
        await admin.Context.GrantPermissionsAsync(["clipboard-read", "clipboard-write"], new() { Origin = Portal.BaseAddress.GetLeftPart(UriPartial.Authority) });
        await admin.GetByRole(AriaRole.Button, new() { Name = "Copy" }).ClickAsync();
        await admin.GetByRole(AriaRole.Button, new() { Name = "Copied" }).WaitForAsync(new() { Timeout = 5_000 });
        (await admin.EvaluateAsync<string>("() => navigator.clipboard.readText()")).ShouldBe(key);
        using var client = Portal.CreateClient(withApiKey: false);
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        (await client.GetAsync("/api/v1/sessions")).StatusCode.ShouldBe(System.Net.HttpStatusCode.OK);
    }

    [Fact]
    public async Task SessionPage_RunAgainThenCompare_BothRunsSideBySide()
    {
        var (session, link) = await CreateSessionAsync("Before and after");
        var customer = await (await Browser.NewContextAsync()).NewPageAsync();
        await customer.GotoAsync(link + "?steps=http.ping,ws.echo");
        await customer.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await customer.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 20_000 });
        var engineer = await LogInAsync();
        await OpenSessionAsync(engineer, session);

        await engineer.GetByRole(AriaRole.Button, new() { Name = "Run again" }).ClickAsync();
        await customer.Locator("body[data-runs='2'][data-state=done]").WaitForAsync(new() { Timeout = 20_000 });
        var runs = await QueryAsync("SELECT id FROM runs WHERE session_id = $1 AND status = 'completed' ORDER BY started_at", r => r.GetGuid(0), session);
        runs.Count.ShouldBe(2);

        // The newest run is the portal's own probes: a before-and-after still compares the customer's two runs.
        using (var api = Portal.CreateClient())
        {
            using var probe = await api.PostAsJsonAsync($"/api/v1/sessions/{session}/probes", new { targets = new[] { Portal.BaseAddress.Authority } });
            probe.EnsureSuccessStatusCode();
        }

        await engineer.Locator(".run-card").Nth(2).WaitForAsync(new() { Timeout = 20_000 });

        // Findings lead with the newest customer run and the probes; the first run is listed by its codes.
        await engineer.Locator($".earlier-run[data-run='{runs[0]}'] .finding-code", new() { HasTextString = "all-clear" }).WaitForAsync(new() { Timeout = 10_000 });
        (await engineer.Locator(".earlier-run").CountAsync()).ShouldBe(1);
        await engineer.GetByRole(AriaRole.Button, new() { Name = "Compare runs" }).ClickAsync();
        (await engineer.Locator("input[name=compareB]").GetAttributeAsync("aria-label")).ShouldBe("Run after");
        await engineer.GetByRole(AriaRole.Button, new() { Name = "Compare", Exact = true }).ClickAsync();

        await engineer.Locator(".compare-table").WaitForAsync(new() { Timeout = 10_000 });
        var shown = await engineer.Locator(".compare-run").EvaluateAllAsync<string[]>("cards => cards.map(c => c.dataset.run)");
        shown.Select(Guid.Parse).ShouldBe(runs);
        (await engineer.Locator(".compare-table tr[data-step='ws.echo'] td").CountAsync()).ShouldBe(3);
        (await engineer.Locator(".compare-table tr[data-step='ws.echo'] .st-pass").CountAsync()).ShouldBe(2);
        await engineer.Locator(".compare-run .finding[data-code='all-clear']").First.WaitForAsync(new() { Timeout = 5_000 });
    }

    [Fact]
    public async Task ComparePage_TwoProbeRunsOfTwoTargets_ARowPerStepAndTarget()
    {
        var (session, _) = await CreateSessionAsync("Probed twice");
        string[] targets = [Portal.BaseAddress.Authority, $"127.0.0.1:{PortalProcess.FreePort()}"];
        var runs = new List<Guid>();
        using (var api = Portal.CreateClient())
        {
            for (var i = 0; i < 2; i++)
            {
                using var probe = await api.PostAsJsonAsync($"/api/v1/sessions/{session}/probes", new { targets });
                probe.EnsureSuccessStatusCode();
                runs.Add((await probe.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("runId").GetGuid());
                await Eventually.TrueAsync(
                    async () => (await QueryAsync("SELECT status FROM runs WHERE id = $1", r => r.GetString(0), runs[^1])).SequenceEqual(["completed"]),
                    "the probe run to complete", TimeSpan.FromSeconds(30));
            }
        }

        var engineer = await LogInAsync();
        await engineer.GotoAsync(new Uri(Portal.BaseAddress, $"/sessions/{session}/compare?a={runs[0]}&b={runs[1]}").ToString());
        // The prerendered table is replaced once the circuit has loaded the runs again: read the interactive one.
        await WaitInteractiveAsync(engineer);
        await engineer.Locator(".compare-table").WaitForAsync(new() { Timeout = 10_000 });

        // Each target keeps its own row: the open port passes in both runs, the closed one fails in both.
        var tcp = await engineer.Locator(".compare-table tr[data-step='probe.tcp']").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.target)");
        tcp.Order().ShouldBe(targets.Order());
        var open = engineer.Locator($".compare-table tr[data-step='probe.tcp'][data-target='{targets[0]}']");
        (await open.Locator(".st-pass").CountAsync()).ShouldBe(2, await open.InnerTextAsync());
        (await engineer.Locator($".compare-table tr[data-step='probe.tcp'][data-target='{targets[1]}'] .st-fail").CountAsync()).ShouldBe(2);
    }

    [Fact]
    public async Task Report_Html_LoadsNothingButItsOwnUrl()
    {
        var (session, link) = await CreateSessionAsync("Printable");
        var customer = await (await Browser.NewContextAsync()).NewPageAsync();
        await customer.GotoAsync(link + "?steps=http.ping,ws.echo");
        await customer.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await customer.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 20_000 });
        // A page of its own in the engineer's context (same cookie): the console page the log-in left open may still
        // fetch its fonts, and those requests are not the report's.
        var engineer = await (await LogInAsync()).Context.NewPageAsync();
        var requests = new List<string>();
        engineer.Request += (_, request) => requests.Add(request.Url);
        var reportUrl = new Uri(Portal.BaseAddress, $"/sessions/{session}/report?format=html").ToString();

        var response = await engineer.GotoAsync(reportUrl, new() { WaitUntil = WaitUntilState.NetworkIdle });

        response!.Status.ShouldBe(200);
        (await engineer.Locator("h1").InnerTextAsync()).ShouldBe("Printable");
        (await engineer.Locator(".finding").CountAsync()).ShouldBeGreaterThan(0);
        requests.ShouldBe([reportUrl]);

        // The same page through a share link, for someone without an account.
        using var api = Portal.CreateClient();
        using var shared = await api.PostAsJsonAsync($"/api/v1/sessions/{session}/share-links", new { hours = 2 });
        var sharedUrl = (await shared.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("url").GetString()!;
        var outsider = await (await Browser.NewContextAsync()).NewPageAsync();
        var outsiderRequests = new List<string>();
        outsider.Request += (_, request) => outsiderRequests.Add(request.Url);
        var sharedResponse = await outsider.GotoAsync(sharedUrl, new() { WaitUntil = WaitUntilState.NetworkIdle });
        sharedResponse!.Status.ShouldBe(200);
        (await outsider.Locator("h1").InnerTextAsync()).ShouldBe("Printable");
        outsiderRequests.ShouldBe([sharedUrl]);
    }

    [Fact]
    public async Task SessionPage_CloseAndRevoke_CustomerLinkStopsWorking()
    {
        var (session, link) = await CreateSessionAsync("Closing");
        var engineer = await LogInAsync();
        await OpenSessionAsync(engineer, session);
        var customer = await (await Browser.NewContextAsync()).NewPageAsync();

        await engineer.GetByRole(AriaRole.Button, new() { Name = "Close session" }).ClickAsync();
        await engineer.Locator(".session-status", new() { HasTextString = "closed" }).WaitForAsync(new() { Timeout = 5_000 });
        var whileClosed = await customer.GotoAsync(link);
        await engineer.GetByRole(AriaRole.Button, new() { Name = "Reopen session" }).ClickAsync();
        await engineer.Locator(".session-status", new() { HasTextString = "open" }).WaitForAsync(new() { Timeout = 5_000 });
        var reopened = await customer.GotoAsync(link);
        await engineer.GetByRole(AriaRole.Button, new() { Name = "Revoke link" }).ClickAsync();
        await engineer.Locator(".link-state", new() { HasTextString = "Link revoked" }).WaitForAsync(new() { Timeout = 5_000 });
        var revoked = await customer.GotoAsync(link);

        whileClosed!.Status.ShouldBe(410);
        reopened!.Status.ShouldBe(200);
        revoked!.Status.ShouldBe(410);
        (await QueryAsync("SELECT count(*) FROM sessions WHERE id = $1 AND link_revoked_at IS NOT NULL AND status = 'open'", r => r.GetInt64(0), session))[0].ShouldBe(1);
    }
}
