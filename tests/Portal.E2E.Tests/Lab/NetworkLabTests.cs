using Portal.Core.Diagnosis;
using Portal.Testing;

namespace Portal.E2E.Tests.Lab;

/// <summary>
/// Ground truth for the numbers: Chromium in a network namespace, the portal on the host, and the link between
/// them shaped with <c>tc</c>. The measured figures must match what was configured, and <c>slow-network</c> must
/// fire exactly when the link is slow. Where the kernel refuses namespaces (or has no netem), the tests say so in
/// one line and skip.
/// </summary>
[Collection("network")]
public sealed class NetworkLabTests() : LabTest("lab-network", Environment)
{
    private static readonly int s_port = PortalProcess.FreePort();
    private const string Steps = "http.ping,ws.echo,http.download,http.upload";
    private const string Rate20 = "namespace, tbf 20 Mbit/s each way, 400 ms queue (on the sender's own interface)";
    private const string Rate500KShortQueue = "namespace, tbf 0.5 Mbit/s each way, 10 ms queue, 3 KB burst";
    private const string Rate500K = "namespace, tbf 0.5 Mbit/s each way, 400 ms queue";
    private const string Delay50 = "namespace, netem 50 ms round trip, jitter ±2 ms each way";
    private const string Delay400 = "namespace, netem 400 ms round trip";

