using System.Net.Http.Json;
using System.Text.Json;
using Portal.Testing;

namespace Portal.E2E.Tests;

/// <summary>
/// Customers use every browser: the whole battery in Firefox ESR (puppeteer-core over WebDriver BiDi) and WebKitGTK
/// (Safari's engine, through WebKitWebDriver on a private Xvfb), on the clean path, over plain http and over https with
/// the portal terminating TLS itself. Each must get the right answer Chromium gets: all clear. Over https the portal
/// reads each engine's ClientHello, and each engine's own TLS stack must be in the portal's list and fit.
/// </summary>
public sealed class EnginesTests(Xunit.Abstractions.ITestOutputHelper output) : BrowserTest("engines", Environment)
{
    private static readonly int s_httpPort = PortalProcess.FreePort();
    private static readonly int s_httpsPort = PortalProcess.FreePort();

    private static Dictionary<string, string> Environment => TestCertificates.KestrelEnvironment($"http://localhost:{s_httpPort};https://localhost:{s_httpsPort}");

    [Theory]
    [InlineData("firefox", "http")]
    [InlineData("firefox", "https")]
    [InlineData("webkit", "http")]
    [InlineData("webkit", "https")]
    public async Task WholeBattery_CleanPath_AllClearLikeChromium(string engine, string scheme)
    {
        var (session, link) = await CreateSessionAsync($"{engine} over {scheme}");
        var url = new UriBuilder(link) { Scheme = scheme, Host = "localhost", Port = scheme == "https" ? s_httpsPort : s_httpPort }.Uri;

        var page = await Engines.RunAsync(engine, url);

        page.GetProperty("state").GetString().ShouldBe("done");
        using var api = Portal.CreateClient();
        JsonElement detail = default;
        await Eventually.TrueAsync(
            async () =>
            {
                detail = await api.GetFromJsonAsync<JsonElement>($"/api/v1/sessions/{session}");
                return detail.GetProperty("runs").EnumerateArray().Any(r => r.GetProperty("status").GetString() == "completed")
                    && detail.GetProperty("findings").GetArrayLength() > 0;
            },
            "the run to complete with its findings");
        var findings = detail.GetProperty("findings").EnumerateArray().Select(f => f.GetProperty("code").GetString()).ToList();
        var results = detail.GetProperty("results").EnumerateArray().ToList();
        findings.ShouldBe(["all-clear"], $"{engine} over {scheme} ({page.GetProperty("userAgent").GetString()}): the page said\n{page.GetProperty("steps").GetString()}\nThe portal stored:\n"
            + string.Join('\n', results.Select(r => $"{r.GetProperty("step")} {r.GetProperty("status")}: {r.GetProperty("metrics")} {r.GetProperty("detail").GetProperty("summary")}")));
        var connection = results.Last(r => r.GetProperty("step").GetString() == "server.connection").GetProperty("detail");
        if (scheme == "https")
        {
            output.WriteLine($"{engine}: {page.GetProperty("userAgent").GetString()} JA4 {connection.GetProperty("ja4").GetString()}");
            connection.GetProperty("browserFamily").GetString().ShouldBe(engine == "firefox" ? "Firefox" : "WebKit");
            // The ClientHello was read, and each engine's own stack is in the portal's list and fits: a release that changes
            // its offer fails here, not in front of a customer (where it would read as no verdict, never as interception).
            connection.GetProperty("fingerprintFitsBrowser").GetBoolean().ShouldBeTrue($"{connection.GetProperty("ja4").GetString()}: {connection.GetProperty("fingerprintNote").GetString()}");
        }

        var env = results.Single(r => r.GetProperty("step").GetString() == "env");
        env.GetProperty("metrics").GetProperty("timerResolutionMs").GetDouble().ShouldBeGreaterThan(0);
    }
}
