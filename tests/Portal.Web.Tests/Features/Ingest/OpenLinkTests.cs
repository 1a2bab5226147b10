using System.Net.Http.Json;
using System.Text.Json;
using Portal.Testing;

namespace Portal.Web.Tests.Features.Ingest;

/// <summary>
/// A link's revocation, expiry and its session's closing reach the customer connections already open: on the
/// instance that revoked it and on every other, the hub connection is closed and stores nothing more.
/// </summary>
public class OpenLinkTests(PortalFixture fixture) : IClassFixture<PortalFixture>
{
    private readonly PortalFixture _fixture = fixture;

    [Theory]
    [InlineData("revoke-link")]
    [InlineData("close")]
    public async Task RevokedOrClosed_WhileHubOpen_ConnectionClosedAndNothingMoreStored(string action)
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        using var hub = await ConnectAsync(_fixture.Portal, token);
        var run = Guid.NewGuid();
        (await hub.InvokeAsync("Report", new { id = Guid.NewGuid(), runId = run, step = "ws.echo", status = "pass" })).TryGetProperty("result", out _).ShouldBeTrue();

        using var api = _fixture.Portal.CreateClient();
        (await api.PostAsync($"/api/v1/sessions/{session}/{action}", null)).EnsureSuccessStatusCode();

        (await hub.ClosedByServerAsync(TimeSpan.FromSeconds(10))).ShouldBeTrue("the open hub connection was not closed");
        (await _fixture.CountAsync("SELECT count(*) FROM results WHERE session_id = $1 AND step = 'ws.echo'", session)).ShouldBe(1);
    }

    [Fact]
    public async Task RevokedOnAnotherInstance_HubOpenHere_ConnectionClosed()
    {
        await using var other = await PortalProcess.StartAsync("open-link-b", connectionString: _fixture.Portal.ConnectionString);
        var (session, token, _) = await _fixture.CreateSessionAsync();
        using var hub = await ConnectAsync(other, token);
        (await hub.InvokeAsync("Ping")).TryGetProperty("result", out _).ShouldBeTrue();

        using var api = _fixture.Portal.CreateClient();
        (await api.PostAsync($"/api/v1/sessions/{session}/revoke-link", null)).EnsureSuccessStatusCode();

        (await hub.ClosedByServerAsync(TimeSpan.FromSeconds(10))).ShouldBeTrue("the other instance kept the revoked link's connection open");
    }

    [Fact]
    public async Task RunAgain_ThroughTheApiOfAnotherInstance_ReachesTheOpenPage_ClosedIs409_UnknownIs404()
    {
        await using var other = await PortalProcess.StartAsync("open-link-c", connectionString: _fixture.Portal.ConnectionString);
        var (session, token, _) = await _fixture.CreateSessionAsync();
        using var hub = await ConnectAsync(other, token);
        (await hub.InvokeAsync("Ping")).TryGetProperty("result", out _).ShouldBeTrue();
        using var api = _fixture.Portal.CreateClient();

        using (var accepted = await api.PostAsync($"/api/v1/sessions/{session}/run-again", null))
        {
            accepted.StatusCode.ShouldBe(System.Net.HttpStatusCode.Accepted);
        }

        (await hub.InvokedAsync("RunAgain", TimeSpan.FromSeconds(10))).ShouldBeTrue("the page on the other instance was not asked to run again");

        using (var unknown = await api.PostAsync($"/api/v1/sessions/{Guid.NewGuid()}/run-again", null))
        {
            unknown.StatusCode.ShouldBe(System.Net.HttpStatusCode.NotFound);
            (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString().ShouldBe("No session has this id.");
        }

        (await api.PostAsync($"/api/v1/sessions/{session}/close", null)).EnsureSuccessStatusCode();
        using var closed = await api.PostAsync($"/api/v1/sessions/{session}/run-again", null);
        closed.StatusCode.ShouldBe(System.Net.HttpStatusCode.Conflict);
        (await closed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()!.ShouldContain("reopen the session");
    }

    [Fact]
    public async Task ExpiredWithoutAnyAnnouncement_NextInvocationRefusedAndRecorded()
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        using var hub = await ConnectAsync(_fixture.Portal, token);
        var run = Guid.NewGuid();
        (await hub.InvokeAsync("Report", new { id = Guid.NewGuid(), runId = run, step = "ws.echo", status = "pass" })).TryGetProperty("result", out _).ShouldBeTrue();

        // The link's time runs out: nothing announces it, the next invocations must notice (the state is cached ≤ 1 s).
        await _fixture.CountAsync("WITH u AS (UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = $1 RETURNING 1) SELECT count(*) FROM u", session);
        JsonElement answer = default;
        await Eventually.TrueAsync(
            async () =>
            {
                answer = await hub.InvokeAsync("Report", new { id = Guid.NewGuid(), runId = run, step = "http.ping", status = "pass" });
                return answer.TryGetProperty("error", out _);
            },
            "an invocation to be refused after the link expired");

        answer.GetProperty("error").GetString()!.ShouldContain("no longer works");
        (await _fixture.CountAsync("SELECT count(*) FROM results WHERE session_id = $1 AND step = 'server.refusal' AND detail->>'reason' = 'link-expired'", session)).ShouldBe(1);
    }

    private static Task<RawHubClient> ConnectAsync(PortalProcess portal, string token) =>
        RawHubClient.ConnectAsync(new Uri($"ws://{portal.BaseAddress.Authority}/hubs/run?access_token={token}"), portal.BaseAddress.GetLeftPart(UriPartial.Authority));
}
