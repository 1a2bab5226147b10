using Microsoft.Playwright;
using Portal.Testing;

namespace Portal.E2E.Tests.Lab;

/// <summary>
/// Forward proxies on the customer's side, with the portal terminating TLS itself (Kestrel, so it reads the
/// ClientHello): Squid tunnelling with CONNECT (invisible, as it should be), Squid and mitmproxy inspecting TLS
/// with a lab CA the lab browser accepts, and the direct TLS path.
/// </summary>
public sealed class ForwardProxyLabTests() : LabTest("lab-forward", Environment)
{
    private static readonly int s_httpsPort = PortalProcess.FreePort();

    private static Dictionary<string, string> Environment => TestCertificates.KestrelEnvironment($"http://127.0.0.1:0;https://localhost:{s_httpsPort}");

    // The portal's certificate and the interceptors' certificates are the lab's own (lab only).
    protected override string[] BrowserArguments => ["--ignore-certificate-errors"];

    private static Uri Portal443 => new($"https://localhost:{s_httpsPort}");

    [Fact]
    public async Task SquidConnect_WholeBattery_AllClearOnly()
    {
        var port = PortalProcess.FreePort();
        await using var squid = await StartSquidAsync(Config("squid-connect.conf", ("listen", port)), port);
        await using var browser = await BehindProxyAsync(port);

        var customer = await RunAsync(Portal443, steps: null, idleSeconds: 5, browser);

        var run = await ExpectFindingsAsync("06a", "Squid forward proxy, CONNECT tunnel (whole battery)", customer, ["all-clear"], Fingerprint);
        run.Result("server.connection").GetProperty("detail").GetProperty("fingerprintFitsBrowser").GetBoolean().ShouldBeTrue();
        // It did go through Squid: Squid logs each tunnel once it closes, i.e. once the browser has gone.
        await browser.CloseAsync();
        await Eventually.TrueAsync(
            async () => (await File.ReadAllTextAsync(Path.Combine(squid.Folder, "access.log"))).Contains($"CONNECT localhost:{s_httpsPort}", StringComparison.Ordinal),
            "Squid to log the browser's CONNECT tunnel", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task SquidSslBump_TlsInterceptedUpgradeLostProxyHeadersAdded()
    {
        var port = PortalProcess.FreePort();
        using var authority = TestCertificates.Authority("Portal Lab Inspection CA");
        var (caPath, caKey) = TestCertificates.WritePem(authority, TempFolder.Create("portal-lab-ca"));
        await using var squid = await StartSquidAsync(
            Config("squid-bump.conf", ("listen", port)), port,
            new Dictionary<string, string> { ["ca.pem"] = await File.ReadAllTextAsync(caPath), ["ca.key"] = await File.ReadAllTextAsync(caKey) },
            async folder =>
            {
                await LabProcess.RunAsync("security_file_certgen", "-c", "-s", Path.Combine(folder, "ssl_db"), "-M", "4MB");
                await LabProcess.RunAsync("chown", "-R", "proxy:proxy", folder);
            });
        await using var browser = await BehindProxyAsync(port);

        var customer = await RunAsync(Portal443, "http.ping,ws.echo,sse,longpoll", idleSeconds: 5, browser);

        var run = await ExpectFindingsAsync("06b", "Squid ssl-bump (TLS inspection)", customer,
            ["proxy-detected", "tls-interception-suspected", "upgrade-headers-stripped", "websocket-blocked"], Fingerprint);
        run.Result("server.connection").GetProperty("detail").GetProperty("foreignProxyHeaders").EnumerateArray().Select(h => h.GetString()).ShouldContain("Via");
    }

    [Fact]
    public async Task Mitmproxy_Intercepting_TlsInterceptionSuspected()
    {
        var port = PortalProcess.FreePort();
        await using var mitm = await LabProcess.StartAsync(
            "mitmdump", "", ["--listen-host", "127.0.0.1", "--listen-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--set", "confdir={folder}/conf", "--ssl-insecure", "-q"], port);
        await using var browser = await BehindProxyAsync(port);

        var customer = await RunAsync(Portal443, "http.ping,ws.echo", idleSeconds: 5, browser);

        var run = await ExpectFindingsAsync("06c", "mitmproxy (TLS inspection)", customer, ["tls-interception-suspected"], Fingerprint);
        run.Result("ws.echo").GetProperty("status").GetString().ShouldBe("pass");
    }

    [Fact]
    public async Task Direct_Tls_WholeBatteryAllClearOnly()
    {
        var customer = await RunAsync(Portal443, steps: null, idleSeconds: 5);

        var run = await ExpectFindingsAsync("10b", "direct, TLS terminated by the portal (whole battery)", customer, ["all-clear"], Fingerprint);
        run.Transport.ShouldBe("websockets");
    }

    private static string Fingerprint(LabRun run)
    {
        var detail = run.Result("server.connection").GetProperty("detail");
        var fits = detail.GetProperty("fingerprintFitsBrowser").GetBoolean();
        return $"ClientHello ja4 {detail.GetProperty("ja4").GetString()} {(fits ? "fits" : "does not fit")} {detail.GetProperty("browserFamily").GetString()} ({detail.GetProperty("expectedTlsStack").GetString()}); results by {run.Transport}";
    }

    private Task<IBrowser> BehindProxyAsync(int port) =>
        LaunchBrowserAsync($"--proxy-server=http://127.0.0.1:{port}", "--proxy-bypass-list=<-loopback>", "--ignore-certificate-errors");

    private static Task<LabProcess> StartSquidAsync(string config, int port, Dictionary<string, string>? files = null, Func<string, Task>? prepare = null) =>
        LabProcess.StartAsync("squid", config, ["-N", "-d", "1", "-f", "{config}"], port, files, prepare);
}