    // Reachable from the namespace through the host side of its link.
    private static Dictionary<string, string> Environment => new() { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:0;http://0.0.0.0:{s_port}" };

    [SkippableFact]
    public async Task Rate20Mbit_ThroughputWithin15PercentNoSlowNetworkNoBufferbloat()
    {
        SkipUnless(NetworkNamespace.Unavailable, "11a", Rate20, ["all-clear"]);
        await using var ns = await NetworkNamespace.CreateAsync();
        await ns.LimitRateAsync(20);

        var run = await RunInsideAsync(ns, "11a", Rate20, ["all-clear"]);

        run.Metric("http.download", "mbps")!.Value.ShouldBeInRange(20 * 0.85, 20 * 1.15);
        run.Metric("http.upload", "mbps")!.Value.ShouldBeInRange(20 * 0.85, 20 * 1.15);
        // The queue is on the sending host's own interface, where TCP Small Queues keeps it short whatever its size:
        // at 20 Mbit/s the round trip barely grows (measured 0.7 -> 11.5 ms). A router's queue, which no sender sees,
        // is what the slow link below stands for.
        foreach (var step in new[] { "http.download", "http.upload" })
        {
            (run.Metric(step, "loadedRttP50Ms")!.Value - run.Metric(step, "idleRttMs")!.Value).ShouldBeLessThan(Diagnoser.BufferbloatMs, step);
        }
    }

    [SkippableFact]
    public async Task Rate500KbitShortQueue_SlowNetworkNoBufferbloat()
    {
        SkipUnless(NetworkNamespace.Unavailable, "11e", Rate500KShortQueue, ["slow-network"]);
        await using var ns = await NetworkNamespace.CreateAsync();
        await ns.LimitRateAsync(0.5, queueMs: 10, burstKb: 3);

        var run = await RunInsideAsync(ns, "11e", Rate500KShortQueue, ["slow-network"]);

        foreach (var step in new[] { "http.download", "http.upload" })
        {
            (run.Metric(step, "loadedRttP50Ms")!.Value - run.Metric(step, "idleRttMs")!.Value).ShouldBeLessThan(Diagnoser.BufferbloatMs, step);
        }
    }

    [SkippableFact]
    public async Task Rate500Kbit_SlowNetwork_BufferbloatOnlyWhereTheRoundTripGrew()
    {
        SkipUnless(NetworkNamespace.Unavailable, "11b", Rate500K, ["slow-network", "bufferbloat where the round trip grew"]);
        await using var ns = await NetworkNamespace.CreateAsync();
        await ns.LimitRateAsync(0.5);

        // The queue is on the sending host's own interface, where TCP Small Queues mostly keeps it short: whether a
        // transfer fills it varies from run to run (measured +1 to +677 ms). The findings must agree with the figures.
        var run = await RunInsideAsync(ns, "11b", Rate500K, r => Grew(r) ? ["slow-network", "bufferbloat"] : ["slow-network"]);

        foreach (var step in new[] { "http.download", "http.upload" })
        {
            (run.Metric(step, "loadedRttP50Ms")!.Value - run.Metric(step, "idleRttMs")!.Value).ShouldBeLessThan(1_000, step);
        }

        run.Metric("http.download", "mbps")!.Value.ShouldBeInRange(0.5 * 0.85, 0.5 * 1.15);
    }

    private static bool Grew(LabRun r) =>
        new[] { "http.download", "http.upload" }.Any(step => r.Metric(step, "loadedRttP50Ms") - r.Metric(step, "idleRttMs") >= Diagnoser.BufferbloatMs);

    [SkippableFact]
    public async Task Delay50Ms_RoundTripWithin10PercentNoSlowNetwork()
    {
        SkipUnless(NetworkNamespace.NetemUnavailable, "11c", Delay50, ["all-clear"]);
        await using var ns = await NetworkNamespace.CreateAsync();
        await ns.DelayAsync(roundTripMs: 50, jitterMs: 4);

        var run = await RunInsideAsync(ns, "11c", Delay50, ["all-clear"]);

        run.Metric("ws.echo", "rttMedianMs")!.Value.ShouldBeInRange(45, 55);
        run.Metric("http.ping", "rttMedianMs")!.Value.ShouldBeInRange(45, 55);
    }

    [SkippableFact]
    public async Task Delay400Ms_SlowNetwork()
    {
        SkipUnless(NetworkNamespace.NetemUnavailable, "11d", Delay400, ["slow-network"]);
        await using var ns = await NetworkNamespace.CreateAsync();
        await ns.DelayAsync(roundTripMs: 400, jitterMs: 0);

        var run = await RunInsideAsync(ns, "11d", Delay400, ["slow-network"]);

        run.Metric("ws.echo", "rttMedianMs")!.Value.ShouldBeInRange(360, 440);
    }

    /// <summary>Skips, in one line that the table keeps too, when this machine cannot build the scenario's network.</summary>
    private static void SkipUnless(string? unavailable, string scenario, string path, string[] expected)
    {
        if (unavailable is not null)
        {
            LabResults.Skipped(scenario, path, expected, unavailable);
        }

        Skip.If(unavailable is not null, unavailable);
    }

    private Task<LabRun> RunInsideAsync(NetworkNamespace ns, string scenario, string path, string[] expected) =>
        RunInsideAsync(ns, scenario, path, _ => expected);

    /// <summary>Runs the battery inside the namespace; <paramref name="expected"/> reads the run's figures first.</summary>
    private async Task<LabRun> RunInsideAsync(NetworkNamespace ns, string scenario, string path, Func<LabRun, string[]> expected)
    {
        await using var browser = await LaunchBrowserThroughAsync(ns.Wrapper);
        var customer = await RunAsync(new Uri($"http://{ns.HostAddress}:{s_port}"), Steps, browser: browser, timeoutSeconds: 120);
        // The figures the expectation reads: wait until the transfers' results are stored.
        var stored = await ReadRunAsync(customer.SessionId);
        for (var i = 0; i < 40 && (stored.Metric("http.download", "mbps") is null || stored.Metric("http.upload", "mbps") is null); i++)
        {
            await Task.Delay(250);
            stored = await ReadRunAsync(customer.SessionId);
        }

        var run = await ExpectFindingsAsync(scenario, path, customer, expected(stored), r =>
            $"echo p50 {N(r.Metric("ws.echo", "rttMedianMs"))} ms, HTTP p50 {N(r.Metric("http.ping", "rttMedianMs"))} ms, download {N(r.Metric("http.download", "mbps"))} Mbit/s (round trip {N(r.Metric("http.download", "idleRttMs"))} → {N(r.Metric("http.download", "loadedRttP50Ms"))} ms), upload {N(r.Metric("http.upload", "mbps"))} Mbit/s (round trip {N(r.Metric("http.upload", "idleRttMs"))} → {N(r.Metric("http.upload", "loadedRttP50Ms"))} ms)");
        // The browser really was inside: the portal saw it come from the namespace's address.
        run.Result("server.connection").GetProperty("detail").GetProperty("clientAddress").GetString().ShouldBe(ns.GuestAddress);
        return run;
    }
}
