using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Portal.Testing;

namespace Portal.Web.Tests.Features.Probes;

/// <summary>
/// One slow target cannot hold the probe workers: a job whose target another job is still probing is put off (it
/// comes back a second later) instead of waiting in its worker slot, so a third job for another target runs at once.
/// </summary>
public sealed class ProbeQueueTests : IAsyncLifetime
{
    private readonly PortalFixture _fixture = new("probe-queue", new Dictionary<string, string>
    {
        ["Portal__Probes__AllowList__0"] = "127.0.0.1/32",
        ["Portal__Probes__Concurrency"] = "2",
        ["Portal__Probes__HandshakeTimeout"] = "00:00:20",
    });

    // A TLS server that accepts and never answers the ClientHello: its probe holds the target for the handshake time-out.
    private readonly SilentTcpServer _silent = new();

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public async Task DisposeAsync()
    {
        await _silent.DisposeAsync();
        await _fixture.DisposeAsync();
    }

    [Fact]
    public async Task TwoJobsForOneSilentTarget_AThirdJobForAnotherTarget_RunsAtOnce()
    {
        var (session, _, _) = await _fixture.CreateSessionAsync();
        var silent = $"https://127.0.0.1:{_silent.Port}/";
        await ProbeAsync(session, silent);
        await ProbeAsync(session, silent);

        var other = await ProbeAsync(session, $"http://127.0.0.1:{_fixture.Portal.BaseAddress.Port}/diag/ping");

        // Without the fix both workers sit on the silent target (one probing it, one waiting for it) for 20 s.
        var started = DateTime.UtcNow;
        await Eventually.TrueAsync(
            async () => await _fixture.CountAsync("SELECT count(*) FROM results WHERE run_id = $1 AND step = 'probe.http'", other) == 1,
            "the other target's probe to finish", TimeSpan.FromSeconds(10));
        (DateTime.UtcNow - started).ShouldBeLessThan(TimeSpan.FromSeconds(10));
    }

    private async Task<Guid> ProbeAsync(Guid session, string target)
    {
        using var api = _fixture.Portal.CreateClient();
        using var response = await api.PostAsJsonAsync($"/api/v1/sessions/{session}/probes", new { targets = new[] { target } });
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("runId").GetGuid();
    }
}

/// <summary>
/// A job holds its worker slot for at most <c>Portal:Probes:JobDeadline</c>, all targets together; what is cut off is
/// recorded on the run as <c>probe.deadline</c>, so the engineer reads why results are missing.
/// </summary>
public sealed class ProbeDeadlineTests : IAsyncLifetime
{
    private readonly PortalFixture _fixture = new("probe-deadline", new Dictionary<string, string>
    {
        ["Portal__Probes__AllowList__0"] = "127.0.0.1/32",
        ["Portal__Probes__HandshakeTimeout"] = "00:00:30",
        ["Portal__Probes__JobDeadline"] = "00:00:04",
    });

    // A TLS server that accepts and never answers: its probe would wait for the 30 s handshake time-out.
    private readonly SilentTcpServer _silent = new();

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public async Task DisposeAsync()
    {
        await _silent.DisposeAsync();
        await _fixture.DisposeAsync();
    }

    [Fact]
    public async Task SilentTarget_TheJobStopsAtItsDeadline_AndTheRunSaysSo()
    {
        var (session, _, _) = await _fixture.CreateSessionAsync();
        var target = $"https://127.0.0.1:{_silent.Port}/";
        using var api = _fixture.Portal.CreateClient();
        using var response = await api.PostAsJsonAsync($"/api/v1/sessions/{session}/probes", new { targets = new[] { target } });
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var run = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("runId").GetGuid();

        // Without the deadline the handshake alone holds the worker for 30 s.
        await Eventually.TrueAsync(async () => await _fixture.CountAsync("SELECT count(*) FROM runs WHERE id = $1 AND status = 'completed'", run) == 1, "the run completes", TimeSpan.FromSeconds(15));
        await using var read = _fixture.Database.CreateCommand("SELECT detail->>'summary' FROM results WHERE run_id = $1 AND step = 'probe.deadline'");
        read.Parameters.Add(new() { Value = run });
        var summary = (string?)await read.ExecuteScalarAsync();
        summary.ShouldNotBeNull();
        summary.ShouldContain("Portal__Probes__JobDeadline");
        summary.ShouldContain(target);
    }
}
