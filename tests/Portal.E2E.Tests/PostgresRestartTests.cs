using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Playwright;
using Portal.Data.Embedded;
using Portal.Testing;

namespace Portal.E2E.Tests;

/// <summary>
/// PostgreSQL itself restarted under a customer's run: the portal gets a cluster of its own (on a fixed port, so the
/// restarted server keeps its address), and the test stops the server for real and starts it again. Ingest fails
/// meanwhile, the page keeps what was not acknowledged and sends it again, and everything is stored once.
/// </summary>
public sealed class PostgresRestartTests() : BrowserTest("pgrestart")
{
    private readonly EmbeddedPostgresOptions _options = new()
    {
        DataDirectory = TempFolder.Create("portal-pgrestart"),
        Database = "portal_restart",
        Fsync = false,
        Port = PortalProcess.FreePort(),
    };

    private EmbeddedPostgres _cluster = null!;

    protected override async Task<string?> DatabaseAsync()
    {
        _cluster = await EmbeddedPostgres.StartAsync(_options, NullLogger.Instance);
        return _cluster.ConnectionString;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task PostgresRestartedMidRun_IngestRetries_EverythingStoredOnce()
    {
        var (session, link) = await CreateSessionAsync("PostgreSQL restarts", idleSeconds: 5);
        var customer = await (await Browser.NewContextAsync()).NewPageAsync();
        await customer.GotoAsync(link + "?steps=http.ping,ws.echo,ws.close,ws.idle,sse,longpoll");
        await customer.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await customer.Locator("li[data-step='ws.echo']").WaitForAsync(new() { Timeout = 20_000 });

        // A fast shutdown, as an upgrade or a failover does it: every session ended, the server gone for a few seconds.
        await _cluster.StopAsync();
        using var probe = Portal.CreateClient(withApiKey: false);
        (await probe.GetAsync("/health/ready")).StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        await Task.Delay(TimeSpan.FromSeconds(3));
        _cluster = await EmbeddedPostgres.StartAsync(_options, NullLogger.Instance);

        await customer.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 60_000 });
        await ExpectRunStoredOnceAsync(session, customer, steps: 6, TimeSpan.FromSeconds(45));
        (await OutboxSizeAsync(customer)).ShouldBe(0);
        (await probe.GetAsync("/health/ready")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }
}
