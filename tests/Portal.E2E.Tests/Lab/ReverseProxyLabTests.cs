using Portal.Testing;

namespace Portal.E2E.Tests.Lab;

/// <summary>
/// Reverse proxies in front of the portal, as customers' and integrators' networks put them there: nginx, HAProxy,
/// Varnish, stunnel and mitmproxy, each with the configuration from <c>docker/lab/</c> that reproduces a field
/// failure, and the clean path next to them. The lab's own proxies are trusted (127.0.0.1), as a deployment's are.
/// </summary>
public sealed class ReverseProxyLabTests() : LabTest("lab-reverse", Environment)
{
    // Short time-outs keep the suite fast; the idle step waits longer than the proxy lets a socket stay quiet.
    private const int ProxyTimeoutSeconds = 6;
    private const int IdleSeconds = 10;
    private const string IdleSteps = "ws.echo,ws.idle";
    private const string UpgradeSteps = "http.ping,ws.echo,sse,longpoll";

    private static readonly int s_stunnelPort = PortalProcess.FreePort();
    private static readonly int s_stunnelIdlePort = PortalProcess.FreePort();

    private static Dictionary<string, string> Environment => new()
    {
        ["Portal__TrustedProxies__0"] = "127.0.0.1",
        // stunnel ends TLS and cannot say so in a header: its https origins are configured, as in production.
        ["Portal__AllowedOrigins__0"] = $"https://127.0.0.1:{s_stunnelPort}",
        ["Portal__AllowedOrigins__1"] = $"https://127.0.0.1:{s_stunnelIdlePort}",
    };

    // The page (and everything it opens) goes to the proxy, which passes it on to the portal.
    protected override string[] BrowserArguments => ["--ignore-certificate-errors"];

    [Fact]
    public async Task Nginx_WithoutUpgradeForwarding_UpgradeStrippedWebSocketBlockedReportedThroughFallback()
    {
        var port = PortalProcess.FreePort();
        await using var nginx = await StartNginxAsync("nginx-no-upgrade.conf", port);

        var customer = await RunAsync(Proxy(port), UpgradeSteps);

        var run = await ExpectFindingsAsync("01", "nginx without Upgrade/Connection forwarding", customer,
            ["upgrade-headers-stripped", "websocket-blocked"], r => $"ws.echo arrived as {r.Result("ws.echo").GetProperty("detail").GetProperty("arrivedAs").GetProperty("httpProtocol")}; results carried by {r.Transport}");
        // Every result arrived, through SignalR's fallback transports or plain HTTP, never a WebSocket.
        run.Transport.ShouldBeOneOf("serversentevents", "longpolling", "http");
        run.Results.Count(r => r.GetProperty("source").GetString() == "client").ShouldBe(4);
        run.Metric("ws.echo", "upgradeHeadersPresent").ShouldBe(0);
    }

    [Fact]
    public async Task Nginx_ShortReadTimeout_IdleTimeoutOfThatManySeconds()
    {
        var port = PortalProcess.FreePort();
        await using var nginx = await StartNginxAsync("nginx-read-timeout.conf", port);

        var customer = await RunAsync(Proxy(port), IdleSteps, IdleSeconds);

        var run = await ExpectFindingsAsync("02", $"nginx proxy_read_timeout {ProxyTimeoutSeconds}s", customer, ["idle-timeout"], IdleFigures);
        run.Metric("ws.idle", "diedAfterSeconds")!.Value.ShouldBeInRange(ProxyTimeoutSeconds - 2, ProxyTimeoutSeconds + 2);
    }

    [Fact]
    public async Task HAProxy_ShortClientTimeoutNoTunnelTimeout_IdleTimeout()
    {
        var port = PortalProcess.FreePort();
        await using var haproxy = await LabProcess.StartAsync(
            "haproxy", Config("haproxy-timeout-client.cfg", ("listen", port), ("portal", PortalPort), ("timeout", ProxyTimeoutSeconds)), ["-f", "{config}", "-db"], port);

        var customer = await RunAsync(Proxy(port), IdleSteps, IdleSeconds);

        var run = await ExpectFindingsAsync("03", $"HAProxy timeout client {ProxyTimeoutSeconds}s, no timeout tunnel", customer, ["idle-timeout"], IdleFigures);
        run.Metric("ws.idle", "diedAfterSeconds")!.Value.ShouldBeInRange(ProxyTimeoutSeconds - 2, ProxyTimeoutSeconds + 2);
    }

