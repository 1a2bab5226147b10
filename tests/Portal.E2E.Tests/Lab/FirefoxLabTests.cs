using System.Globalization;
using Portal.Testing;

namespace Portal.E2E.Tests.Lab;

/// <summary>
/// Firefox through the lab's paths that Chromium's scenarios 01, 02 and 06c take: nginx without Upgrade forwarding,
/// nginx cutting quiet sockets, and mitmproxy re-making TLS. The findings must be Chromium's: the engine is never the
/// network (Gecko's own floors, such as its 500 ms minimum before an EventSource reconnects, are not findings).
/// </summary>
public sealed class FirefoxLabTests() : LabTest("lab-firefox", Environment)
{
    private const int ProxyTimeoutSeconds = 6;
    private const int IdleSeconds = 10;

    private static readonly int s_httpsPort = PortalProcess.FreePort();

    private static Dictionary<string, string> Environment => new(TestCertificates.KestrelEnvironment($"http://127.0.0.1:0;https://localhost:{s_httpsPort}"))
    {
        ["Portal__TrustedProxies__0"] = "127.0.0.1",
    };

    [Fact]
    public async Task Nginx_WithoutUpgradeForwarding_SameFindingsAsChromium()
    {
        var port = PortalProcess.FreePort();
        await using var nginx = await LaunchNginxAsync(Config("nginx-no-upgrade.conf", ("listen", port), ("portal", PortalPort), ("timeout", ProxyTimeoutSeconds)), port);

        var customer = await RunInAsync("firefox", new Uri($"http://127.0.0.1:{port}"), "http.ping,ws.echo,sse,longpoll");

        var run = await ExpectFindingsAsync("01f", "Firefox ESR: nginx without Upgrade/Connection forwarding", customer,
            ["upgrade-headers-stripped", "websocket-blocked"], r => $"results carried by {r.Transport}; SSE reconnect {N(r.Metric("sse", "reconnectMs"))} ms");
        run.Transport.ShouldBeOneOf("serversentevents", "longpolling", "http");
    }

    [Fact]
    public async Task Nginx_ShortReadTimeout_SameIdleTimeoutAsChromium()
    {
        var port = PortalProcess.FreePort();
        await using var nginx = await LaunchNginxAsync(Config("nginx-read-timeout.conf", ("listen", port), ("portal", PortalPort), ("timeout", ProxyTimeoutSeconds)), port);

        var customer = await RunInAsync("firefox", new Uri($"http://127.0.0.1:{port}"), "ws.echo,ws.idle", IdleSeconds);

        var run = await ExpectFindingsAsync("02f", $"Firefox ESR: nginx proxy_read_timeout {ProxyTimeoutSeconds}s", customer, ["idle-timeout"],
            r => $"quiet WebSocket cut after {N(r.Metric("ws.idle", "diedAfterSeconds"))} s (proxy set to {ProxyTimeoutSeconds} s)");
        run.Metric("ws.idle", "diedAfterSeconds")!.Value.ShouldBeInRange(ProxyTimeoutSeconds - 2, ProxyTimeoutSeconds + 2);
    }

    [Fact]
    public async Task Mitmproxy_Intercepting_SameFindingAsChromium()
    {
        var port = PortalProcess.FreePort();
        await using var mitm = await LabProcess.StartAsync(
            "mitmdump", "", ["--listen-host", "127.0.0.1", "--listen-port", port.ToString(CultureInfo.InvariantCulture),
                "--set", "confdir={folder}/conf", "--ssl-insecure", "-q"], port);

        var customer = await RunInAsync("firefox", new Uri($"https://localhost:{s_httpsPort}"), "http.ping,ws.echo", proxy: $"127.0.0.1:{port}");

        var run = await ExpectFindingsAsync("06cf", "Firefox ESR: mitmproxy (TLS inspection)", customer, ["tls-interception-suspected"], r =>
        {
            var detail = r.Result("server.connection").GetProperty("detail");
            return $"ClientHello ja4 {detail.GetProperty("ja4").GetString()} where Firefox's NSS was expected";
        });
        run.Result("server.connection").GetProperty("detail").GetProperty("browserFamily").GetString().ShouldBe("Firefox");
    }
}
