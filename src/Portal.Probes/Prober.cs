using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;

namespace Portal.Probes;

/// <summary>
/// Probes a target from the portal's side: DNS, TCP per address family, TLS with and without SNI (certificate
/// chain and the exact validation problem), HTTP with its redirect chain, and a WebSocket upgrade with an echo and
/// idle survival. Polite: every step has a time-out, every handshake is completed or aborted cleanly, and one
/// target has at most one probe connection open at a time, whoever asks.
/// </summary>
public sealed partial class Prober
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _perTarget = new(StringComparer.OrdinalIgnoreCase);
    private readonly HostResolver _resolver;
    private readonly ProbeOptions _options;
    private AddressGuard _guard;
    // The configured extra roots and the system's, read once: null when only the system's are trusted.
    private readonly X509Certificate2Collection? _trustStore;

    /// <summary>Creates a prober with a guard built from the options' allow-list.</summary>
    public Prober(ProbeOptions options, HostResolver? resolver = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _guard = new AddressGuard(options.AllowList);
        _resolver = resolver ?? SystemResolver;
        if (options.TrustedRoots.Count > 0)
        {
            _trustStore = [];
            foreach (var path in options.TrustedRoots)
            {
                _trustStore.ImportFromPemFile(path);
            }

            using var system = new X509Store(StoreName.Root, StoreLocation.LocalMachine);
            system.Open(OpenFlags.ReadOnly);
            _trustStore.AddRange(system.Certificates);
        }
    }

    /// <summary>The system's resolver (the machine's DNS settings and hosts file).</summary>
    public static Task<IPAddress[]> SystemResolver(string host, AddressFamily family, CancellationToken cancellationToken) =>
        System.Net.Dns.GetHostAddressesAsync(host, family, cancellationToken);

    /// <summary>The address guard every probe goes through; replaced as a whole when an admin changes the allow-list.</summary>
    public AddressGuard Guard { get => Volatile.Read(ref _guard); set => Volatile.Write(ref _guard, value ?? throw new ArgumentNullException(nameof(value))); }

    /// <summary>Whether a probe of this target is running now (one connection per target at a time): a caller with other
    /// work can do that first instead of waiting.</summary>
    public bool IsBusy(ProbeTarget target)
    {
        ArgumentNullException.ThrowIfNull(target);
        return _perTarget.TryGetValue($"{target.Host}:{target.Port}", out var gate) && gate.CurrentCount == 0;
    }

    /// <summary>The resolver probes use, for others that must resolve the same way (webhooks).</summary>
    public HostResolver Resolver => _resolver;

    /// <summary>Runs every probe that fits the target, yielding each result as soon as it is known.</summary>
    /// <param name="target">The target.</param>
    /// <param name="idleSeconds">How long to hold a WebSocket quiet (0: no idle probe); the options' value when null.</param>
    /// <param name="guard">The guard for this target; <see cref="Guard"/> when null.</param>
    /// <param name="cancellationToken">Stops the probe; connections are still closed.</param>
    public async IAsyncEnumerable<ProbeResult> ProbeAsync(ProbeTarget target, int? idleSeconds = null, AddressGuard? guard = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        guard ??= Guard;
        var guarded = await guard.ResolveAsync(target, _resolver, cancellationToken);
        if (!guarded.Decision.Allowed)
        {
            yield return Blocked(target, guarded.Decision);
            yield break;
        }

        var gate = _perTarget.GetOrAdd($"{target.Host}:{target.Port}", _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            yield return Dns(guarded);
            if (guarded.IPv4.Count + guarded.IPv6.Count == 0)
            {
                yield break;
            }

            var (tcp, reachable) = await TcpAsync(guarded, cancellationToken);
            yield return tcp;
            if (reachable is null)
            {
                yield break;
            }

            if (target.UsesTls)
            {
                var tls = await TlsAsync(target, reachable, guard, cancellationToken);
                yield return tls;
                if (tls.Metrics["sniOk"] == 0 && tls.Metrics["noSniOk"] != 1)
                {
                    // Without a TLS session HTTP and WebSocket would only fail the same way, and hold the server longer.
                    yield break;
                }
            }

            if (target.IsHttp)
            {
                yield return await HttpAsync(guarded, guard, cancellationToken);
            }

            if (target.IsWebSocket)
            {
                var idle = idleSeconds ?? _options.IdleSeconds;
                await foreach (var result in WebSocketAsync(target, reachable, idle, cancellationToken))
                {
                    yield return result;
                }
            }
        }
        finally
        {
            gate.Release();
        }
    }

    private static ProbeResult Dns(GuardedTarget guarded)
    {
        var count = guarded.IPv4.Count + guarded.IPv6.Count;
        var literal = IPAddress.TryParse(guarded.Target.Host, out _);
        return Result(
            "probe.dns", count > 0 ? "pass" : "fail",
            new()
            {
                ["a"] = guarded.IPv4.Count,
                ["aaaa"] = guarded.IPv6.Count,
                ["aMs"] = literal ? null : Math.Round(guarded.IPv4ResolveTime.TotalMilliseconds, 2),
                ["aaaaMs"] = literal ? null : Math.Round(guarded.IPv6ResolveTime.TotalMilliseconds, 2),
            },
            guarded.Target,
            new() { ["ipv4"] = guarded.IPv4.Select(a => a.ToString()).ToList(), ["ipv6"] = guarded.IPv6.Select(a => a.ToString()).ToList(), ["literal"] = literal },
            count == 0 ? guarded.ResolveError ?? $"{guarded.Target.Host} has no address."
                : literal ? $"{guarded.Target.Host} is an address; nothing to resolve."
                : $"{guarded.Target.Host} resolves to {guarded.IPv4.Count} IPv4 and {guarded.IPv6.Count} IPv6 address(es).");
    }

    /// <summary>Connects to the first few addresses of each family, one at a time; returns the first that answered.</summary>
    private async Task<(ProbeResult Result, IPAddress? Reachable)> TcpAsync(GuardedTarget guarded, CancellationToken cancellationToken)
    {
        var attempts = new List<Dictionary<string, object?>>();
        IPAddress? reachable = null;
        double? v4Ms = null;
        double? v6Ms = null;
        foreach (var address in guarded.IPv4.Take(3).Concat(guarded.IPv6.Take(3)))
        {
            var (socket, ms, error) = await Connections.ConnectAsync(address, guarded.Target.Port, _options.ConnectTimeout, cancellationToken);
            attempts.Add(new() { ["address"] = address.ToString(), ["connected"] = socket is not null, ["ms"] = ms, ["error"] = error });
            if (socket is null)
            {
                continue;
            }

            await Connections.CloseAsync(socket);
            reachable ??= address;
            if (address.AddressFamily == AddressFamily.InterNetwork)
            {
                v4Ms ??= ms;
            }
            else
            {
                v6Ms ??= ms;
            }
        }

        var connected = attempts.Count(a => (bool)a["connected"]!);
        var status = connected == attempts.Count ? "pass" : connected > 0 ? "warn" : "fail";
        var summary = connected == 0
            ? $"No address of {guarded.Target.Host} accepted a TCP connection on port {guarded.Target.Port} ({attempts[0]["error"]})."
            : $"TCP to port {guarded.Target.Port} connects" + (v4Ms is not null ? $" over IPv4 in {v4Ms} ms" : string.Empty) + (v6Ms is not null ? $" over IPv6 in {v6Ms} ms" : string.Empty) + (connected < attempts.Count ? $"; {attempts.Count - connected} address(es) did not answer." : ".");
        var result = Result("probe.tcp", status, new() { ["ipv4ConnectMs"] = v4Ms, ["ipv6ConnectMs"] = v6Ms, ["connected"] = connected, ["attempted"] = attempts.Count },
            guarded.Target, new() { ["attempts"] = attempts }, summary);
        return (result, reachable);
    }

    /// <summary>The result of a target the guard did not let the portal probe.</summary>
    private static ProbeResult Blocked(ProbeTarget target, GuardDecision decision) =>
        Result("probe.target", "blocked", new() { ["blocked"] = 1 }, target, new() { ["reason"] = decision.Reason }, $"The portal did not probe {target}: {decision.Reason}");

    private static ProbeResult Result(string step, string status, Dictionary<string, double?> metrics, ProbeTarget target, Dictionary<string, object?> detail, string summary)
    {
        detail["target"] = target.Original;
        detail["summary"] = summary;
        return new ProbeResult(step, status, metrics, detail);
    }
}
