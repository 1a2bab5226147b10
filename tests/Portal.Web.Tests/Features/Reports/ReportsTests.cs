using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Portal.Web.Tests.Features.Reports;

public class ReportsTests(PortalFixture fixture) : IClassFixture<PortalFixture>
{
    private readonly PortalFixture _fixture = fixture;

    [Fact]
    public async Task Report_Json_SessionRunsResultsAndFindings()
    {
        var (session, token, _) = await _fixture.CreateSessionAsync(new { customerName = "Acme Report" });
        var run = Guid.NewGuid();
        await _fixture.PostCleanRunAsync(token, run);
        await _fixture.WaitForFindingsAsync(session, "all-clear");
        using var api = _fixture.Portal.CreateClient();

        var report = await api.GetFromJsonAsync<JsonElement>($"/api/v1/sessions/{session}/report?format=json");

        report.GetProperty("customerName").GetString().ShouldBe("Acme Report");
        report.GetProperty("runs")[0].GetProperty("status").GetString().ShouldBe("completed");
        report.GetProperty("results").GetArrayLength().ShouldBe(4);
        report.GetProperty("findings")[0].GetProperty("code").GetString().ShouldBe("all-clear");
    }

    [Fact]
    public async Task Report_Html_SelfContainedPageWithFindingsAndNoExternalReference()
    {
        var (session, token, _) = await _fixture.CreateSessionAsync(new { customerName = "Acme <Html> & Co" });
        var run = Guid.NewGuid();
        await _fixture.PostResultAsync(token, run, "ws.idle", "fail", new { idleSeconds = 90, survived = 0, diedAfterSeconds = 30 });
        await _fixture.WaitForFindingsAsync(session, "idle-timeout");
        using var api = _fixture.Portal.CreateClient();

        using var response = await api.GetAsync($"/api/v1/sessions/{session}/report?format=html");
        var html = await response.Content.ReadAsStringAsync();

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("text/html");
        response.Headers.GetValues("Content-Security-Policy").Single().ShouldStartWith("default-src 'none'");
        html.ShouldContain("Acme &lt;Html&gt; &amp; Co");
        html.ShouldContain("idle-timeout");
        html.ShouldContain("after about 30 s");
        html.ShouldNotContain("<script", Case.Insensitive);
        html.ShouldNotContain("src=", Case.Insensitive);
        html.ShouldNotContain("href=", Case.Insensitive);
        html.ShouldNotContain("url(", Case.Insensitive);
        html.ShouldNotContain("@import", Case.Insensitive);
    }

    [Fact]
    public async Task Report_UnknownFormat_ProblemDetails400()
    {
        var (session, _, _) = await _fixture.CreateSessionAsync();
        using var api = _fixture.Portal.CreateClient();

        using var response = await api.GetAsync($"/api/v1/sessions/{session}/report?format=pdf");

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()!.ShouldContain("json or html");
    }

    [Fact]
    public async Task ShareLink_CreatedThenRevoked_ReadableThenGone()
    {
        var (session, _, _) = await _fixture.CreateSessionAsync(new { customerName = "Shared Customer" });
        using var api = _fixture.Portal.CreateClient();
        using var anonymous = _fixture.Portal.CreateClient(withApiKey: false);

        using var created = await api.PostAsJsonAsync($"/api/v1/sessions/{session}/share-links", new { hours = 24 });
        var link = await created.Content.ReadFromJsonAsync<JsonElement>();
        var url = new Uri(link.GetProperty("url").GetString()!);
        using var before = await anonymous.GetAsync(url.PathAndQuery);
        using var revoked = await api.DeleteAsync($"/api/v1/sessions/{session}/share-links/{link.GetProperty("id").GetGuid()}");
        using var after = await anonymous.GetAsync(url.PathAndQuery);

        created.StatusCode.ShouldBe(HttpStatusCode.Created);
        url.Segments[^1].Length.ShouldBe(43);
        before.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await before.Content.ReadAsStringAsync()).ShouldContain("Shared Customer");
        before.Headers.GetValues("Referrer-Policy").Single().ShouldBe("no-referrer");
        revoked.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        after.StatusCode.ShouldBe(HttpStatusCode.Gone);
        (await after.Content.ReadAsStringAsync()).ShouldNotContain("Shared Customer");
        (await _fixture.CountAsync("SELECT count(*) FROM share_links WHERE session_id = $1 AND revoked_at IS NOT NULL", session)).ShouldBe(1);
    }

    [Fact]
    public async Task ShareLink_Expired_Gone()
    {
        var (session, _, _) = await _fixture.CreateSessionAsync(new { customerName = "Expiring Customer" });
        using var api = _fixture.Portal.CreateClient();
        using var anonymous = _fixture.Portal.CreateClient(withApiKey: false);
        using var created = await api.PostAsJsonAsync($"/api/v1/sessions/{session}/share-links", new { hours = 1 });
        var link = await created.Content.ReadFromJsonAsync<JsonElement>();
        var path = new Uri(link.GetProperty("url").GetString()!).PathAndQuery;
        using var fresh = await anonymous.GetAsync(path);

        // An hour later, as far as the link is concerned.
        await _fixture.CountAsync("WITH u AS (UPDATE share_links SET expires_at = now() - interval '1 second' WHERE session_id = $1 RETURNING 1) SELECT count(*) FROM u", session);
        using var expired = await anonymous.GetAsync(path);

        fresh.StatusCode.ShouldBe(HttpStatusCode.OK);
        expired.StatusCode.ShouldBe(HttpStatusCode.Gone);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(721)]
    public async Task ShareLink_LifetimeOutOfRange_400(int hours)
    {
        var (session, _, _) = await _fixture.CreateSessionAsync();
        using var api = _fixture.Portal.CreateClient();

        using var response = await api.PostAsJsonAsync($"/api/v1/sessions/{session}/share-links", new { hours });

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await _fixture.CountAsync("SELECT count(*) FROM share_links WHERE session_id = $1", session)).ShouldBe(0);
    }

    [Fact]
    public async Task ShareLink_UnknownToken_404()
    {
        using var anonymous = _fixture.Portal.CreateClient(withApiKey: false);

        using var response = await anonymous.GetAsync($"/shared/{Portal.Core.Sessions.CapabilityToken.Create()}");

        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }
}
