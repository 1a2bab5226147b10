using System.Net;
using System.Text.RegularExpressions;
using Portal.Testing;
using Portal.Web.Tests.Features.Accounts;

namespace Portal.Web.Tests.Features.Operations;

/// <summary>A portal terminating TLS itself next to plain HTTP.</summary>
public sealed class HttpsPortalFixture : IAsyncLifetime
{
    public static readonly System.Net.IPAddress TrustedProxy = System.Net.IPAddress.Parse("127.0.0.2");

    public int HttpsPort { get; } = PortalProcess.FreePort();

    public PortalFixture Inner { get; private set; } = default!;

    public Task InitializeAsync()
    {
        var environment = TestCertificates.KestrelEnvironment($"http://127.0.0.1:{PortalProcess.FreePort()};https://localhost:{HttpsPort}");
        // A proxy of the portal's own that ends TLS in front of it, at 127.0.0.2.
        environment["Portal__TrustedProxies__0"] = TrustedProxy.ToString();
        Inner = new PortalFixture("https", environment);
        return Inner.InitializeAsync();
    }

    public Task DisposeAsync() => Inner.DisposeAsync();
}

/// <summary>
/// Deployment-grade defaults: over HTTPS the portal pins itself (HSTS) and its cookies are Secure; the console's
/// Content-Security-Policy allows no inline script, and its pages need none.
/// </summary>
public sealed partial class TransportSecurityTests(HttpsPortalFixture https) : IClassFixture<HttpsPortalFixture>
{
    private PortalProcess Portal => https.Inner.Portal;

    private HttpClient Https() => new(new HttpClientHandler
    {
        ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator,
        AllowAutoRedirect = false,
    })
    { BaseAddress = new Uri($"https://localhost:{https.HttpsPort}") };

    [Fact]
    public async Task OverHttps_StrictTransportSecurity_OverHttpOrOnLoopbackNames_None()
    {
        using var client = Https();
        using var named = new HttpRequestMessage(HttpMethod.Get, "/account/login");
        named.Headers.Host = "portal.example";

        using var overHttps = await client.SendAsync(named);
        using var onLocalhost = await client.GetAsync("/account/login");
        using var overHttp = await Portal.CreateClient(withApiKey: false).GetAsync("/account/login");

        overHttps.Headers.GetValues("Strict-Transport-Security").ShouldBe(["max-age=31536000"]);
        onLocalhost.Headers.Contains("Strict-Transport-Security").ShouldBeFalse();
        overHttp.Headers.Contains("Strict-Transport-Security").ShouldBeFalse();
    }

    [Fact]
    public async Task LogInOverHttps_TheConsoleCookieIsSecureAndHttpOnly()
    {
        using var browser = ConsoleClient.At(Portal, new Uri($"https://localhost:{https.HttpsPort}"));

        using var response = await browser.LogInAsync(PortalProcess.AdminEmail, PortalProcess.AdminPassword);

        response.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        var auth = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("portal.auth=", StringComparison.Ordinal));
        auth.ShouldContain("secure", Case.Insensitive);
        auth.ShouldContain("httponly", Case.Insensitive);
    }

    [Fact]
    public async Task ForwardedProto_FromTheTrustedProxy_MakesTheRequestHttps_FromAnyoneElse_Ignored()
    {
        using var viaProxy = From(HttpsPortalFixture.TrustedProxy);
        using var direct = Portal.CreateClient(withApiKey: false);

        using var trusted = await viaProxy.SendAsync(ForwardedHttps());
        using var untrusted = await direct.SendAsync(ForwardedHttps());

        trusted.Headers.GetValues("Strict-Transport-Security").ShouldBe(["max-age=31536000"]);
        untrusted.Headers.Contains("Strict-Transport-Security").ShouldBeFalse();

        static HttpRequestMessage ForwardedHttps()
        {
            var request = new HttpRequestMessage(HttpMethod.Get, "/account/login");
            request.Headers.Host = "portal.example";
            request.Headers.Add("X-Forwarded-Proto", "https");
            return request;
        }
    }

    /// <summary>A plain-HTTP client whose connections come from <paramref name="local"/> (a proxy's address on loopback).</summary>
    private HttpClient From(System.Net.IPAddress local) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            socket.Bind(new System.Net.IPEndPoint(local, 0));
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
            return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
        },
    })
    { BaseAddress = Portal.BaseAddress };

    [Theory]
    [InlineData("/account/login")]
    [InlineData("/sessions")]
    [InlineData("/admin")]
    public async Task ConsolePages_PolicyAllowsNoInlineScript_AndThePagesCarryNone(string path)
    {
        using var browser = ConsoleClient.Anonymous(Portal);
        (await browser.LogInAsync(PortalProcess.AdminEmail, PortalProcess.AdminPassword)).StatusCode.ShouldBe(HttpStatusCode.Redirect);

        using var response = await browser.Http.GetAsync(path);
        var html = await response.Content.ReadAsStringAsync();

        response.StatusCode.ShouldBe(HttpStatusCode.OK);

        var policy = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        var scriptSrc = policy.Split(';').Select(d => d.Trim()).Single(d => d.StartsWith("script-src ", StringComparison.Ordinal));
        scriptSrc.ShouldBe("script-src 'self'");
        policy.ShouldContain("frame-ancestors 'none'");
        policy.ShouldContain("object-src 'none'");
        InlineScript().IsMatch(html).ShouldBeFalse(html);
    }

    /// <summary>A script element without a src, or an inline event handler.</summary>
    [GeneratedRegex("<script(?![^>]*\\ssrc=)[^>]*>|\\son[a-z]+=\"", RegexOptions.IgnoreCase)]
    private static partial Regex InlineScript();
}
