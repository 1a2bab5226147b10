using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Portal.Core.Sessions;
using Portal.Testing;

namespace Portal.Web.Tests.Features.CustomerLink;

/// <summary>
/// Guessing capability links: a few unknown tokens from one address, and that address gets 429 on every link path;
/// other addresses are not affected. The test client plays a trusted proxy, so <c>X-Forwarded-For</c> names the
/// customer's address.
/// </summary>
public sealed class LinkGuessingTests : IAsyncLifetime
{
    private PortalProcess _portal = default!;

    public async Task InitializeAsync() => _portal = await PortalProcess.StartAsync("guessing", new Dictionary<string, string>
    {
        ["Portal__Limits__LinkMissesPerAddress"] = "3",
        ["Portal__TrustedProxies__0"] = "127.0.0.1",
    });

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Fact]
    public async Task UnknownLinks_AfterThreeMisses429ForThatAddressOnlyOthersStillServed()
    {
        var (_, token, _) = await _portal.CreateSessionAsync(new { customerName = "Guessing" });
        using var client = _portal.CreateClient(withApiKey: false);

        // Three misses, on three different link paths.
        (await SendAsync(client, HttpMethod.Get, $"/t/{CapabilityToken.Create()}", "203.0.113.7")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await SendAsync(client, HttpMethod.Post, $"/api/runs/{CapabilityToken.Create()}/results", "203.0.113.7")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await SendAsync(client, HttpMethod.Get, $"/shared/{CapabilityToken.Create()}", "203.0.113.7")).StatusCode.ShouldBe(HttpStatusCode.NotFound);

        using var blocked = await SendAsync(client, HttpMethod.Get, $"/t/{token}", "203.0.113.7");
        using var other = await SendAsync(client, HttpMethod.Get, $"/t/{token}", "198.51.100.20");

        blocked.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        blocked.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        blocked.Headers.RetryAfter.ShouldNotBeNull();
        other.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task KnownLinks_NeverCountAsMisses()
    {
        var (_, token, _) = await _portal.CreateSessionAsync(new { customerName = "Regular" });
        using var client = _portal.CreateClient(withApiKey: false);

        for (var i = 0; i < 6; i++)
        {
            (await SendAsync(client, HttpMethod.Get, $"/t/{token}", "192.0.2.44")).StatusCode.ShouldBe(HttpStatusCode.OK);
        }
    }

    [Fact]
    public async Task RevokedLinkStillRetrying_NotCountedAsGuessesNewLinkStillOpens()
    {
        // A customer's old page keeps retrying with a link the engineer revoked; the new link must still open.
        using var api = _portal.CreateClient();
        var (oldSession, old, _) = await _portal.CreateSessionAsync(new { customerName = "Old link" });
        (await api.PostAsync($"/api/v1/sessions/{oldSession}/revoke-link", null)).EnsureSuccessStatusCode();
        var (_, fresh, _) = await _portal.CreateSessionAsync(new { customerName = "New link" });
        using var client = _portal.CreateClient(withApiKey: false);

        for (var i = 0; i < 5; i++)
        {
            (await SendAsync(client, HttpMethod.Post, $"/api/runs/{old}/results", "192.0.2.77")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        }

        (await SendAsync(client, HttpMethod.Get, $"/t/{old}", "192.0.2.77")).StatusCode.ShouldBe(HttpStatusCode.Gone);
        (await SendAsync(client, HttpMethod.Get, $"/t/{fresh}", "192.0.2.77")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, string address)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Add("X-Forwarded-For", address);
        if (method == HttpMethod.Post)
        {
            request.Content = JsonContent.Create(new { id = Guid.NewGuid(), runId = Guid.NewGuid(), step = "ws.echo", status = "pass" });
        }

        return await client.SendAsync(request);
    }
}
