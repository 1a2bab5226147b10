using System.Net.Http.Json;
using System.Text.Json;
using Portal.Testing;

namespace Portal.E2E.Tests.Lab;

/// <summary>
/// Proxies in front of the portal that the portal was not configured for, as a new deployment puts them there: the
/// portal runs on its defaults (no trusted proxies, no allowed or public origins). The customer's measurement must
/// still run, nothing the portal's own proxy does may be blamed on the customer, and a <c>portal-deployment</c>
/// finding must name the change.
/// </summary>
public sealed class DeploymentLabTests() : LabTest("lab-deployment", new() { ["Portal__Links__DefaultIdleSeconds"] = DeploymentCheckIdleSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) })
{
    /// <summary>The sessions' default quiet period, which the admin's deployment check holds a WebSocket for.</summary>
    private const int DeploymentCheckIdleSeconds = 5;

    private const int ProxyTimeoutSeconds = 6;
    private const int IdleSeconds = 10;

    protected override string[] BrowserArguments => ["--ignore-certificate-errors"];

    /// <summary>
    /// Scenario 16: an admin presses Check the deployment on a console reached through a proxy in front of the portal;
    /// the portal probes itself through that origin and reports with the customers' rules.
    /// </summary>
    [Theory]
    [InlineData("16a", "direct, no proxy", null, new[] { "all-clear" })]
    [InlineData("16b", "nginx with its default client_max_body_size (1m)", "nginx-body-limit.conf", new[] { "request-body-limited" })]
    // That nginx keeps its default body limit too: both are found.
    [InlineData("16c", "nginx compressing and buffering text/event-stream (and its default body limit)", "nginx-sse-buffering.conf", new[] { "request-body-limited", "sse-buffered" })]
    public async Task CheckTheDeployment_ThroughTheFrontProxy_SameFindingsAsACustomersPath(string scenario, string path, string? config, string[] expected)
    {
        var port = config is null ? PortalPort : PortalProcess.FreePort();
        await using var nginx = config is null ? null : await LaunchNginxAsync(Config(config, ("listen", port), ("portal", PortalPort)), port);
        using var admin = Portal.CreateClient();
        admin.BaseAddress = new Uri($"http://127.0.0.1:{port}");

        using var response = await admin.PostAsync("/api/v1/admin/deployment/check", null);

        response.StatusCode.ShouldBe(System.Net.HttpStatusCode.Accepted);
        var started = await response.Content.ReadFromJsonAsync<JsonElement>();
        // The echo serves holders of a live link's key: the check carries its own session's, as a customer page does.
        var targets = started.GetProperty("targets").EnumerateArray().Select(t => t.GetString()!).ToList();
        targets.Count.ShouldBe(2);
        targets[0].ShouldStartWith($"ws://127.0.0.1:{port}/diag/ws/echo?dk=");
        targets[1].ShouldBe($"http://127.0.0.1:{port}/");
        var run = await ExpectFindingsAsync(scenario, $"deployment check: {path}", (started.GetProperty("sessionId").GetGuid(), null), expected,
            r => $"upload {N(r.Metric("probe.upload", "status"))} in {N(r.Metric("probe.upload", "ms"))} ms; SSE first event {N(r.Metric("probe.sse", "firstEventMs"))} ms, lag {N(r.Metric("probe.sse", "maxLagMs"))} ms; quiet WebSocket survived {N(r.Metric("probe.ws.idle", "idleSeconds"))} s",
            TimeSpan.FromSeconds(DeploymentCheckIdleSeconds + 40), probeRun: true);
        run.Results.Select(r => r.GetProperty("step").GetString()).ShouldBe(["probe.dns", "probe.tcp", "probe.ws", "probe.ws.idle", "probe.dns", "probe.tcp", "probe.http", "probe.sse", "probe.upload"], ignoreOrder: true);
        if (config == "nginx-body-limit.conf")
        {
            run.Metric("probe.upload", "status").ShouldBe(413);
            (await FindingAsync(run.SessionId, "request-body-limited")).GetProperty("summary").GetString()!.ShouldContain("nginx");
        }
    }

