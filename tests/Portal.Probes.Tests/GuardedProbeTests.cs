using System.Net;

namespace Portal.Probes.Tests;

/// <summary>The guard in action: forbidden targets and redirects are reported as blocked and never touched.</summary>
public sealed class GuardedProbeTests
{
    [Theory]
    [InlineData("http://127.0.0.1:{port}/")]
    [InlineData("http://localhost:{port}/")]
    [InlineData("http://[::ffff:127.0.0.1]:{port}/")]
    [InlineData("http://2130706433:{port}/")]
    [InlineData("http://0x7f.0.0.1:{port}/")]
    [InlineData("http://0177.0.0.1:{port}/")]
    [InlineData("http://127.1:{port}/")]
    [InlineData("ws://rebind.lab.test:{port}/")]
    public async Task Probe_ForbiddenTarget_IsBlockedAndNeverConnected(string template)
    {
        await using var forbidden = LoopbackServer.Counting(IPAddress.Loopback);
        var prober = new Prober(new ProbeOptions(), AddressGuardTests.Resolver(("rebind.lab.test", "127.0.0.1")));
        ProbeTarget.TryParse(template.Replace("{port}", forbidden.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal), out var target, out var error).ShouldBeTrue(error);

        var results = await CollectAsync(prober, target);

        results.Single().Status.ShouldBe("blocked");
        results.Single().Step.ShouldBe("probe.target");
        forbidden.Accepted.ShouldBe(0);
    }

    [Theory]
    [InlineData("http://127.0.0.1:{port}/")]
    [InlineData("http://2130706433:{port}/")]
    [InlineData("http://localhost:{port}/")]
    [InlineData("http://[::ffff:7f00:1]:{port}/")]
    public async Task Probe_RedirectToForbiddenAddress_IsBlockedAndNeverConnected(string template)
    {
        // The allowed server is 127.0.0.2 (allow-listed alone); the forbidden one listens on 127.0.0.1.
        await using var forbidden = LoopbackServer.Counting(IPAddress.Loopback);
        await using var redirector = await EchoServer.StartAsync("127.0.0.2");
        var prober = new Prober(new ProbeOptions { AllowList = ["127.0.0.2/32"] });
        var to = Uri.EscapeDataString(template.Replace("{port}", forbidden.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        ProbeTarget.TryParse($"http://127.0.0.2:{redirector.Port}/go?to={to}", out var target, out _).ShouldBeTrue();

        var results = await CollectAsync(prober, target);

        var http = results.Single(r => r.Step == "probe.http");
        http.Status.ShouldBe("blocked");
        ((string)http.Detail["summary"]!).ShouldContain("redirect");
        forbidden.Accepted.ShouldBe(0);
    }

    [Fact]
    public async Task Probe_RedirectWithinAllowList_IsFollowed()
    {
        await using var server = await EchoServer.StartAsync("127.0.0.2");
        var prober = new Prober(new ProbeOptions { AllowList = ["127.0.0.2/32"] });
        ProbeTarget.TryParse($"http://127.0.0.2:{server.Port}/go?to=%2F", out var target, out _).ShouldBeTrue();

        var results = await CollectAsync(prober, target);

        var http = results.Single(r => r.Step == "probe.http");
        http.Status.ShouldBe("pass");
        http.Metrics["status"].ShouldBe(200);
        http.Metrics["redirects"].ShouldBe(1);
    }

    [Theory]
    [InlineData("http:\\\\127.0.0.2\\")]
    [InlineData("http://exa mple.com/")]
    public async Task Probe_RedirectToUnreadableLocation_RecordedWithTheRawLocation(string location)
    {
        await using var server = await EchoServer.StartAsync("127.0.0.2");
        var prober = new Prober(new ProbeOptions { AllowList = ["127.0.0.2/32"] });
        ProbeTarget.TryParse($"http://127.0.0.2:{server.Port}/go?to={Uri.EscapeDataString(location)}", out var target, out _).ShouldBeTrue();

        var results = await CollectAsync(prober, target);

        var http = results.Single(r => r.Step == "probe.http");
        http.Status.ShouldBe("fail");
        ((string)http.Detail["summary"]!).ShouldContain($"a Location the portal cannot follow: \"{location}\"");
        ((List<Dictionary<string, object?>>)http.Detail["hops"]!)[0]["location"].ShouldBe(location);
    }

    private static async Task<List<ProbeResult>> CollectAsync(Prober prober, ProbeTarget target)
    {
        var results = new List<ProbeResult>();
        await foreach (var result in prober.ProbeAsync(target))
        {
            results.Add(result);
        }

        return results;
    }
}
