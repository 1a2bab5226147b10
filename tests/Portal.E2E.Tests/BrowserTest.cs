using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Npgsql;
using Portal.Testing;

namespace Portal.E2E.Tests;

/// <summary>A running portal on its own database and a headless Chromium, per test class.</summary>
public abstract class BrowserTest(string name, Dictionary<string, string>? environment = null) : IAsyncLifetime
{
    private IPlaywright _playwright = default!;

    protected PortalProcess Portal { get; private set; } = default!;

    protected IBrowser Browser { get; private set; } = default!;

    public async Task InitializeAsync()
    {
        Portal = await PortalProcess.StartAsync(name, environment, await DatabaseAsync());
        _playwright = await Playwright.CreateAsync();
        Browser = await Chromium.LaunchAsync(_playwright, BrowserArguments);
    }

    /// <summary>Starts another Chromium with its own arguments (a lab browser behind a proxy); the caller disposes it.</summary>
    protected Task<IBrowser> LaunchBrowserAsync(params string[] arguments) => Chromium.LaunchAsync(_playwright, arguments);

    /// <summary>Starts another Chromium through a wrapper program (a lab browser inside a network namespace).</summary>
    protected Task<IBrowser> LaunchBrowserThroughAsync(string executablePath, params string[] arguments) => Chromium.LaunchAsync(_playwright, executablePath, arguments);

    /// <summary>The portal's connection string: null for a fresh database on the tests' shared cluster.</summary>
    protected virtual Task<string?> DatabaseAsync() => Task.FromResult<string?>(null);

    /// <summary>Extra command-line arguments for Chromium.</summary>
    protected virtual string[] BrowserArguments => [];

    public virtual async Task DisposeAsync()
    {
        // The portal's log, next to the test assembly, for reading after a failure.
        await File.WriteAllLinesAsync(Path.Combine(AppContext.BaseDirectory, $"portal-{name}.log"), Portal.Output);
        await Browser.DisposeAsync();
        _playwright.Dispose();
        await Portal.DisposeAsync();
    }

    /// <summary>Creates a session through the API.</summary>
    protected async Task<(Guid Id, string Link)> CreateSessionAsync(string customerName, int idleSeconds = 5)
    {
        using var api = Portal.CreateClient();
        using var created = await api.PostAsJsonAsync("/api/v1/sessions", new { customerName, idleSeconds });
        created.EnsureSuccessStatusCode();
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        return (body.GetProperty("id").GetGuid(), body.GetProperty("customerUrl").GetString()!);
    }

    /// <summary>Logs the bootstrap admin (or another account) in, in a fresh browser context, and waits for the interactive console.</summary>
    protected async Task<IPage> LogInAsync(Uri? through = null, string? email = null, string? password = null)
    {
        var page = await (await Browser.NewContextAsync()).NewPageAsync();
        await page.GotoAsync(new Uri(through ?? Portal.BaseAddress, "/account/login").ToString());
        await page.Locator("#email").FillAsync(email ?? PortalProcess.AdminEmail);
        await page.Locator("#password").FillAsync(password ?? PortalProcess.AdminPassword);
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();
        await page.WaitForURLAsync("**/sessions");
        await WaitInteractiveAsync(page);
        return page;
    }

    /// <summary>Waits until the Blazor circuit drives the page (prerendered buttons do nothing before).</summary>
    protected static Task WaitInteractiveAsync(IPage page) =>
        page.Locator("[data-interactive=true]").WaitForAsync(new() { Timeout = 15_000 });

    /// <summary>How many messages wait, unacknowledged, in the customer page's outbox.</summary>
    protected static Task<int> OutboxSizeAsync(IPage page) => page.EvaluateAsync<int>(
        "() => Object.keys(localStorage).filter(k => k.startsWith('portal.outbox.')).map(k => JSON.parse(localStorage.getItem(k)).length).reduce((a, b) => a + b, 0)");

    /// <summary>The ids of the results the customer page shows.</summary>
    protected static async Task<HashSet<Guid>> PageResultIdsAsync(IPage page) =>
        [.. (await page.Locator("#steps li").EvaluateAllAsync<string[]>("items => items.map(i => i.dataset.resultId)")).Select(Guid.Parse)];

    /// <summary>The ids of a session's stored results (of one source, or all when null).</summary>
    protected async Task<HashSet<Guid>> StoredIdsAsync(Guid session, string? source) =>
        [.. await QueryAsync("SELECT id FROM results WHERE session_id = $1 AND ($2 = '' OR source = $2)", r => r.GetGuid(0), session, source ?? "")];

    /// <summary>
    /// After a fault: waits until the session's one run has arrived completed, then checks that PostgreSQL holds
    /// exactly the results the page made (ids are keys, so none twice), <paramref name="steps"/> of them.
    /// </summary>
    protected async Task ExpectRunStoredOnceAsync(Guid session, IPage page, int steps, TimeSpan within)
    {
        await Eventually.TrueAsync(
            async () => (await QueryAsync("SELECT status FROM runs WHERE session_id = $1", r => r.GetString(0), session)).SequenceEqual(["completed"]),
            "the run to arrive completed", within);
        var pageIds = await PageResultIdsAsync(page);
        pageIds.Count.ShouldBe(steps);
        (await StoredIdsAsync(session, "client")).SetEquals(pageIds).ShouldBeTrue("PostgreSQL holds exactly the page's results");
    }

    /// <summary>Reads rows from the portal's database.</summary>
    protected async Task<List<T>> QueryAsync<T>(string sql, Func<NpgsqlDataReader, T> read, params object[] parameters)
    {
        await using var dataSource = NpgsqlDataSource.Create(Portal.ConnectionString);
        await using var command = dataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new() { Value = parameter });
        }

        var rows = new List<T>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(read(reader));
        }

        return rows;
    }

    /// <summary>Invites an account with the role through the API and sets its password on the invitation page.</summary>
    protected async Task<(string Id, string Email, string Password)> InviteAsync(string role)
    {
        using var api = Portal.CreateClient();
        var email = $"{role.ToLowerInvariant()}-{Guid.NewGuid():N}@portal.test";
        const string password = "amber-kettle-drift-77";
        using var invited = await api.PostAsJsonAsync("/api/v1/admin/users", new { email, role });
        invited.EnsureSuccessStatusCode();
        var user = await invited.Content.ReadFromJsonAsync<JsonElement>();
        var page = await (await Browser.NewContextAsync()).NewPageAsync();
        await page.GotoAsync(new Uri(Portal.BaseAddress, user.GetProperty("invitePath").GetString()!).ToString());
        await page.Locator("#password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Set password" }).ClickAsync();
        await page.WaitForURLAsync(url => !url.Contains("/account/invite", StringComparison.Ordinal));
        await page.Context.CloseAsync();
        return (user.GetProperty("id").GetString()!, email, password);
    }
}
