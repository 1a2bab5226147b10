using Microsoft.Playwright;
using Npgsql;
using Portal.Testing;

namespace Portal.E2E.Tests;

/// <summary>
/// Faults under a customer's run. PostgreSQL goes away in the middle of it (its connections cut and refused for a few seconds):
/// ingest fails meanwhile, the page keeps what was not acknowledged and sends it again, and once the database is
/// back everything is stored, once. And the portal itself is restarted while the page is open.
/// </summary>
public sealed class DatabaseFaultTests() : BrowserTest("dbfault")
{
    [Fact]
    public async Task DatabaseAwayMidRun_EverythingStoredOnceAfterItReturns()
    {
        var (session, link) = await CreateSessionAsync("Database outage", idleSeconds: 5);
        var customer = await (await Browser.NewContextAsync()).NewPageAsync();
        await customer.GotoAsync(link + "?steps=http.ping,ws.echo,ws.close,ws.idle,sse,longpoll");
        await customer.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await customer.Locator("li[data-step='ws.echo']").WaitForAsync(new() { Timeout = 20_000 });
        var database = new NpgsqlConnectionStringBuilder(Portal.ConnectionString).Database!;

        await AdminAsync($"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS false", $"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'");
        try
        {
            // The outage lasts through the end of the run: its last results and its completion wait in the page.
            await customer.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 60_000 });
            await Task.Delay(TimeSpan.FromSeconds(2));
        }
        finally
        {
            await AdminAsync($"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS true");
        }

        await Eventually.TrueAsync(
            async () => (await QueryAsync("SELECT status FROM runs WHERE session_id = $1", r => r.GetString(0), session)).SequenceEqual(["completed"]),
            "the run to arrive completed", TimeSpan.FromSeconds(45));
        var pageIds = await customer.Locator("li[data-result-id]").EvaluateAllAsync<string[]>("items => items.map(i => i.dataset.resultId)");
        var storedIds = await QueryAsync("SELECT id::text FROM results WHERE session_id = $1 AND source = 'client'", r => r.GetString(0), session);
        pageIds.Length.ShouldBe(6);
        storedIds.Order(StringComparer.Ordinal).ShouldBe(pageIds.Order(StringComparer.Ordinal));
        (await customer.EvaluateAsync<int>("() => Object.keys(localStorage).filter(k => k.startsWith('portal.outbox.')).map(k => JSON.parse(localStorage.getItem(k)).length).reduce((a, b) => a + b, 0)")).ShouldBe(0);
    }

    [Fact]
    public async Task PortalRestartedWhilePageOpen_PageResumesEverythingStoredOnce()
    {
        var port = PortalProcess.FreePort();
        var environment = new Dictionary<string, string> { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}" };
        var first = await PortalProcess.StartAsync("restart", environment, Portal.ConnectionString);
        PortalProcess? second = null;
        try
        {
            var (session, link) = await CreateSessionAsync("Portal restarts", idleSeconds: 8);
            var customer = await (await Browser.NewContextAsync()).NewPageAsync();
            await customer.GotoAsync(new Uri(first.BaseAddress, new Uri(link).PathAndQuery) + "?steps=http.ping,ws.echo,ws.idle,sse,longpoll");
            await customer.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
            await customer.Locator("li[data-step='ws.echo']").WaitForAsync(new() { Timeout = 20_000 });

            // An operator restarts the portal (SIGTERM, then a new process on the same address) during the idle step.
            await first.DisposeAsync();
            second = await PortalProcess.StartAsync("restart-2", environment, Portal.ConnectionString);
            await customer.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 60_000 });

            await Eventually.TrueAsync(
                async () => (await QueryAsync("SELECT status FROM runs WHERE session_id = $1", r => r.GetString(0), session)).SequenceEqual(["completed"]),
                "the run to arrive completed", TimeSpan.FromSeconds(45));
            var pageIds = await customer.Locator("li[data-result-id]").EvaluateAllAsync<string[]>("items => items.map(i => i.dataset.resultId)");
            var storedIds = await QueryAsync("SELECT id::text FROM results WHERE session_id = $1 AND source = 'client'", r => r.GetString(0), session);
            pageIds.Length.ShouldBe(5);
            storedIds.Order(StringComparer.Ordinal).ShouldBe(pageIds.Order(StringComparer.Ordinal));
            // The page is live again on the new process: the hub reconnected, so Run again from the console reaches it.
            await customer.WaitForFunctionAsync("() => document.body.dataset.transport && document.body.dataset.transport !== 'none'");
        }
        finally
        {
            await first.DisposeAsync();
            if (second is not null)
            {
                await second.DisposeAsync();
            }
        }
    }

    private static async Task AdminAsync(params string[] statements)
    {
        await using var connection = new NpgsqlConnection(await PostgresServer.AdminConnectionStringAsync());
        await connection.OpenAsync();
        foreach (var sql in statements)
        {
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }
    }
}
