using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Portal.Web.Tests.Features.Ingest;

public class HttpIngestTests(PortalFixture fixture) : IClassFixture<PortalFixture>
{
    private readonly PortalFixture _fixture = fixture;

    private static object Result(Guid id, Guid runId, string step = "ws.echo") => new
    {
        id,
        runId,
        step,
        status = "pass",
        metrics = new { rttMedianMs = 1.5, samples = 10 },
        detail = new { summary = "fine" },
        clientTime = DateTimeOffset.UtcNow,
    };

    [Fact]
    public async Task PostResult_SentTwice_StoredOnceAndBothAcknowledged()
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        using var client = _fixture.Portal.CreateClient(withApiKey: false);
        var id = Guid.NewGuid();
        var run = Guid.NewGuid();

        using var first = await client.PostAsJsonAsync($"/api/runs/{token}/results", Result(id, run));
        using var second = await client.PostAsJsonAsync($"/api/runs/{token}/results", Result(id, run));

        first.StatusCode.ShouldBe(HttpStatusCode.OK);
        second.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("stored").GetBoolean().ShouldBeTrue();
        var again = await second.Content.ReadFromJsonAsync<JsonElement>();
        again.GetProperty("stored").GetBoolean().ShouldBeFalse();
        again.GetProperty("id").GetGuid().ShouldBe(id);
        (await _fixture.CountAsync("SELECT count(*) FROM results WHERE id = $1 AND session_id = $2 AND transport = 'http'", id, session)).ShouldBe(1);
        (await _fixture.CountAsync("SELECT count(*) FROM runs WHERE id = $1 AND session_id = $2 AND status = 'running'", run, session)).ShouldBe(1);
    }

    [Fact]
    public async Task PostComplete_AfterResults_RunCompletedWithVerdictInApi()
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        using var client = _fixture.Portal.CreateClient(withApiKey: false);
        var run = Guid.NewGuid();
        (await client.PostAsJsonAsync($"/api/runs/{token}/results", Result(Guid.NewGuid(), run))).EnsureSuccessStatusCode();

        using var response = await client.PostAsJsonAsync($"/api/runs/{token}/complete", new { runId = run, verdict = "All tests passed." });

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        using var api = _fixture.Portal.CreateClient();
        var detail = await api.GetFromJsonAsync<JsonElement>($"/api/v1/sessions/{session}");
        var runJson = detail.GetProperty("runs")[0];
        runJson.GetProperty("status").GetString().ShouldBe("completed");
        runJson.GetProperty("verdict").GetString().ShouldBe("All tests passed.");
        detail.GetProperty("results")[0].GetProperty("metrics").GetProperty("rttMedianMs").GetDouble().ShouldBe(1.5);
    }

    [Fact]
    public async Task PostComplete_ReadAtOnce_CompletedRunAlreadyHasItsFinalFindings()
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        using var client = _fixture.Portal.CreateClient(withApiKey: false);
        using var api = _fixture.Portal.CreateClient();
        var run = Guid.NewGuid();
        (await client.PostAsJsonAsync($"/api/runs/{token}/results", Result(Guid.NewGuid(), run))).EnsureSuccessStatusCode();

        using var response = await client.PostAsJsonAsync($"/api/runs/{token}/complete", new { runId = run, verdict = "All tests passed." });
        var detail = await api.GetFromJsonAsync<JsonElement>($"/api/v1/sessions/{session}");

        // Read the moment the completion is acknowledged: the run is completed and its all-clear (which only a
        // completed run can have) is already stored with it, not a second later.
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        detail.GetProperty("runs")[0].GetProperty("status").GetString().ShouldBe("completed");
        detail.GetProperty("findings").EnumerateArray().Select(f => f.GetProperty("code").GetString()).ShouldBe(["all-clear"]);
    }

    [Fact]
    public async Task PostResult_UnknownStep_StoredButFlagged()
    {
        var (_, token, _) = await _fixture.CreateSessionAsync();
        using var client = _fixture.Portal.CreateClient(withApiKey: false);
        var id = Guid.NewGuid();

        using var response = await client.PostAsJsonAsync($"/api/runs/{token}/results", Result(id, Guid.NewGuid(), step: "from.the-future"));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await _fixture.CountAsync("SELECT count(*) FROM results WHERE id = $1 AND NOT known_step", id)).ShouldBe(1);
    }

    [Theory]
    [InlineData("{\"id\": ")]
    [InlineData("[]")]
    [InlineData("{\"id\":\"00000000-0000-0000-0000-000000000000\",\"runId\":\"00000000-0000-0000-0000-000000000000\",\"step\":\"ws.echo\",\"status\":\"pass\"}")]
    [InlineData("{\"id\":\"7f0e4d6e-3c1b-4f43-9d0a-2c1f0b6a9e11\",\"runId\":\"7f0e4d6e-3c1b-4f43-9d0a-2c1f0b6a9e12\",\"step\":\"ws.echo\",\"status\":\"pass\",\"detail\":{\"x\":\"a\\u0000b\"}}")]
    public async Task PostResult_MalformedOrInvalid_400AndNothingStored(string body)
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        using var client = _fixture.Portal.CreateClient(withApiKey: false);

        using var response = await client.PostAsync($"/api/runs/{token}/results", new StringContent(body, Encoding.UTF8, "text/plain"));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        (await _fixture.CountAsync("SELECT count(*) FROM results WHERE session_id = $1", session)).ShouldBe(0);
        (await _fixture.CountAsync("SELECT count(*) FROM runs WHERE session_id = $1", session)).ShouldBe(0);
    }

    [Fact]
    public async Task PostResult_OverSizeLimit_413AndNothingStored()
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        using var client = _fixture.Portal.CreateClient(withApiKey: false);
        var huge = new { id = Guid.NewGuid(), runId = Guid.NewGuid(), step = "ws.echo", status = "pass", detail = new { blob = new string('x', 70_000) } };

        using var response = await client.PostAsJsonAsync($"/api/runs/{token}/results", huge);

        response.StatusCode.ShouldBe(HttpStatusCode.RequestEntityTooLarge);
        (await _fixture.CountAsync("SELECT count(*) FROM results WHERE session_id = $1", session)).ShouldBe(0);
    }

    [Fact]
    public async Task PostResult_OverSizeLimitDuringARun_RefusalRecordedAgainstTheRunNotTheMessage()
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        using var client = _fixture.Portal.CreateClient(withApiKey: false);
        var run = Guid.NewGuid();
        await _fixture.PostResultAsync(token, run, "http.ping", "pass", new { rttMedianMs = 2, samples = 10 });
        var huge = new { id = Guid.NewGuid(), runId = run, step = "ws.messages", status = "pass", detail = new { blob = new string('x', 70_000) } };

        using var response = await client.PostAsJsonAsync($"/api/runs/{token}/results", huge);

        response.StatusCode.ShouldBe(HttpStatusCode.RequestEntityTooLarge);
        (await _fixture.CountAsync("SELECT count(*) FROM results WHERE session_id = $1 AND step = 'ws.messages'", session)).ShouldBe(0);
        (await _fixture.CountAsync(
            "SELECT count(*) FROM results WHERE session_id = $1 AND run_id = $2 AND step = 'server.refusal' AND source = 'server' AND detail->>'reason' = 'too-large' AND (metrics->>'status')::int = 413",
            session, run)).ShouldBe(1);
    }

    [Fact]
    public async Task HubReport_OverTheHubsMessageLimit_ConnectionClosedAndRefusalRecorded()
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        var run = Guid.NewGuid();
        await _fixture.PostResultAsync(token, run, "http.ping", "pass", new { rttMedianMs = 2, samples = 10 });
        var origin = _fixture.Portal.BaseAddress.GetLeftPart(UriPartial.Authority);
        using var hub = await Portal.Testing.RawHubClient.ConnectAsync(new Uri($"ws://{_fixture.Portal.BaseAddress.Authority}/hubs/run?access_token={token}"), origin);

        var answer = await hub.InvokeAsync("Report", new { id = Guid.NewGuid(), runId = run, step = "ws.messages", status = "pass", detail = new { blob = new string('x', 70_000) } });

        // SignalR answers a message over its limit by closing the connection (type 7), not with a completion.
        answer.GetProperty("type").GetInt32().ShouldBe(7);
        await Portal.Testing.Eventually.TrueAsync(
            async () => await _fixture.CountAsync(
                "SELECT count(*) FROM results WHERE run_id = $1 AND step = 'server.refusal' AND detail->>'reason' = 'too-large' AND detail->>'transport' = 'websockets'", run) == 1,
            "the hub's refusal to be recorded");
        (await _fixture.CountAsync("SELECT count(*) FROM results WHERE session_id = $1 AND step = 'ws.messages'", session)).ShouldBe(0);
    }

    [Fact]
    public async Task PostResult_InvalidNamingAnUnknownRun_NoRunCreatedRefusalOnTheLatestRun()
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        using var client = _fixture.Portal.CreateClient(withApiKey: false);
        var run = Guid.NewGuid();
        await _fixture.PostResultAsync(token, run, "http.ping", "pass", new { rttMedianMs = 2, samples = 10 });

        using var response = await client.PostAsJsonAsync($"/api/runs/{token}/results", new { id = Guid.NewGuid(), runId = Guid.NewGuid(), step = "ws.echo", status = "maybe" });

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await _fixture.CountAsync("SELECT count(*) FROM runs WHERE session_id = $1", session)).ShouldBe(1);
        (await _fixture.CountAsync("SELECT count(*) FROM results WHERE run_id = $1 AND step = 'server.refusal' AND detail->>'reason' = 'invalid'", run)).ShouldBe(1);
    }

    [Fact]
    public async Task PostResult_SessionClosedWhilePageOpen_401AndTheRunSaysThePortalRefused()
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        using var client = _fixture.Portal.CreateClient(withApiKey: false);
        using var api = _fixture.Portal.CreateClient();
        var run = Guid.NewGuid();
        await _fixture.PostResultAsync(token, run, "http.ping", "pass", new { rttMedianMs = 2, samples = 10 });
        (await api.PostAsync($"/api/v1/sessions/{session}/close", null)).EnsureSuccessStatusCode();

        using var response = await client.PostAsJsonAsync($"/api/runs/{token}/results", Result(Guid.NewGuid(), run));

        response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        await _fixture.WaitForFindingsAsync(session, "portal-refused");
        (await _fixture.CountAsync(
            "SELECT count(*) FROM results WHERE run_id = $1 AND step = 'server.refusal' AND detail->>'reason' = 'link-expired' AND detail->>'summary' LIKE '%session was closed%'",
            run)).ShouldBe(1);
    }

    [Fact]
    public async Task PostResult_RunOfAnotherSession_RefusedAndNotStored()
    {
        var (_, tokenA, _) = await _fixture.CreateSessionAsync();
        var (sessionB, tokenB, _) = await _fixture.CreateSessionAsync();
        using var client = _fixture.Portal.CreateClient(withApiKey: false);
        var run = Guid.NewGuid();
        (await client.PostAsJsonAsync($"/api/runs/{tokenA}/results", Result(Guid.NewGuid(), run))).EnsureSuccessStatusCode();

        using var response = await client.PostAsJsonAsync($"/api/runs/{tokenB}/results", Result(Guid.NewGuid(), run));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await _fixture.CountAsync("SELECT count(*) FROM results WHERE session_id = $1", sessionB)).ShouldBe(0);
    }

    [Fact]
    public async Task PostResult_ExpiredOrUnknownLink_401()
    {
        var (id, token, _) = await _fixture.CreateSessionAsync();
        await using (var command = _fixture.Database.CreateCommand("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = $1"))
        {
            command.Parameters.Add(new() { Value = id });
            await command.ExecuteNonQueryAsync();
        }

        using var client = _fixture.Portal.CreateClient(withApiKey: false);

        using var expired = await client.PostAsJsonAsync($"/api/runs/{token}/results", Result(Guid.NewGuid(), Guid.NewGuid()));
        using var unknown = await client.PostAsJsonAsync($"/api/runs/{Portal.Core.Sessions.CapabilityToken.Create()}/results", Result(Guid.NewGuid(), Guid.NewGuid()));

        expired.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        unknown.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await _fixture.CountAsync("SELECT count(*) FROM results WHERE session_id = $1", id)).ShouldBe(0);
    }
}
