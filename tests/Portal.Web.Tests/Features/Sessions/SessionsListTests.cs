using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Portal.Testing;

namespace Portal.Web.Tests.Features.Sessions;

public class SessionsListTests(PortalFixture fixture) : IClassFixture<PortalFixture>
{
    private readonly PortalFixture _fixture = fixture;

    private async Task<Guid[]> ListAsync(string query)
    {
        using var api = _fixture.Portal.CreateClient();
        var page = await api.GetFromJsonAsync<JsonElement>($"/api/v1/sessions?{query}");
        return [.. page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetGuid())];
    }

    private Task WaitForCodesAsync(Guid session, params string[] codes) =>
        Eventually.TrueAsync(async () => (await _fixture.FindingCodesAsync(session)).Order().SequenceEqual(codes.Order()), $"the session's findings to be {string.Join(", ", codes)}");

    [Fact]
    public async Task List_Filters_OnlyMatchingSessionsNewestFirst()
    {
        var marker = Guid.NewGuid().ToString("N")[..8];
        var (plain, _, _) = await _fixture.CreateSessionAsync(new { customerName = $"Plain {marker}", ticketRef = $"P-{marker}" });
        var (idle, idleToken, _) = await _fixture.CreateSessionAsync(new { customerName = $"Idle {marker}", ticketRef = $"I-{marker}" });
        var (closed, _, _) = await _fixture.CreateSessionAsync(new { customerName = $"Closed {marker}", ticketRef = $"C-{marker}" });
        await _fixture.PostResultAsync(idleToken, Guid.NewGuid(), "ws.idle", "fail", new { idleSeconds = 90, survived = 0, diedAfterSeconds = 60 });
        await _fixture.WaitForFindingsAsync(idle, "idle-timeout");
        using var api = _fixture.Portal.CreateClient();
        (await api.PostAsync($"/api/v1/sessions/{closed}/close", null)).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        var all = await ListAsync($"search={marker}");
        var byTicket = await ListAsync($"ticket=I-{marker}");
        var byFinding = await ListAsync($"search={marker}&finding=idle-timeout");
        var byStatus = await ListAsync($"search={marker}&status=closed");
        var wildcard = await ListAsync("search=%25%25%25nothing%25");
        var firstOnly = await ListAsync($"search={marker}&take=1");

        all.ShouldBe([closed, idle, plain]);
        byTicket.ShouldBe([idle]);
        byFinding.ShouldBe([idle]);
        byStatus.ShouldBe([closed]);
        wildcard.ShouldBeEmpty();
        firstOnly.ShouldBe([closed]);
    }

    [Fact]
    public async Task List_Findings_TheNewestRunsMostSeriousFirst()
    {
        var marker = Guid.NewGuid().ToString("N")[..8];
        var (fixedLater, fixedToken, _) = await _fixture.CreateSessionAsync(new { customerName = $"Fixed {marker}" });
        var (brokeLater, brokeToken, _) = await _fixture.CreateSessionAsync(new { customerName = $"Broke {marker}" });

        // Fixed: a run cut after 60 s idle, then a clean one. Broke: a clean run, then one with two problems.
        var cut = Guid.NewGuid();
        await _fixture.PostResultAsync(fixedToken, cut, "ws.idle", "fail", new { idleSeconds = 90, survived = 0, diedAfterSeconds = 60 });
        await _fixture.CompleteRunAsync(fixedToken, cut);
        await _fixture.WaitForFindingsAsync(fixedLater, "idle-timeout");
        await _fixture.PostCleanRunAsync(fixedToken, Guid.NewGuid());
        await WaitForCodesAsync(fixedLater, "idle-timeout", "all-clear");
        await _fixture.PostCleanRunAsync(brokeToken, Guid.NewGuid());
        await _fixture.WaitForFindingsAsync(brokeLater, "all-clear");
        var broken = Guid.NewGuid();
        await _fixture.PostResultAsync(brokeToken, broken, "sse", "warn", new { events = 10, bursts = 4, maxLagMs = 940 });
        await _fixture.PostResultAsync(brokeToken, broken, "ws.echo", "fail", new { openMs = 40, samples = 0, closeCode = 1006 });
        await _fixture.CompleteRunAsync(brokeToken, broken);
        await WaitForCodesAsync(brokeLater, "websocket-killed-after-open", "sse-buffered", "all-clear");

        using var api = _fixture.Portal.CreateClient();
        var page = await api.GetFromJsonAsync<JsonElement>($"/api/v1/sessions?search={marker}");
        var codes = page.GetProperty("items").EnumerateArray().ToDictionary(
            i => i.GetProperty("id").GetGuid(), i => i.GetProperty("findings").EnumerateArray().Select(c => $"{c.GetProperty("code").GetString()} {c.GetProperty("severity").GetString()}").ToArray());

        codes[fixedLater].ShouldBe(["all-clear info"]);
        codes[brokeLater].ShouldBe(["websocket-killed-after-open critical", "sse-buffered warning"]);
    }

    [Fact]
    public async Task List_UnknownStatus_400()
    {
        using var api = _fixture.Portal.CreateClient();

        using var response = await api.GetAsync("/api/v1/sessions?status=deleted");

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
    }
}
