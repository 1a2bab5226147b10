using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Portal.Probes;

/// <summary>The guard's answer about a target or an address: allowed, or refused with the reason in plain words.</summary>
public sealed record GuardDecision(bool Allowed, string? Reason)
{
    /// <summary>An allowed target or address.</summary>
    public static readonly GuardDecision Allow = new(true, null);

    /// <summary>A refusal, with its reason.</summary>
    public static GuardDecision Refuse(string reason) => new(false, reason);
}

/// <summary>Resolves a host name to addresses of one family (the default is the system's resolver).</summary>
public delegate Task<IPAddress[]> HostResolver(string host, AddressFamily family, CancellationToken cancellationToken);

/// <summary>
/// Keeps server-side probes off the portal's own network (SSRF): loopback, private, link-local, CGNAT, multicast,
/// unspecified and reserved addresses, their IPv4-mapped, -compatible, NAT64 and 6to4 IPv6 forms, and IPv4
/// addresses spelt in decimal, octal or hex are refused; the cloud metadata addresses always are, whatever the
/// allow-list says. An admin allow-list of CIDRs and host names opens exactly what it names. Resolution happens
/// once, every address is checked, and probes connect only to the checked addresses.
/// </summary>
public sealed partial class AddressGuard
{
    /// <summary>Cloud metadata services: never reachable by a probe, even through the allow-list.</summary>
    public static readonly IReadOnlyList<IPAddress> MetadataAddresses =
    [
        IPAddress.Parse("169.254.169.254"), IPAddress.Parse("169.254.170.2"), IPAddress.Parse("100.100.100.200"), IPAddress.Parse("fd00:ec2::254"),
    ];

    private static readonly (IPNetwork Network, string Reason)[] s_forbidden =
    [
        (IPNetwork.Parse("0.0.0.0/8"), "an unspecified address (0.0.0.0/8)"),
        (IPNetwork.Parse("10.0.0.0/8"), "a private address (10.0.0.0/8)"),
        (IPNetwork.Parse("100.64.0.0/10"), "a carrier-grade NAT address (100.64.0.0/10)"),
        (IPNetwork.Parse("127.0.0.0/8"), "a loopback address (127.0.0.0/8)"),
        (IPNetwork.Parse("169.254.0.0/16"), "a link-local address (169.254.0.0/16)"),
        (IPNetwork.Parse("172.16.0.0/12"), "a private address (172.16.0.0/12)"),
        (IPNetwork.Parse("192.0.0.0/24"), "an IETF protocol address (192.0.0.0/24)"),
        (IPNetwork.Parse("192.0.2.0/24"), "a documentation address (192.0.2.0/24)"),
        (IPNetwork.Parse("192.168.0.0/16"), "a private address (192.168.0.0/16)"),
        (IPNetwork.Parse("198.18.0.0/15"), "a benchmarking address (198.18.0.0/15)"),
        (IPNetwork.Parse("198.51.100.0/24"), "a documentation address (198.51.100.0/24)"),
        (IPNetwork.Parse("203.0.113.0/24"), "a documentation address (203.0.113.0/24)"),
        (IPNetwork.Parse("224.0.0.0/4"), "a multicast address (224.0.0.0/4)"),
        (IPNetwork.Parse("240.0.0.0/4"), "a reserved or broadcast address (240.0.0.0/4)"),
        (IPNetwork.Parse("::/128"), "the unspecified IPv6 address (::)"),
        (IPNetwork.Parse("::1/128"), "the IPv6 loopback address (::1)"),
        (IPNetwork.Parse("::/96"), "an IPv4-compatible IPv6 address (::/96)"),
        (IPNetwork.Parse("100::/64"), "an IPv6 discard address (100::/64)"),
        (IPNetwork.Parse("64:ff9b:1::/48"), "a local-use NAT64 address (64:ff9b:1::/48), which a local translator turns into an IPv4 address of its own network"),
        (IPNetwork.Parse("2001::/32"), "a Teredo address, which hides its IPv4 address (2001::/32)"),
        (IPNetwork.Parse("2001:db8::/32"), "an IPv6 documentation address (2001:db8::/32)"),
        (IPNetwork.Parse("fc00::/7"), "a unique-local (private) IPv6 address (fc00::/7)"),
        (IPNetwork.Parse("fe80::/10"), "a link-local IPv6 address (fe80::/10)"),
        (IPNetwork.Parse("fec0::/10"), "a site-local IPv6 address (fec0::/10)"),
        (IPNetwork.Parse("ff00::/8"), "a multicast IPv6 address (ff00::/8)"),
    ];

