using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Portal.Testing;

namespace Portal.Web.Tests.Features.Findings;

public class FindingsTests(PortalFixture fixture) : IClassFixture<PortalFixture>
{
    private readonly PortalFixture _fixture = fixture;

    private async Task<JsonElement> SessionAsync(Guid id)
    {
        using var api = _fixture.Portal.CreateClient();
        return await api.GetFromJsonAsync<JsonElement>($"/api/v1/sessions/{id}");
    }

    private static string[] Codes(JsonElement session) => [.. session.GetProperty("findings").EnumerateArray().Select(f => f.GetProperty("code").GetString()!)];

    [Fact]
    public async Task Ingest_QuietSocketCut_IdleTimeoutStoredWithEvidenceAndFix()
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        var run = Guid.NewGuid();

        var idle = await _fixture.PostResultAsync(token, run, "ws.idle", "fail", new { idleSeconds = 90, survived = 0, diedAfterSeconds = 60.2, closeCode = 1006 });

        await _fixture.WaitForFindingsAsync(session, "idle-timeout");
        var finding = (await SessionAsync(session)).GetProperty("findings").EnumerateArray().Single(f => f.GetProperty("code").GetString() == "idle-timeout");
        finding.GetProperty("severity").GetString().ShouldBe("warning");
        finding.GetProperty("summary").GetString()!.ShouldContain("after about 60 s");
        finding.GetProperty("recommendation").GetString()!.ShouldContain("proxy_read_timeout");
        finding.GetProperty("runId").GetGuid().ShouldBe(run);
        var evidence = finding.GetProperty("evidence")[0];
        evidence.GetProperty("resultId").GetGuid().ShouldBe(idle);
        evidence.GetProperty("figures").GetProperty("diedAfterSeconds").GetDouble().ShouldBe(60.2);
    }

    [Fact]
    public async Task Ingest_EachResult_FindingsReevaluatedAndAllClearOnlyOnceComplete()
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        var run = Guid.NewGuid();

        await _fixture.PostResultAsync(token, run, "env", "warn", new { clockSkewMs = 600_000 });
        await _fixture.WaitForFindingsAsync(session, "clock-skew");
        await _fixture.PostResultAsync(token, run, "env", "pass", new { clockSkewMs = 20 });
        await _fixture.WaitForFindingsAsync(session);
        await _fixture.PostCleanRunAsync(token, run);
        await _fixture.WaitForFindingsAsync(session, "all-clear");

        (await _fixture.CountAsync("SELECT count(*) FROM findings WHERE run_id = $1 AND code = 'all-clear'", run)).ShouldBe(1);
    }

    [Fact]
    public async Task Ingest_FindingsChange_WatchersAreNotified()
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        var run = Guid.NewGuid();
        await using var connection = await _fixture.Database.OpenConnectionAsync();
        var kinds = new System.Collections.Concurrent.ConcurrentQueue<string>();
        connection.Notification += (_, e) =>
        {
            var json = JsonDocument.Parse(e.Payload).RootElement;
            if (json.GetProperty("sessionId").GetGuid() == session)
            {
                kinds.Enqueue(json.GetProperty("kind").GetString()!);
            }
        };
        await using (var listen = new NpgsqlCommand("LISTEN portal_events", connection))
        {
            await listen.ExecuteNonQueryAsync();
        }

        await _fixture.PostResultAsync(token, run, "http.cors", "fail", new { plainOk = 1, credentialedOk = 0 });

        await Eventually.TrueAsync(async () =>
        {
            await connection.WaitAsync(TimeSpan.FromMilliseconds(200));
            return kinds.Contains("findings");
        }, "a findings event for the session", TimeSpan.FromSeconds(10));
        Codes(await SessionAsync(session)).ShouldBe(["cors-credentials-blocked"]);
    }
}
