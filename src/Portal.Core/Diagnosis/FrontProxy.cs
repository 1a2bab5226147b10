using System.Net;

namespace Portal.Core.Diagnosis;

/// <summary>What the portal knows of one request of the customer's page, as it arrived.</summary>
/// <param name="PageOrigin">The origin the page was loaded from (<c>location.origin</c>, else the request's <c>Origin</c>); null when unknown.</param>
/// <param name="Host">The request's <c>Host</c> header.</param>
/// <param name="ConnectionIsTls">Whether the connection the portal accepted was TLS (Kestrel terminated it).</param>
/// <param name="LocalPort">The port the portal accepted the connection on.</param>
/// <param name="PeerAddress">The address of the peer that connected to the portal.</param>
/// <param name="PeerTrusted">Whether that peer is one of <c>Portal:TrustedProxies</c>.</param>
/// <param name="Headers">The proxy headers the request carried, by name.</param>
/// <param name="OwnOrigins">The origins configured as the portal's own (public origin, alternate and allowed origins).</param>
/// <param name="IsTrusted">Whether an address (from <c>X-Forwarded-For</c>) is a trusted proxy.</param>
public sealed record RequestFacts(
    string? PageOrigin, string Host, bool ConnectionIsTls, int LocalPort, string? PeerAddress, bool PeerTrusted,
    IReadOnlyDictionary<string, string> Headers, IReadOnlyCollection<string> OwnOrigins, Func<string, bool> IsTrusted);

/// <summary>
/// Who added what on the way in: the proxy of the portal's own deployment directly in front of it, or proxies of the
/// customer's network before that; and what is wrong with the deployment's proxy, as codes of
/// <see cref="DeploymentProblems"/>.
/// </summary>
/// <param name="FrontProxy">True when a proxy of the portal's deployment stands in front of it.</param>
/// <param name="FrontEvidence">Why the portal thinks so, in plain words (empty when it does not).</param>
/// <param name="FrontHeaders">The proxy headers that proxy added: the portal's, not the customer's.</param>
/// <param name="ForeignHeaders">The proxy headers left over: from the customer's side.</param>
/// <param name="Problems">What the deployment's proxy gets wrong.</param>
public sealed record FrontProxyView(bool FrontProxy, IReadOnlyList<string> FrontEvidence, IReadOnlyList<string> FrontHeaders, IReadOnlyList<string> ForeignHeaders, IReadOnlyList<string> Problems);

/// <summary>The problems of the portal's own deployment the portal can see in a request.</summary>
public static class DeploymentProblems
{
    /// <summary>A proxy in front of the portal sends forwarding headers, but is not listed in <c>Portal:TrustedProxies</c>.</summary>
    public const string UntrustedProxy = "untrusted-proxy";

    /// <summary>The proxy replaced the Host the browser sent (typically nginx <c>Host $host</c>, which drops the port).</summary>
    public const string HostRewritten = "host-rewritten";

    /// <summary>TLS ends in front of the portal and no trusted <c>X-Forwarded-Proto</c> says so.</summary>
    public const string SchemeNotForwarded = "scheme-not-forwarded";

    /// <summary>
    /// An untrusted proxy in front of the portal sends no forwarding header at all: every customer appears to come from
    /// the proxy's address, and per-address limits count them all as one.
    /// </summary>
    public const string ClientAddressHidden = "client-address-hidden";

    /// <summary>
    /// A WebSocket upgrade came through the portal's unconfigured front proxy without its Upgrade/Connection headers
    /// (found by the rules from the echo step, not by one request alone).
    /// </summary>
    public const string UpgradeNotForwarded = "upgrade-not-forwarded";
}

/// <summary>Tells the portal's own front proxy from the customer's proxies. Pure: every fact comes in <see cref="RequestFacts"/>.</summary>
public static class FrontProxy
{
    /// <summary>Headers only a reverse proxy adds (a forward proxy on the customer's side has no use for them).</summary>
    public static readonly IReadOnlyList<string> ReverseProxyHeaders = ["X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port", "X-Real-IP"];

    /// <summary>Headers that carry the hop a proxy came from; the front proxy adds one hop of each.</summary>
    private static readonly string[] HopHeaders = ["X-Forwarded-For", "Forwarded", "Via"];

