using Microsoft.Playwright;
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

        await PostgresServer.RefuseConnectionsAsync(Portal.ConnectionString);
        try
        {
            // The outage lasts through the end of the run: its last results and its completion wait in the page.
            await customer.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 60_000 });
            await Task.Delay(TimeSpan.FromSeconds(2));
        }
        finally
        {
            await PostgresServer.AllowConnectionsAsync(Portal.ConnectionString);
        }

        await ExpectRunStoredOnceAsync(session, customer, steps: 6, TimeSpan.FromSeconds(45));
        (await OutboxSizeAsync(customer)).ShouldBe(0);
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

            await ExpectRunStoredOnceAsync(session, customer, steps: 5, TimeSpan.FromSeconds(45));
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
}
