using System.Net;
using System.Net.Http.Json;
using Portal.Testing;

namespace Portal.Web.Tests.Features.Admin;

/// <summary>Retention on its schedule: nobody presses "Delete old sessions now".</summary>
public sealed class RetentionScheduleTests : IAsyncLifetime
{
    private readonly PortalFixture _fixture = new("retention", new Dictionary<string, string> { ["Portal__Retention__SweepInterval"] = "00:00:01" });

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task RetentionSet_ScheduledSweep_DeletesOldSessionsWithTheirRunsAndKeepsRecentOnes()
    {
        var (old, oldToken, _) = await _fixture.CreateSessionAsync(new { customerName = "Old customer" });
        var (recent, recentToken, _) = await _fixture.CreateSessionAsync(new { customerName = "Recent customer" });
        await _fixture.PostCleanRunAsync(oldToken, Guid.NewGuid());
        await _fixture.PostCleanRunAsync(recentToken, Guid.NewGuid());
        await _fixture.CountAsync("WITH u AS (UPDATE sessions SET created_at = now() - interval '40 days' WHERE id = $1 RETURNING 1) SELECT count(*) FROM u", old);
        await Task.Delay(TimeSpan.FromSeconds(2));
        (await _fixture.CountAsync("SELECT count(*) FROM sessions WHERE id = $1", old)).ShouldBe(1, "without a retention period nothing is deleted");

        using var admin = _fixture.Portal.CreateClient();
        using var set = await admin.PutAsJsonAsync("/api/v1/admin/settings", new { retentionDays = 30 });
        set.StatusCode.ShouldBe(HttpStatusCode.OK);

        await Eventually.TrueAsync(async () => await _fixture.CountAsync("SELECT count(*) FROM sessions WHERE id = $1", old) == 0, "the scheduled sweep deletes the 40-day-old session");
        (await _fixture.CountAsync("SELECT count(*) FROM runs WHERE session_id = $1", old)).ShouldBe(0);
        (await _fixture.CountAsync("SELECT count(*) FROM results r JOIN runs u ON u.id = r.run_id WHERE u.session_id = $1", old)).ShouldBe(0);
        (await _fixture.CountAsync("SELECT count(*) FROM sessions WHERE id = $1", recent)).ShouldBe(1);
        (await _fixture.CountAsync("SELECT count(*) FROM runs WHERE session_id = $1", recent)).ShouldBe(1);
    }
}