    [Fact]
    public async Task Varnish_PipeWithoutUpgrade_UpgradeStrippedWebSocketBlocked()
    {
        var port = PortalProcess.FreePort();
        await using var varnish = await StartVarnishAsync("varnish-pipe-no-upgrade.vcl", port, pipeTimeout: 60);

        var customer = await RunAsync(Proxy(port), UpgradeSteps);

        var run = await ExpectFindingsAsync("04a", "Varnish pipe without copying Upgrade", customer,
            ["upgrade-headers-stripped", "websocket-blocked"], r => $"results carried by {r.Transport}");
        run.Metric("ws.echo", "upgradeHeadersPresent").ShouldBe(0);
    }

    [Fact]
    public async Task Varnish_CorrectPipeShortPipeTimeout_IdleTimeout()
    {
        var port = PortalProcess.FreePort();
        await using var varnish = await StartVarnishAsync("varnish-pipe-timeout.vcl", port, pipeTimeout: ProxyTimeoutSeconds);

        var customer = await RunAsync(Proxy(port), IdleSteps, IdleSeconds);

        var run = await ExpectFindingsAsync("04b", $"Varnish correct pipe, pipe_timeout {ProxyTimeoutSeconds}s", customer, ["idle-timeout"], IdleFigures);
        run.Metric("ws.idle", "diedAfterSeconds")!.Value.ShouldBeInRange(ProxyTimeoutSeconds - 2, ProxyTimeoutSeconds + 2);
    }

    [Fact]
    public async Task Stunnel_TerminatingTls_WholeBatteryAllClear()
    {
        await using var stunnel = await StartStunnelAsync(s_stunnelPort, idleSeconds: 43200);

        var customer = await RunAsync(new Uri($"https://127.0.0.1:{s_stunnelPort}"), steps: null, idleSeconds: 5);

        var run = await ExpectFindingsAsync("05a", "stunnel terminating TLS (whole battery)", customer, ["all-clear"], CleanFigures);
        run.Transport.ShouldBe("websockets");
    }

    [Fact]
    public async Task Stunnel_ShortIdleTimeout_IdleTimeout()
    {
        await using var stunnel = await StartStunnelAsync(s_stunnelIdlePort, idleSeconds: ProxyTimeoutSeconds);

        var customer = await RunAsync(new Uri($"https://127.0.0.1:{s_stunnelIdlePort}"), IdleSteps, IdleSeconds);

        var run = await ExpectFindingsAsync("05b", $"stunnel TIMEOUTidle = {ProxyTimeoutSeconds}", customer, ["idle-timeout"], IdleFigures);
        run.Metric("ws.idle", "diedAfterSeconds")!.Value.ShouldBeInRange(ProxyTimeoutSeconds - 2, ProxyTimeoutSeconds + 2);
    }

    [Fact]
    public async Task Nginx_BufferingTheSsePath_SseBuffered()
    {
        var port = PortalProcess.FreePort();
        await using var nginx = await StartNginxAsync("nginx-sse-buffering.conf", port);

        var customer = await RunAsync(Proxy(port), "sse");

        var run = await ExpectFindingsAsync("07", "nginx gzip + buffering on the SSE path (ignores X-Accel-Buffering)", customer, ["sse-buffered"],
            r => $"SSE first event after {N(r.Metric("sse", "firstEventMs"))} ms (sent every 100 ms), {N(r.Metric("sse", "bursts"))} burst(s)");
        run.Metric("sse", "events").ShouldBe(10);
    }

    [Fact]
    public async Task Mitmproxy_WebSocketMessageLimit_LargeMessageDropped()
    {
        var port = PortalProcess.FreePort();
        await using var mitm = await LabProcess.StartAsync(
            "mitmdump", "", ["--mode", $"reverse:http://127.0.0.1:{PortalPort}/", "--listen-host", "127.0.0.1", "--listen-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--set", "keep_host_header=true", "--set", "confdir={folder}/conf", "-q", "-s", "{folder}/limit.py"],
            port, new Dictionary<string, string> { ["limit.py"] = Config("mitm-message-limit.py") });

        var customer = await RunAsync(Proxy(port), "ws.echo,ws.messages");

        var run = await ExpectFindingsAsync("08", "mitmproxy dropping WebSocket messages over 32 KiB", customer, ["large-message-dropped"],
            r => $"largest echoed: text {N(r.Metric("ws.messages", "largestTextBytes") / 1024)} KiB, binary {N(r.Metric("ws.messages", "largestBinaryBytes") / 1024)} KiB");
        run.Metric("ws.messages", "largestTextBytes").ShouldBe(1024);
    }

