using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Portal.Testing;

namespace Portal.Web.Tests.Features.Operations;

/// <summary>Health, metrics and the headers every response carries, on a portal of its own.</summary>
public sealed class OperationsTests : IAsyncLifetime
{
    private PortalProcess _portal = default!;

    public async Task InitializeAsync() => _portal = await PortalProcess.StartAsync("operations");

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Fact]
    public async Task Health_DatabaseRefusesConnections_ReadyFailsLiveStaysThenBothRecover()
    {
        using var client = _portal.CreateClient(withApiKey: false);
        (await client.GetAsync("/health/live")).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await client.GetAsync("/health/ready")).StatusCode.ShouldBe(HttpStatusCode.OK);

        await PostgresServer.RefuseConnectionsAsync(_portal.ConnectionString);
        try
        {
            await Eventually.TrueAsync(async () => (await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.ServiceUnavailable, "ready to fail", TimeSpan.FromSeconds(15));
            (await client.GetAsync("/health/live")).StatusCode.ShouldBe(HttpStatusCode.OK);
        }
        finally
        {
            await PostgresServer.AllowConnectionsAsync(_portal.ConnectionString);
        }

        await Eventually.TrueAsync(async () => (await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK, "ready to recover", TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task Metrics_ResultsPosted_CountedByTransportAndOnlyForApiKeys()
    {
        using var api = _portal.CreateClient();
        var (_, token, _) = await _portal.CreateSessionAsync(new { customerName = "Metrics" });
        using var customer = _portal.CreateClient(withApiKey: false);
        var before = Counter(await api.GetStringAsync("/metrics"), "portal_results_stored_total{transport=\"http\"}");
        var run = Guid.NewGuid();
        await customer.PostAsJsonAsync($"/api/runs/{token}/observe", new { runId = run, id = Guid.NewGuid() });
        for (var i = 0; i < 3; i++)
        {
            (await customer.PostAsJsonAsync($"/api/runs/{token}/results", new { id = Guid.NewGuid(), runId = run, step = "ws.echo", status = "pass" })).EnsureSuccessStatusCode();
        }

        await customer.PostAsJsonAsync($"/api/runs/{token}/complete", new { runId = run, verdict = "done" });
        var metrics = await api.GetStringAsync("/metrics");

        Counter(metrics, "portal_results_stored_total{transport=\"http\"}").ShouldBe(before + 4); // the observation and three results
        Counter(metrics, "portal_runs_started_total").ShouldBeGreaterThanOrEqualTo(1);
        Counter(metrics, "portal_runs_completed_total").ShouldBeGreaterThanOrEqualTo(1);
        metrics.ShouldContain("# TYPE portal_connections gauge");
        (await customer.GetAsync("/metrics")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Theory]
    [InlineData("/account/login")]
    [InlineData("/health/live")]
    [InlineData("/openapi/v1.json")]
    [InlineData("/t/not-a-real-link")]
    [InlineData("/shared/not-a-real-link")]
    public async Task AnyPage_SecurityHeaders(string path)
    {
        using var client = _portal.CreateClient(withApiKey: false);

        using var response = await client.GetAsync(path);

        response.Headers.GetValues("X-Content-Type-Options").ShouldBe(["nosniff"]);
        response.Headers.GetValues("X-Frame-Options").ShouldBe(["DENY"]);
        string.Join(";", response.Headers.GetValues("Content-Security-Policy")).ShouldContain("frame-ancestors 'none'");
        response.Headers.Contains("Referrer-Policy").ShouldBeTrue();
    }

    [Fact]
    public async Task CustomerPage_StrictPolicyNoReferrer()
    {
        var (_, _, link) = await _portal.CreateSessionAsync(new { customerName = "Headers" });
        using var client = _portal.CreateClient(withApiKey: false);

        using var page = await client.GetAsync(link.PathAndQuery);

        page.StatusCode.ShouldBe(HttpStatusCode.OK);
        var policy = string.Join(";", page.Headers.GetValues("Content-Security-Policy"));
        policy.ShouldNotContain("unsafe-inline");
        policy.ShouldNotContain("unsafe-eval");
        policy.ShouldContain("frame-ancestors 'none'");
        policy.ShouldContain("script-src 'self'");
        page.Headers.GetValues("Referrer-Policy").ShouldBe(["no-referrer"]);
        page.Headers.GetValues("X-Content-Type-Options").ShouldBe(["nosniff"]);
    }

    private static double Counter(string metrics, string name) =>
        metrics.Split('\n').Where(l => l.StartsWith(name + " ", StringComparison.Ordinal)).Select(l => double.Parse(l[(name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture)).FirstOrDefault();
}