    private static readonly IPNetwork s_nat64 = IPNetwork.Parse("64:ff9b::/96");
    // SIIT's IPv4-translated addresses (RFC 2765): 0:0:0:0:ffff:0:a.b.c.d, not to be confused with the mapped ::ffff:a.b.c.d.
    private static readonly IPNetwork s_siit = new(IPAddress.Parse("::ffff:0:0:0"), 96);
    private static readonly IPNetwork s_6to4 = IPNetwork.Parse("2002::/16");

    private readonly List<IPNetwork> _allowedNetworks = [];
    private readonly HashSet<string> _allowedHosts = new(StringComparer.OrdinalIgnoreCase);
    private readonly string[] _entries;

    /// <summary>Creates a guard with an allow-list of CIDRs (<c>10.1.2.0/24</c>, <c>127.0.0.1/32</c>, a bare address) and host names.</summary>
    public AddressGuard(IEnumerable<string>? allowList = null)
    {
        _entries = [.. allowList ?? []];
        foreach (var entry in _entries)
        {
            var text = entry.Trim();
            if (text.Length == 0)
            {
                continue;
            }

            if (IPNetwork.TryParse(text, out var network))
            {
                _allowedNetworks.Add(network);
            }
            else if (IPAddress.TryParse(text, out var address))
            {
                _allowedNetworks.Add(new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128));
            }
            else
            {
                _allowedHosts.Add(text.TrimEnd('.'));
            }
        }
    }

    /// <summary>
    /// This guard with one more host name allowed (metadata addresses stay forbidden): the portal's own public host,
    /// for the admin's deployment check only.
    /// </summary>
    public AddressGuard AlsoAllowing(string host) => new([.. _entries, host]);

    /// <summary>
    /// Checks a target before anything is resolved: its host spelling and, for an IP literal, the address. Used when
    /// a target is added, so that a forbidden one is refused at once.
    /// </summary>
    public GuardDecision CheckTarget(ProbeTarget target)
    {
        ArgumentNullException.ThrowIfNull(target);
        var host = target.Host;
        if (NumericHost().IsMatch(host) && !CanonicalIPv4().IsMatch(host))
        {
            return GuardDecision.Refuse($"'{host}' spells an IPv4 address in decimal, octal or hex; write it as four decimal numbers.");
        }

        if (IPAddress.TryParse(host, out var address))
        {
            return CheckAddress(address, hostAllowed: false);
        }

        if (_allowedHosts.Contains(host))
        {
            return GuardDecision.Allow;
        }

        if (host == "localhost" || host.EndsWith(".localhost", StringComparison.Ordinal))
        {
            return GuardDecision.Refuse($"'{host}' always names the portal's own machine (loopback).");
        }

        return GuardDecision.Allow;
    }

    /// <summary>
    /// Parses a target and checks it before resolution (<see cref="CheckTarget"/>): false with an error that names
    /// the target and the reason when it is malformed or forbidden.
    /// </summary>
    public bool TryAccept(string? text, out ProbeTarget target, out string error)
    {
        // Named as written, but with control characters made visible: the error goes into logs and pages.
        var named = text is null ? "(null)" : string.Concat((text.Length > 80 ? text[..80] + "…" : text).Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));
        if (!ProbeTarget.TryParse(text, out target, out var parseError))
        {
            error = $"'{named}': {parseError}";
            return false;
        }

        var decision = CheckTarget(target);
        error = decision.Allowed ? string.Empty : $"'{named}' is refused: {decision.Reason}";
        return decision.Allowed;
    }

    /// <summary>Checks one address a target's host resolved to.</summary>
    /// <param name="address">The address.</param>
    /// <param name="hostAllowed">True when the host name itself is on the allow-list.</param>
    public GuardDecision CheckAddress(IPAddress address, bool hostAllowed)
    {
        ArgumentNullException.ThrowIfNull(address);
        var embedded = EmbeddedIPv4(address);
        foreach (var candidate in embedded is null ? [address] : new[] { address, embedded })
        {
            if (MetadataAddresses.Any(m => m.Equals(candidate)))
            {
                return GuardDecision.Refuse($"{address} is a cloud metadata address, which probes may never reach.");
            }
        }

        if (hostAllowed || _allowedNetworks.Any(n => n.Contains(address) || (embedded is not null && n.Contains(embedded))))
        {
            return GuardDecision.Allow;
        }

        foreach (var candidate in embedded is null ? [address] : new[] { embedded, address })
        {
            foreach (var (network, reason) in s_forbidden)
            {
                if (network.BaseAddress.AddressFamily == candidate.AddressFamily && network.Contains(candidate))
                {
                    // An IPv4-compatible address whose IPv4 part is public is still refused, by its own range.
                    return GuardDecision.Refuse(candidate == address ? $"{address} is {reason}." : $"{address} embeds {embedded}, {reason}.");
                }
            }
        }

        return GuardDecision.Allow;
    }

    /// <summary>
    /// Resolves a target's host once (A and AAAA) and checks every address. Refused when the spelling is refused or
    /// any address is: a name that also resolves to a private address is not probed at all.
    /// </summary>
    public async Task<GuardedTarget> ResolveAsync(ProbeTarget target, HostResolver resolver, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(resolver);
        var spelling = CheckTarget(target);
        if (!spelling.Allowed)
        {
            return new GuardedTarget(target, [], [], spelling, TimeSpan.Zero, TimeSpan.Zero, null);
        }

        IPAddress[] v4;
        IPAddress[] v6;
        var v4Time = TimeSpan.Zero;
        var v6Time = TimeSpan.Zero;
        string? error = null;
        if (IPAddress.TryParse(target.Host, out var literal))
        {
            v4 = literal.AddressFamily == AddressFamily.InterNetwork ? [literal] : [];
            v6 = literal.AddressFamily == AddressFamily.InterNetworkV6 ? [literal] : [];
        }
        else
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            v4 = await TryResolveAsync(resolver, target.Host, AddressFamily.InterNetwork, cancellationToken);
            v4Time = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            started = System.Diagnostics.Stopwatch.GetTimestamp();
            v6 = await TryResolveAsync(resolver, target.Host, AddressFamily.InterNetworkV6, cancellationToken);
            v6Time = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            if (v4.Length == 0 && v6.Length == 0)
            {
                error = $"'{target.Host}' did not resolve to any address.";
            }
        }

        var hostAllowed = _allowedHosts.Contains(target.Host);
        foreach (var address in v4.Concat(v6))
        {
            var decision = CheckAddress(address, hostAllowed);
            if (!decision.Allowed)
            {
                return new GuardedTarget(target, v4, v6, GuardDecision.Refuse($"'{target.Host}' resolves to {address}: {decision.Reason}"), v4Time, v6Time, null);
            }
        }

        return new GuardedTarget(target, v4, v6, GuardDecision.Allow, v4Time, v6Time, error);
    }

    /// <summary>The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), or null.</summary>
    public static IPAddress? EmbeddedIPv4(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return null;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        var bytes = address.GetAddressBytes();
        if (s_nat64.Contains(address) || s_siit.Contains(address) || (bytes.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0 && !(bytes[12] == 0 && bytes[13] == 0 && bytes[14] == 0 && bytes[15] <= 1)))
        {
            return new IPAddress(bytes.AsSpan(12, 4));
        }

        return s_6to4.Contains(address) ? new IPAddress(bytes.AsSpan(2, 4)) : null;
    }

    private static async Task<IPAddress[]> TryResolveAsync(HostResolver resolver, string host, AddressFamily family, CancellationToken cancellationToken)
    {
        try
        {
            return await resolver(host, family, cancellationToken);
        }
        catch (SocketException)
        {
            return [];
        }
    }

    // Dotted numbers or 0x-prefixed hex parts: what inet_aton and URL parsers read as an IPv4 address.
    [GeneratedRegex(@"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex NumericHost();

    [GeneratedRegex(@"^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$", RegexOptions.CultureInvariant)]
    private static partial Regex CanonicalIPv4();
}

/// <summary>A target after the guard: the addresses it resolved to (checked, the only ones probes may use) and the decision.</summary>
public sealed record GuardedTarget(
    ProbeTarget Target,
    IReadOnlyList<IPAddress> IPv4,
    IReadOnlyList<IPAddress> IPv6,
    GuardDecision Decision,
    TimeSpan IPv4ResolveTime,
    TimeSpan IPv6ResolveTime,
    string? ResolveError);