    [Fact]
    public async Task Nginx_DefaultBodyLimit_RequestBodyLimitedBracketedAndUploadMeasuredBelowIt()
    {
        var port = PortalProcess.FreePort();
        await using var nginx = await StartNginxAsync("nginx-body-limit.conf", port);

        var customer = await RunAsync(Proxy(port), "http.ping,http.upload");

        var run = await ExpectFindingsAsync("13", "nginx with its default client_max_body_size (1m)", customer, ["request-body-limited"],
            r => $"passed {N(r.Metric("http.upload", "bodyLimitPassedBytes") / 1024)} KiB, refused {N(r.Metric("http.upload", "bodyLimitRefusedBytes") / 1024)} KiB (status {N(r.Metric("http.upload", "refusedStatus"))}); upload below it {N(r.Metric("http.upload", "mbps"))} Mbit/s");
        // nginx's limit is 1 MiB of body: the bracket holds it.
        run.Metric("http.upload", "bodyLimitPassedBytes")!.Value.ShouldBeLessThanOrEqualTo(1024 * 1024);
        run.Metric("http.upload", "bodyLimitRefusedBytes")!.Value.ShouldBeGreaterThan(1024 * 1024);
        run.Metric("http.upload", "mbps").ShouldNotBeNull();
    }

    [Fact]
    public async Task Nginx_BadGatewayOnOnePath_ProxyErrorPageNamesNginxAndThePath()
    {
        var port = PortalProcess.FreePort();
        await using var nginx = await LaunchNginxAsync(Config("nginx-bad-gateway.conf", ("listen", port), ("portal", PortalPort), ("dead", PortalProcess.FreePort())), port);

        var customer = await RunAsync(Proxy(port), "http.ping,http.download");

        await ExpectFindingsAsync("14", "nginx answering 502 on /diag/download (wrong upstream)", customer, ["proxy-error-page"],
            r => $"download answered HTTP {N(r.Metric("http.download", "answerStatus"))}");
        using var api = Portal.CreateClient();
        var detail = await System.Net.Http.Json.HttpClientJsonExtensions.GetFromJsonAsync<System.Text.Json.JsonElement>(api, $"/api/v1/sessions/{customer.SessionId}");
        var finding = detail.GetProperty("findings").EnumerateArray().Single(f => f.GetProperty("code").GetString() == "proxy-error-page");
        finding.GetProperty("summary").GetString()!.ShouldContain("nginx");
        finding.GetProperty("summary").GetString()!.ShouldContain("/diag/download (HTTP 502)");
    }

    [Fact]
    public async Task Direct_PlainHttp_WholeBatteryAllClearOnly()
    {
        var customer = await RunAsync(Portal.BaseAddress, steps: null, idleSeconds: 5);

        var run = await ExpectFindingsAsync("10a", "direct, plain HTTP (whole battery)", customer, ["all-clear"], CleanFigures);
        run.Transport.ShouldBe("websockets");
        // A whole battery (hub over WebSockets with access_token in its URL, beacons, every diag endpoint) and the
        // portal logged the link's token nowhere.
        var token = new Uri(customer.Page.Url).Segments[^1];
        Portal.Output.Where(line => line.Contains(token, StringComparison.Ordinal)).ShouldBeEmpty();
    }

    private static Uri Proxy(int port) => new($"http://127.0.0.1:{port}");

    private static string IdleFigures(LabRun run) =>
        $"quiet WebSocket cut after {N(run.Metric("ws.idle", "diedAfterSeconds"))} s (proxy set to {ProxyTimeoutSeconds} s)";

    private static string CleanFigures(LabRun run) =>
        $"echo p50 {N(run.Metric("ws.echo", "rttMedianMs"))} ms, download {N(run.Metric("http.download", "mbps"))} Mbit/s, upload {N(run.Metric("http.upload", "mbps"))} Mbit/s, results by {run.Transport}";

    private Task<LabProcess> StartNginxAsync(string file, int port) =>
        LaunchNginxAsync(Config(file, ("listen", port), ("portal", PortalPort), ("timeout", ProxyTimeoutSeconds)), port);

    private Task<LabProcess> StartVarnishAsync(string file, int port, int pipeTimeout) => LabProcess.StartAsync(
        "varnishd", Config(file, ("portal", PortalPort)),
        ["-F", "-f", "{config}", "-a", $"127.0.0.1:{port}", "-n", "{folder}/work", "-s", "malloc,32m", "-p", $"pipe_timeout={pipeTimeout}"], port);

    private Task<LabProcess> StartStunnelAsync(int port, int idleSeconds) => StartStunnelAsync(port, PortalPort, idleSeconds);
}
