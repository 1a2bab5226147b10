using System.Globalization;
using System.Security.Cryptography;
using Portal.Testing;

namespace Portal.E2E.Tests.Lab;

/// <summary>
/// A network namespace joined to the host by a veth pair (<c>10.231.N.1</c> on the host, <c>10.231.N.2</c> inside),
/// with traffic shaping on both ends: <c>tbf</c> for a rate, <c>netem</c> for delay and loss. Chromium runs inside it
/// through a wrapper script; the portal listens on the host side. Needs root (CAP_NET_ADMIN) and iproute2.
/// </summary>
public sealed class NetworkNamespace : IAsyncDisposable
{
    private static readonly Lazy<string?> s_unavailable = new(() => Probe(netem: false));
    private static readonly Lazy<string?> s_noNetem = new(() => Probe(netem: true));

    private NetworkNamespace(string name, int subnet)
    {
        Name = name;
        HostAddress = $"10.231.{subnet}.1";
        GuestAddress = $"10.231.{subnet}.2";
        HostDevice = "plh" + name[^6..];
        GuestDevice = "plg" + name[^6..];
        Wrapper = Path.Combine(Path.GetTempPath(), $"{name}-chromium.sh");
    }

    /// <summary>Why namespaces cannot be used here, in one line; null when they can.</summary>
    public static string? Unavailable => s_unavailable.Value;

    /// <summary>Why <c>netem</c> cannot be used here, in one line; null when it can.</summary>
    public static string? NetemUnavailable => Unavailable ?? s_noNetem.Value;

    /// <summary>The namespace's name.</summary>
    public string Name { get; }

    /// <summary>The host side's address: what the browser inside connects to.</summary>
    public string HostAddress { get; }

    /// <summary>The browser's address inside the namespace.</summary>
    public string GuestAddress { get; }

    /// <summary>A script that runs Chromium inside the namespace (Playwright's executable path).</summary>
    public string Wrapper { get; }

    private string HostDevice { get; }

    private string GuestDevice { get; }

    /// <summary>Creates the namespace and its link.</summary>
    public static async Task<NetworkNamespace> CreateAsync()
    {
        var suffix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
        var ns = new NetworkNamespace("portal-lab-" + suffix, RandomNumberGenerator.GetInt32(1, 250));
        await Ip("netns", "add", ns.Name);
        await Ip("link", "add", ns.HostDevice, "type", "veth", "peer", "name", ns.GuestDevice);
        await Ip("link", "set", ns.GuestDevice, "netns", ns.Name);
        await Ip("addr", "add", ns.HostAddress + "/30", "dev", ns.HostDevice);
        await Ip("link", "set", ns.HostDevice, "up");
        await Ip("netns", "exec", ns.Name, "ip", "addr", "add", ns.GuestAddress + "/30", "dev", ns.GuestDevice);
        await Ip("netns", "exec", ns.Name, "ip", "link", "set", ns.GuestDevice, "up");
        await Ip("netns", "exec", ns.Name, "ip", "link", "set", "lo", "up");
        await File.WriteAllTextAsync(ns.Wrapper, $"#!/bin/sh\nexec ip netns exec {ns.Name} /usr/bin/chromium \"$@\"\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(ns.Wrapper, (UnixFileMode)0x1ED);
        }

        return ns;
    }

    /// <summary>
    /// Limits both directions to a rate with a token bucket (tbf) whose queue holds <paramref name="queueMs"/> of
    /// traffic beyond its <paramref name="burstKb"/> burst: 400 ms and 32 KB is a home router's oversized buffer
    /// (bufferbloat, at a slow rate), 10 ms and 3 KB a well-managed one.
    /// </summary>
    public async Task LimitRateAsync(double mbit, int queueMs = 400, int burstKb = 32)
    {
        var rate = mbit.ToString("0.###", CultureInfo.InvariantCulture) + "mbit";
        var latency = queueMs.ToString(CultureInfo.InvariantCulture) + "ms";
        var burst = burstKb.ToString(CultureInfo.InvariantCulture) + "kb";
        await Ip("netns", "exec", Name, "tc", "qdisc", "add", "dev", GuestDevice, "root", "tbf", "rate", rate, "burst", burst, "latency", latency);
        await Tc("qdisc", "add", "dev", HostDevice, "root", "tbf", "rate", rate, "burst", burst, "latency", latency);
    }

    /// <summary>Delays each direction by half the round trip, with jitter, with netem.</summary>
    public async Task DelayAsync(int roundTripMs, int jitterMs)
    {
        var half = (roundTripMs / 2).ToString(CultureInfo.InvariantCulture) + "ms";
        var jitter = (jitterMs / 2).ToString(CultureInfo.InvariantCulture) + "ms";
        await Ip("netns", "exec", Name, "tc", "qdisc", "add", "dev", GuestDevice, "root", "netem", "delay", half, jitter);
        await Tc("qdisc", "add", "dev", HostDevice, "root", "netem", "delay", half, jitter);
    }

    /// <summary>
    /// Drops, with nftables inside the namespace, what arrives for the browser over UDP from <paramref name="port"/>:
    /// every datagram, or each one with <paramref name="percent"/> % chance (<c>numgen random</c>: packet-loss ground
    /// truth where the kernel has no netem). On the way in, as a network loses packets: a drop on the way out would
    /// fail the sender's own send (EPERM), which the browser sees and sends again, so nothing would look lost.
    /// </summary>
    public async Task DropUdpAsync(int port, int percent = 100)
    {
        await Ip("netns", "exec", Name, "nft", "add", "table", "inet", "lab");
        await Ip("netns", "exec", Name, "nft", "add", "chain", "inet", "lab", "in", "{ type filter hook input priority 0 ; }");
        var match = percent >= 100 ? [] : (string[])["numgen", "random", "mod", "100", "<", percent.ToString(CultureInfo.InvariantCulture)];
        await Ip(["netns", "exec", Name, "nft", "add", "rule", "inet", "lab", "in", "udp", "sport", port.ToString(CultureInfo.InvariantCulture), .. match, "drop"]);
    }

    /// <summary>Why nftables cannot be used here, in one line; null when it can.</summary>
    public static string? NftablesUnavailable => Unavailable ?? (File.Exists("/usr/sbin/nft") ? null : "nftables is not installed (Debian package nftables).");

    /// <summary>Removes the namespace (and with it the link) and the wrapper.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await Ip("netns", "del", Name);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        File.Delete(Wrapper);
    }

    private static string? Probe(bool netem)
    {
        try
        {
            var ns = CreateAsync().GetAwaiter().GetResult();
            try
            {
                if (netem)
                {
                    ns.DelayAsync(2, 0).GetAwaiter().GetResult();
                }
            }
            finally
            {
                ns.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            return null;
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // "ip … failed (2):\nError: Specified qdisc kind is unknown." → the kernel's own words.
            var reason = ex.Message[(ex.Message.LastIndexOf(": ", StringComparison.Ordinal) + 2)..].Trim().TrimEnd('.');
            return netem
                ? $"tc netem is not available in this kernel ({reason}); it needs the sch_netem module."
                : $"network namespaces are not available here ({reason}); they need root with CAP_NET_ADMIN and iproute2.";
        }
    }

    private static Task Ip(params string[] arguments) => LabProcess.RunAsync("ip", arguments);

    private static Task Tc(params string[] arguments) => LabProcess.RunAsync("tc", arguments);
}
