using Portal.Testing;

namespace Portal.E2E.Tests.Lab;

/// <summary>
/// Ground truth for calls and video: Chromium in a network namespace measures through the portal's own TURN server
/// (coturn) on the host, while nftables in the namespace drops the browser's UDP to it — all of it, or a share at
/// random. The measured loss must match what was configured, and the findings must name the cause.
/// </summary>
[Collection("network")]
public sealed class TurnLabTests() : LabTest("lab-turn", Environment)
{
    private static readonly int s_port = PortalProcess.FreePort();
    private static readonly int s_turnPort = PortalProcess.FreePort();

    // The portal and its TURN server reachable from the namespace through the host side of its link.
    private static Dictionary<string, string> Environment => new()
    {
        ["ASPNETCORE_URLS"] = $"http://127.0.0.1:0;http://0.0.0.0:{s_port}",
        ["Portal__Turn__Embedded"] = "true",
        ["Portal__Turn__Port"] = s_turnPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Portal__Turn__ListenAddress"] = "0.0.0.0",
    };

    [SkippableFact]
    public async Task UdpToTurnDropped_UdpBlockedAndTcpStillWorks()
    {
        const string path = "namespace, nftables dropping UDP from the TURN port";
        SkipUnless("18a", path, ["udp-blocked"]);
        await using var ns = await NetworkNamespace.CreateAsync();
        await ns.DropUdpAsync(s_turnPort);

        var run = await RunInsideAsync(ns, "18a", path, ["udp-blocked"], packets: 1_000);

        run.Metric("webrtc.turn", "udpReachable").ShouldBe(0);
        run.Metric("webrtc.turn", "udpAnswered").ShouldBe(0);
        run.Metric("webrtc.turn", "tcpReachable").ShouldBe(1);
        // Without UDP there is no loss figure: TCP retransmits, so nothing is lost on the customer's side.
        run.Metric("webrtc.turn", "lossPercent").ShouldBeNull();
    }

    [SkippableTheory]
    [InlineData("18b", 3, 5_000, new[] { "packet-loss", "slow-network" })]
    [InlineData("18c", 5, 5_000, new[] { "packet-loss", "slow-network" })]
    public async Task RandomUdpLoss_MeasuredWithinOnePercentagePoint(string scenario, int percent, int packets, string[] expected)
    {
        var path = $"namespace, nftables dropping {percent} % of UDP from the TURN port at random";
        SkipUnless(scenario, path, expected);
        await using var ns = await NetworkNamespace.CreateAsync();
        await ns.DropUdpAsync(s_turnPort, percent);

        var run = await RunInsideAsync(ns, scenario, path, expected, packets);

        run.Metric("webrtc.turn", "udpLossPercent")!.Value.ShouldBeInRange(percent - 1, percent + 1);
        run.Metric("webrtc.turn", "lossPercent").ShouldBe(run.Metric("webrtc.turn", "udpLossPercent"));
        run.Metric("webrtc.turn", "tcpReachable").ShouldBe(1);
    }

    [SkippableFact]
    public async Task OnePercentUdpLoss_MeasuredWithinOnePercentagePoint()
    {
        // 1 % is packet-loss's own threshold: whether the finding fires depends on the sample, so only the figure is held
        // to the truth here, and the findings to what the figure says.
        const string path = "namespace, nftables dropping 1 % of UDP from the TURN port at random";
        SkipUnless("18e", path, ["packet-loss or all-clear"]);
        await using var ns = await NetworkNamespace.CreateAsync();
        await ns.DropUdpAsync(s_turnPort, 1);
        await using var browser = await LaunchBrowserThroughAsync(ns.Wrapper);
        var customer = await RunAsync(new Uri($"http://{ns.HostAddress}:{s_port}"), "webrtc.turn&turnPackets=5000", browser: browser, timeoutSeconds: 120);

        var expected = (await ReadRunAsync(customer.SessionId)).Metric("webrtc.turn", "udpLossPercent") >= global::Portal.Core.Diagnosis.Diagnoser.PacketLossPercent ? "packet-loss" : "all-clear";
        var run = await ExpectFindingsAsync("18e", path, customer, [expected], Describe);

        run.Metric("webrtc.turn", "udpLossPercent")!.Value.ShouldBeInRange(0, 2);
    }

    [SkippableFact]
    public async Task HeavyUdpLoss_PacketLossCritical()
    {
        // At 20 % the data channel's congestion control (acknowledgements are lost too) lets only a few hundred
        // datagrams through in the step's time: the share is measured, with the precision such a sample has.
        const string path = "namespace, nftables dropping 20 % of UDP from the TURN port at random";
        SkipUnless("18d", path, ["packet-loss", "slow-network"]);
        await using var ns = await NetworkNamespace.CreateAsync();
        await ns.DropUdpAsync(s_turnPort, 20);

        var run = await RunInsideAsync(ns, "18d", path, ["packet-loss", "slow-network"], packets: 5_000);

        var measured = run.Metric("webrtc.turn", "udpLossPercent")!.Value;
        var datagrams = run.Metric("webrtc.turn", "udpPackets")!.Value;
        // Three standard deviations of a binomial share over the datagrams counted, and never tighter than 1 point.
        var bound = Math.Max(1, 3 * 100 * Math.Sqrt(0.2 * 0.8 / datagrams));
        measured.ShouldBeInRange(20 - bound, 20 + bound, $"{datagrams} datagrams");
        run.Findings.ShouldContain("packet-loss");
    }

    private static void SkipUnless(string scenario, string path, string[] expected)
    {
        var unavailable = NetworkNamespace.NftablesUnavailable ?? (File.Exists("/usr/bin/turnserver") ? null : "coturn's turnserver is not installed (Debian package coturn).");
        if (unavailable is not null)
        {
            LabResults.Skipped(scenario, path, expected, unavailable);
        }

        Skip.If(unavailable is not null, unavailable);
    }

    private static string Describe(LabRun r) =>
        $"UDP {(r.Metric("webrtc.turn", "udpReachable") == 1 ? $"loss {N(r.Metric("webrtc.turn", "udpLossPercent"))} % of {N(r.Metric("webrtc.turn", "udpPackets"))} datagrams, RTT {N(r.Metric("webrtc.turn", "udpRttMs"))} ms, jitter {N(r.Metric("webrtc.turn", "udpJitterMs"))} ms" : "unreachable")}; TCP {(r.Metric("webrtc.turn", "tcpReachable") == 1 ? $"RTT {N(r.Metric("webrtc.turn", "tcpRttMs"))} ms" : "unreachable")}";

    private async Task<LabRun> RunInsideAsync(NetworkNamespace ns, string scenario, string path, string[] expected, int packets)
    {
        await using var browser = await LaunchBrowserThroughAsync(ns.Wrapper);
        var customer = await RunAsync(new Uri($"http://{ns.HostAddress}:{s_port}"), $"webrtc.turn&turnPackets={packets}", browser: browser, timeoutSeconds: 120);
        var run = await ExpectFindingsAsync(scenario, path, customer, expected, Describe);
        run.Result("server.connection").GetProperty("detail").GetProperty("clientAddress").GetString().ShouldBe(ns.GuestAddress);
        return run;
    }
}
