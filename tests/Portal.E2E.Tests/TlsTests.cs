using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Portal.Testing;

namespace Portal.E2E.Tests;

/// <summary>
/// The portal terminating TLS itself (Kestrel with a certificate made in the test) next to plain HTTP, both on
/// <c>localhost</c> so that Chromium sends SNI: what the portal reads from the customer's ClientHello, and the
/// WebSocket variants between <c>ws://</c> and <c>wss://</c>.
/// </summary>
public sealed class TlsTests() : BrowserTest("tls", Environment)
{
    private static readonly int s_httpPort = PortalProcess.FreePort();
    private static readonly int s_httpsPort = PortalProcess.FreePort();

    private static Dictionary<string, string> Environment => TestCertificates.KestrelEnvironment($"http://localhost:{s_httpPort};https://localhost:{s_httpsPort}");

    // The certificate is made in the test and trusted by nobody; Chromium is told to accept it (lab only).
    protected override string[] BrowserArguments => ["--ignore-certificate-errors"];

    [Fact]
    public async Task RunTest_OverHttps_ServerReadsClientHelloThatFitsChromium()
    {
        var (session, link) = await CreateSessionAsync("TLS");
        var page = await (await Browser.NewContextAsync()).NewPageAsync();

        await page.GotoAsync(Https(link) + "?steps=env,ws.echo,ws.variants");
        await page.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await page.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 30_000 });

        var results = await ResultsAsync(session);
        results["ws.echo"].Status.ShouldBe("pass");
        var connection = results["server.connection"].Detail;
        connection.GetProperty("tlsProtocol").GetString().ShouldBe("Tls13");
        connection.GetProperty("sniSent").GetBoolean().ShouldBeTrue();
        connection.GetProperty("serverName").GetString().ShouldBe("localhost");
        connection.GetProperty("alpnOffered").EnumerateArray().Select(a => a.GetString()).ShouldContain("h2");
        connection.GetProperty("ja4").GetString()!.ShouldMatch("^t13d[0-9]{4}h2_8daaf6152771_[0-9a-f]{12}$");
        connection.GetProperty("browserFamily").GetString().ShouldBe("Chromium");
        connection.GetProperty("fingerprintFitsBrowser").GetBoolean().ShouldBeTrue();
        results["server.connection"].Status.ShouldBe("pass");
        // From an https page the browser may not open ws://: the variant is named, not counted as a failure.
        var variants = results["ws.variants"];
        variants.Status.ShouldBe("skipped");
        variants.Detail.GetProperty("variants")[0].GetProperty("tried").GetBoolean().ShouldBeFalse();
        variants.Detail.GetProperty("variants")[0].GetProperty("url").GetString().ShouldBe($"ws://localhost:{s_httpPort}/diag/ws/echo");
    }

    [Fact]
    public async Task RunTest_OverHttp_WebSocketVariantOverWssWorks()
    {
        var (session, link) = await CreateSessionAsync("Plain");
        var page = await (await Browser.NewContextAsync()).NewPageAsync();

        await page.GotoAsync(Http(link) + "?steps=ws.echo,ws.variants");
        await page.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await page.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 30_000 });

        var results = await ResultsAsync(session);
        var variants = results["ws.variants"];
        variants.Status.ShouldBe("pass", variants.Detail.ToString());
        variants.Metrics.GetProperty("wssOk").GetInt32().ShouldBe(1);
        variants.Metrics.GetProperty("wsOk").ValueKind.ShouldBe(JsonValueKind.Null);
        variants.Detail.GetProperty("variants")[0].GetProperty("url").GetString().ShouldBe($"wss://localhost:{s_httpsPort}/diag/ws/echo");
        results["server.connection"].Detail.GetProperty("tlsProtocol").ValueKind.ShouldBe(JsonValueKind.Null);
    }

    [Fact]
    public async Task Observe_NonBrowserTlsStackWithChromeUserAgent_DoesNotFit()
    {
        // What a TLS-inspecting proxy does: re-make the connection with its own TLS stack, keeping the browser's
        // User-Agent. Here .NET's stack (OpenSSL on Linux) plays the proxy.
        var (session, link) = await CreateSessionAsync("Intercepted");
        var token = link.Split("/t/")[1];
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator };
        using var client = new HttpClient(handler) { BaseAddress = new Uri($"https://localhost:{s_httpsPort}") };
        client.DefaultRequestHeaders.UserAgent.ParseAdd("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36");

        using var response = await client.PostAsJsonAsync($"/api/runs/{token}/observe", new { runId = Guid.NewGuid(), id = Guid.NewGuid() });

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var connection = (await ResultsAsync(session))["server.connection"];
        connection.Status.ShouldBe("warn", connection.Detail.GetProperty("ja4").GetString());
        connection.Detail.GetProperty("fingerprintFitsBrowser").ValueKind.ShouldBe(JsonValueKind.False, connection.Detail.GetProperty("ja4").GetString());
        connection.Detail.GetProperty("expectedTlsStack").GetString().ShouldBe("BoringSSL");
        connection.Detail.GetProperty("ja4").GetString()!.Split('_')[1].ShouldNotBe("8daaf6152771");
        connection.Detail.GetProperty("summary").GetString()!.ShouldContain("re-made the connection");
        connection.Metrics.GetProperty("fingerprintFitsBrowser").GetInt32().ShouldBe(0);
    }

    private static string Https(string link) => new UriBuilder(link) { Scheme = "https", Host = "localhost", Port = s_httpsPort }.Uri.ToString();

    private static string Http(string link) => new UriBuilder(link) { Scheme = "http", Host = "localhost", Port = s_httpPort }.Uri.ToString();

    private async Task<Dictionary<string, (string Status, JsonElement Metrics, JsonElement Detail)>> ResultsAsync(Guid session) =>
        (await QueryAsync(
            "SELECT step, status, metrics::text, detail::text FROM results WHERE session_id = $1",
            r => (Step: r.GetString(0), Status: r.GetString(1), Metrics: JsonDocument.Parse(r.GetString(2)).RootElement, Detail: JsonDocument.Parse(r.GetString(3)).RootElement),
            session)).ToDictionary(r => r.Step, r => (r.Status, r.Metrics, r.Detail), StringComparer.Ordinal);
}