    /// <summary>Judges one request.</summary>
    public static FrontProxyView Judge(RequestFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var headers = facts.Headers;
        var page = facts.PageOrigin is { } o && Uri.TryCreate(o, UriKind.Absolute, out var u) && u.Scheme is "http" or "https" ? u : null;
        var pageIsOwn = page is not null && facts.OwnOrigins.Any(own => string.Equals(own.TrimEnd('/'), page.GetLeftPart(UriPartial.Authority), StringComparison.OrdinalIgnoreCase));
        var evidence = new List<string>();
        var hostRewritten = false;
        var tlsInFront = false;
        if (page is not null)
        {
            var pageAuthority = page.IsDefaultPort ? page.Host : $"{page.Host}:{page.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
            if (page.Port != facts.LocalPort)
            {
                evidence.Add($"the page came from port {page.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}, the portal listens on {facts.LocalPort.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
            }

            if (page.Scheme == "https" && !facts.ConnectionIsTls)
            {
                tlsInFront = true;
                evidence.Add("the page came over https, the portal received plain http");
            }

            if (!string.Equals(StripDefaultPort(facts.Host, page.Scheme), pageAuthority, StringComparison.OrdinalIgnoreCase))
            {
                hostRewritten = true;
                evidence.Add($"the browser asked for {pageAuthority}, the portal received Host {(facts.Host.Length == 0 ? "(none)" : facts.Host)}");
            }
        }

        var reverseOnly = ReverseProxyHeaders.Where(headers.ContainsKey).ToList();
        if (reverseOnly.Count > 0)
        {
            evidence.Add($"the request carries {string.Join(", ", reverseOnly)}, which only a reverse proxy adds");
        }

        var forwarding = HopHeaders.Where(headers.ContainsKey).Concat(reverseOnly).ToList();
        if (facts.PeerTrusted && forwarding.Count > 0)
        {
            evidence.Add($"{facts.PeerAddress} is a trusted proxy");
        }

        var front = evidence.Count > 0;
        if (!front)
        {
            return new FrontProxyView(false, [], [], [.. headers.Keys], []);
        }

        // A trusted proxy's forwarding headers are the deployment's by configuration; a Via is not (the deployment's
        // proxies are known not to add one). An untrusted front proxy adds one hop to X-Forwarded-For, maybe a Via and
        // a Forwarded element: more hops than that came from proxies before it, the customer's.
        var hops = ForwardedHops(headers, facts.IsTrusted);
        var customerHops = facts.PeerTrusted || hops > 1;
        var frontHeaders = new List<string>();
        var foreign = new List<string>();
        foreach (var name in headers.Keys)
        {
            var isHop = HopHeaders.Contains(name, StringComparer.OrdinalIgnoreCase);
            var isReverse = ReverseProxyHeaders.Contains(name, StringComparer.OrdinalIgnoreCase);
            if (isReverse || (facts.PeerTrusted && name == "X-Forwarded-For") || (isHop && !customerHops && Entries(headers[name]) <= 1))
            {
                frontHeaders.Add(name);
            }
            else
            {
                foreign.Add(name);
            }
        }

        var problems = new List<string>();
        if (!facts.PeerTrusted && forwarding.Count > 0)
        {
            problems.Add(DeploymentProblems.UntrustedProxy);
        }

        // A trusted peer without headers is a choice the admin made (stunnel cannot add any).
        if (!facts.PeerTrusted && !headers.ContainsKey("X-Forwarded-For") && !headers.ContainsKey("Forwarded") && !headers.ContainsKey("X-Real-IP"))
        {
            problems.Add(DeploymentProblems.ClientAddressHidden);
        }

        if (hostRewritten && !pageIsOwn)
        {
            problems.Add(DeploymentProblems.HostRewritten);
        }

        var protoForwarded = facts.PeerTrusted && headers.TryGetValue("X-Forwarded-Proto", out var proto) && proto.Contains("https", StringComparison.OrdinalIgnoreCase);
        if (tlsInFront && !protoForwarded && !pageIsOwn)
        {
            problems.Add(DeploymentProblems.SchemeNotForwarded);
        }

        return new FrontProxyView(true, evidence, frontHeaders, foreign, problems);
    }

    /// <summary>The hops in <c>X-Forwarded-For</c> that are not trusted proxies of the deployment.</summary>
    private static int ForwardedHops(IReadOnlyDictionary<string, string> headers, Func<string, bool> isTrusted) =>
        headers.TryGetValue("X-Forwarded-For", out var xff)
            ? xff.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Count(a => !IPAddress.TryParse(a, out _) || !isTrusted(a))
            : 0;

    private static int Entries(string value) => value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Length;

    private static string StripDefaultPort(string host, string scheme) =>
        scheme == "https" && host.EndsWith(":443", StringComparison.Ordinal) ? host[..^4]
        : scheme == "http" && host.EndsWith(":80", StringComparison.Ordinal) ? host[..^3]
        : host;
}
