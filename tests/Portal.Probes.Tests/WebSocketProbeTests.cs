using Portal.Testing;

namespace Portal.Probes.Tests;

/// <summary>The WebSocket probe through real reverse proxies (nginx, HAProxy) in front of a real echo server.</summary>
public sealed class WebSocketProbeTests
{
    [Fact]
    public async Task Probe_NginxWithoutUpgradeForwarding_ReportsNo101()
    {
        await using var echo = await EchoServer.StartAsync();
        var port = PortalProcess.FreePort();
        await using var nginx = await StartNginxAsync(port, echo.Port, forwardUpgrade: false);

        var results = await ProbeAsync($"ws://127.0.0.1:{port}/echo");

        var ws = results.Single(r => r.Step == "probe.ws");
        ws.Status.ShouldBe("fail");
        ws.Metrics["upgraded"].ShouldBe(0);
        ws.Metrics["status"].ShouldBe(400);
        ((string)ws.Detail["summary"]!).ShouldContain("instead of 101");
    }

    [Fact]
    public async Task Probe_TargetRedirectsToALoginPage_ReportsTheStatusAndWhereTo()
    {
        var port = PortalProcess.FreePort();
        await using var nginx = await StartNginxAsync(port, "return 302 /login;");

        var results = await ProbeAsync($"ws://127.0.0.1:{port}/hub");

        var ws = results.Single(r => r.Step == "probe.ws");
        ws.Status.ShouldBe("fail");
        ws.Metrics["status"].ShouldBe(302);
        ((string)ws.Detail["location"]!).ShouldEndWith($"127.0.0.1:{port}/login");
        ((string)ws.Detail["summary"]!).ShouldContain("not a WebSocket endpoint");
    }

    [Fact]
    public async Task Probe_NginxWithUpgradeForwarding_Gets101ValidAcceptAndEcho()
    {
        await using var echo = await EchoServer.StartAsync();
        var port = PortalProcess.FreePort();
        await using var nginx = await StartNginxAsync(port, echo.Port, forwardUpgrade: true);

        var results = await ProbeAsync($"ws://127.0.0.1:{port}/echo");

        var ws = results.Single(r => r.Step == "probe.ws");
        ws.Status.ShouldBe("pass", (string?)ws.Detail["summary"]);
        ws.Metrics["status"].ShouldBe(101);
        ws.Metrics["acceptValid"].ShouldBe(1);
        ws.Metrics["echoMs"].ShouldNotBeNull();
        ws.Detail["server"]!.ToString()!.ShouldStartWith("nginx");
    }

    [Fact]
    public async Task Probe_HaproxyWithShortIdleTimeout_ReportsTheCutWithinTwoSeconds()
    {
        await using var echo = await EchoServer.StartAsync();
        var port = PortalProcess.FreePort();
        var config = $"""
            global
                pidfile {"{folder}"}/haproxy.pid
            defaults
                mode http
                timeout connect 2s
                timeout client 3s
                timeout server 3s
            frontend lab
                bind 127.0.0.1:{port}
                default_backend echo
            backend echo
                server echo1 127.0.0.1:{echo.Port}
            """;
        await using var haproxy = await LabProcess.StartAsync("haproxy", config, ["-f", "{config}", "-db"], port);

        var results = await ProbeAsync($"ws://127.0.0.1:{port}/echo", idleSeconds: 8);

        results.Single(r => r.Step == "probe.ws").Metrics["upgraded"].ShouldBe(1);
        var idle = results.Single(r => r.Step == "probe.ws.idle");
        idle.Status.ShouldBe("fail");
        idle.Metrics["survived"].ShouldBe(0);
        idle.Metrics["diedAfterSeconds"]!.Value.ShouldBeInRange(1, 5);
    }

    [Fact]
    public async Task Probe_DirectEchoKeptQuiet_Survives()
    {
        await using var echo = await EchoServer.StartAsync();

        var results = await ProbeAsync($"ws://127.0.0.1:{echo.Port}/echo", idleSeconds: 2);

        var idle = results.Single(r => r.Step == "probe.ws.idle");
        idle.Status.ShouldBe("pass");
        idle.Metrics["survived"].ShouldBe(1);
    }

    [Fact]
    public void AcceptFor_Rfc6455Vector_Matches()
    {
        Prober.AcceptFor("dGhlIHNhbXBsZSBub25jZQ==").ShouldBe("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    private static Task<LabProcess> StartNginxAsync(int port, int backend, bool forwardUpgrade)
    {
        var upgrade = forwardUpgrade ? "proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\";" : string.Empty;
        return StartNginxAsync(port, $"proxy_pass http://127.0.0.1:{backend}; proxy_http_version 1.1; {upgrade}");
    }

    private static Task<LabProcess> StartNginxAsync(int port, string location)
    {
        var config = $$"""
            daemon off;
            master_process off;
            pid {folder}/nginx.pid;
            error_log {folder}/error.log;
            events { worker_connections 64; }
            http {
                access_log off;
                client_body_temp_path {folder}/body;
                proxy_temp_path {folder}/proxy;
                fastcgi_temp_path {folder}/fastcgi;
                uwsgi_temp_path {folder}/uwsgi;
                scgi_temp_path {folder}/scgi;
                server {
                    listen 127.0.0.1:{{port}};
                    location / { {{location}} }
                }
            }
            """;
        return LabProcess.StartAsync("nginx", config, ["-p", "{folder}", "-c", "{config}", "-e", "{folder}/error.log"], port);
    }

    private static async Task<List<ProbeResult>> ProbeAsync(string target, int idleSeconds = 0)
    {
        var prober = new Prober(new ProbeOptions { AllowList = ["127.0.0.1/32"], RequestTimeout = TimeSpan.FromSeconds(5) });
        ProbeTarget.TryParse(target, out var parsed, out _).ShouldBeTrue();
        var results = new List<ProbeResult>();
        await foreach (var result in prober.ProbeAsync(parsed, idleSeconds))
        {
            results.Add(result);
        }

        return results;
    }
}
