using System.Net;
using Portal.Core.Sessions;

namespace Portal.Web.Tests.Features.CustomerLink;

public class CustomerLinkTests(PortalFixture fixture) : IClassFixture<PortalFixture>
{
    private readonly PortalFixture _fixture = fixture;

    [Fact]
    public async Task Get_ValidLink_PlainPageWithRunTestAndStrictHeaders()
    {
        var (_, _, url) = await _fixture.CreateSessionAsync(new { customerName = "Ada <script>" });
        using var client = _fixture.Portal.CreateClient(withApiKey: false);

        using var response = await client.GetAsync(url);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var html = await response.Content.ReadAsStringAsync();
        html.ShouldContain(">Run test</button>");
        html.ShouldContain("Ada &lt;script&gt;");
        html.ShouldNotContain("blazor.web.js");
        html.ShouldNotContain("://");
        response.Headers.GetValues("Content-Security-Policy").Single().ShouldContain("script-src 'self'");
        response.Headers.GetValues("Content-Security-Policy").Single().ShouldNotContain("unsafe-inline");
        response.Headers.GetValues("Referrer-Policy").Single().ShouldBe("no-referrer");
        response.Headers.CacheControl!.NoStore.ShouldBeTrue();
    }

    [Fact]
    public async Task Get_ThroughAReverseProxy_ListeningAddressesLeftOutOfTheBatteryWithTheReason()
    {
        var (_, _, url) = await _fixture.CreateSessionAsync();
        using var client = _fixture.Portal.CreateClient(withApiKey: false);
        using var proxied = new HttpRequestMessage(HttpMethod.Get, url);
        proxied.Headers.Add("X-Forwarded-Proto", "https");

        using var straight = await client.GetAsync(url);
        using var response = await client.SendAsync(proxied);

        (await straight.Content.ReadAsStringAsync()).ShouldNotContain("data-origins-skipped");
        var html = await response.Content.ReadAsStringAsync();
        html.ShouldContain("data-origins-skipped=\"The page came through a proxy in front of the portal");
        html.ShouldContain(_fixture.Portal.BaseAddress.GetLeftPart(UriPartial.Authority));
    }

    [Fact]
    public async Task Get_UnknownToken_FriendlyNotFoundPage()
    {
        using var client = _fixture.Portal.CreateClient(withApiKey: false);

        using var response = await client.GetAsync($"/t/{CapabilityToken.Create()}");

        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await response.Content.ReadAsStringAsync()).ShouldContain("Ask your support engineer for a new link");
    }

    [Fact]
    public async Task Get_ExpiredLink_410GonePage()
    {
        var (id, token, _) = await _fixture.CreateSessionAsync();
        await using (var command = _fixture.Database.CreateCommand("UPDATE sessions SET expires_at = now() - interval '1 minute' WHERE id = $1"))
        {
            command.Parameters.Add(new() { Value = id });
            (await command.ExecuteNonQueryAsync()).ShouldBe(1);
        }

        using var client = _fixture.Portal.CreateClient(withApiKey: false);

        using var response = await client.GetAsync($"/t/{token}");

        response.StatusCode.ShouldBe(HttpStatusCode.Gone);
        (await response.Content.ReadAsStringAsync()).ShouldContain("This link has expired");
    }

    [Fact]
    public async Task GetKit_Script_ServedCompressedWithLongCacheUnderItsVersion()
    {
        var (_, _, url) = await _fixture.CreateSessionAsync();
        using var client = _fixture.Portal.CreateClient(withApiKey: false);
        var html = await client.GetStringAsync(url);
        var src = System.Text.RegularExpressions.Regex.Match(html, "src=\"(/kit/kit\\.js\\?v=[0-9a-f]+)\"").Groups[1].Value;
        using var request = new HttpRequestMessage(HttpMethod.Get, src);
        request.Headers.AcceptEncoding.ParseAdd("gzip");

        using var response = await client.SendAsync(request);

        src.ShouldNotBeEmpty();
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentEncoding.ShouldContain("gzip");
        response.Headers.CacheControl!.ToString().ShouldContain("immutable");
        response.Content.Headers.ContentType!.MediaType.ShouldBe("text/javascript");
    }
}
