using System.Net;
using System.Net.Http.Json;
using Portal.Testing;

namespace Portal.Web.Tests.Features.Ingest;

/// <summary>
/// What a customer link can make the server do is bounded: a run is completed (and its webhook fired) only when it
/// started and has results; server probes start once per run and for at most a fixed number of runs per link.
/// </summary>
public class LinkBoundsTests(PortalFixture fixture) : IClassFixture<PortalFixture>
{
    private readonly PortalFixture _fixture = fixture;

    [Fact]
    public async Task Complete_RunWithoutResults_RefusedAndNothingCreated()
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        using var client = _fixture.Portal.CreateClient(withApiKey: false);
        var invented = Guid.NewGuid();

        using var response = await client.PostAsJsonAsync($"/api/runs/{token}/complete", new { runId = invented, verdict = "All tests passed." });

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync()).ShouldContain("no results");
        (await _fixture.CountAsync("SELECT count(*) FROM runs WHERE session_id = $1", session)).ShouldBe(0);
        (await _fixture.CountAsync("SELECT count(*) FROM webhook_deliveries WHERE run_id = $1", invented)).ShouldBe(0);
    }

    [Fact]
    public async Task Observe_ManyObservationsAndInventedRuns_ProbesStartOncePerRunAndAtMostTheCap()
    {
        // A public address: the guard lets it through, and probe.dns reports at once that there is nothing to resolve.
        var target = "https://93.184.216.34/";
        var (session, token, _) = await _fixture.CreateSessionAsync(new { customerName = "Prober", targets = new[] { target } });
        using var hub = await RawHubClient.ConnectAsync(
            new Uri($"ws://{_fixture.Portal.BaseAddress.Authority}/hubs/run?access_token={token}"), _fixture.Portal.BaseAddress.GetLeftPart(UriPartial.Authority));
        var first = Guid.NewGuid();

        // One run observed three times, then 24 more invented runs: 25 runs in all, the cap is 20.
        for (var i = 0; i < 3; i++)
        {
            await hub.InvokeAsync("Observe", first, Guid.NewGuid(), null!);
        }

        for (var i = 0; i < 24; i++)
        {
            await hub.InvokeAsync("Observe", Guid.NewGuid(), Guid.NewGuid(), null!);
        }

        (await _fixture.CountAsync("SELECT count(*) FROM runs WHERE session_id = $1", session)).ShouldBe(25);
        (await _fixture.CountAsync("SELECT count(*) FROM runs WHERE session_id = $1 AND probes_started_at IS NOT NULL", session)).ShouldBe(20);
        // The first run's probes ran once: one probe.dns result for its one target.
        await Eventually.TrueAsync(async () => await _fixture.CountAsync("SELECT count(*) FROM results WHERE run_id = $1 AND step = 'probe.dns'", first) >= 1, "the first run's probes");
        (await _fixture.CountAsync("SELECT count(*) FROM results WHERE run_id = $1 AND step = 'probe.dns'", first)).ShouldBe(1);
    }
}