    [Fact]
    public async Task NginxHostDollarHostOnItsOwnPort_IdleTimeoutMeasuredDeploymentFindingNothingOnTheCustomer()
    {
        var port = PortalProcess.FreePort();
        await using var nginx = await LaunchNginxAsync(Config("nginx-host-dollar-host.conf", ("listen", port), ("portal", PortalPort), ("timeout", ProxyTimeoutSeconds)), port);

        var customer = await RunAsync(new Uri($"http://127.0.0.1:{port}"), "http.ping,ws.echo,ws.idle", IdleSeconds);

        var run = await ExpectFindingsAsync("12a", $"nginx on another port, Host $host, proxy_read_timeout {ProxyTimeoutSeconds}s, portal on defaults", customer,
            ["idle-timeout", "portal-deployment"], r => $"quiet WebSocket cut after {N(r.Metric("ws.idle", "diedAfterSeconds"))} s (proxy set to {ProxyTimeoutSeconds} s)");
        run.Metric("ws.idle", "diedAfterSeconds")!.Value.ShouldBeInRange(ProxyTimeoutSeconds - 2, ProxyTimeoutSeconds + 2);
        (await FindingAsync(customer.SessionId, "portal-deployment")).GetProperty("recommendation").GetString()!.ShouldContain("proxy_set_header Host $http_host");
    }

    [Fact]
    public async Task HAProxyNotTrusted_DeploymentFindingNoProxyDetected()
    {
        var port = PortalProcess.FreePort();
        await using var haproxy = await LabProcess.StartAsync(
            "haproxy", Config("haproxy-forwardfor.cfg", ("listen", port), ("portal", PortalPort)), ["-f", "{config}", "-db"], port);

        // SSE is left out here: HAProxy 2.6 in http mode held the first events ~220 ms and delivered them in bursts
        // (a real sse-buffered, its option http-no-delay territory), which is not what this scenario is about.
        var customer = await RunAsync(new Uri($"http://127.0.0.1:{port}"), "http.ping,ws.echo,longpoll");

        await ExpectFindingsAsync("12b", "HAProxy with option forwardfor, not in TrustedProxies", customer, ["all-clear", "portal-deployment"],
            r => $"results by {r.Transport}");
        (await FindingAsync(customer.SessionId, "portal-deployment")).GetProperty("recommendation").GetString()!.ShouldContain("Portal__TrustedProxies__0=127.0.0.1");
    }

    [Fact]
    public async Task Seed003StunnelVarnishOnDefaults_IdleTimeoutAndDeploymentFindingNothingOnTheCustomer()
    {
        var varnishPort = PortalProcess.FreePort();
        var stunnelPort = PortalProcess.FreePort();
        await using var varnish = await LabProcess.StartAsync(
            "varnishd", Config("varnish-pipe-timeout.vcl", ("portal", PortalPort)),
            ["-F", "-f", "{config}", "-a", $"127.0.0.1:{varnishPort}", "-n", "{folder}/work", "-s", "malloc,32m", "-p", $"pipe_timeout={ProxyTimeoutSeconds}"], varnishPort);
        await using var stunnel = await StartStunnelAsync(stunnelPort, varnishPort, idleSeconds: 43200);

        var customer = await RunAsync(new Uri($"https://127.0.0.1:{stunnelPort}"), "http.ping,ws.echo,ws.idle", IdleSeconds);

        var run = await ExpectFindingsAsync("12c", $"seed 003: stunnel → Varnish (pipe_timeout {ProxyTimeoutSeconds}) → portal on defaults", customer,
            ["idle-timeout", "portal-deployment"], r => $"quiet WebSocket cut after {N(r.Metric("ws.idle", "diedAfterSeconds"))} s (Varnish set to {ProxyTimeoutSeconds} s)");
        run.Metric("ws.idle", "diedAfterSeconds")!.Value.ShouldBeInRange(ProxyTimeoutSeconds - 2, ProxyTimeoutSeconds + 2);
        (await FindingAsync(customer.SessionId, "portal-deployment")).GetProperty("summary").GetString()!.ShouldContain("X-Forwarded-Proto");
    }

    private async Task<JsonElement> FindingAsync(Guid sessionId, string code)
    {
        using var api = Portal.CreateClient();
        var session = await api.GetFromJsonAsync<JsonElement>($"/api/v1/sessions/{sessionId}");
        return session.GetProperty("findings").EnumerateArray().Single(f => f.GetProperty("code").GetString() == code);
    }
}
