using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Portal.Web.Features.Diagnostics;

/// <summary>
/// The origins one portal answers on: the addresses Kestrel listens on (wildcard bindings are no origin) and those
/// configured in <c>Portal:AlternateOrigins</c> (another scheme or port reached through a proxy). The battery tests
/// cross-origin requests and the WebSocket variants (<c>ws://</c> versus <c>wss://</c>, another port) against them,
/// and the portal trusts them as its own.
/// </summary>
public sealed class PortalOrigins(IServer server, IOptionsMonitor<PortalOptions> options, Ingest.ConnectionObserver observer)
{
    /// <summary>Every origin of this portal.</summary>
    public IReadOnlyList<string> All() => [.. Listening().Concat(Configured()).Distinct(StringComparer.OrdinalIgnoreCase)];

    /// <summary>The addresses Kestrel listens on (wildcard bindings are no origin).</summary>
    public IEnumerable<string> Listening() =>
        (server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [])
            .Select(a => Uri.TryCreate(a, UriKind.Absolute, out var u) && u.Host is not ("0.0.0.0" or "[::]" or "+" or "*") ? u.GetLeftPart(UriPartial.Authority) : null)
            .OfType<string>();

    /// <summary>The configured public and alternate origins: reachable by customers by definition.</summary>
    public IEnumerable<string> Configured() =>
        options.CurrentValue.AlternateOrigins.Append(options.CurrentValue.PublicOrigin ?? "")
            .Select(o => Uri.TryCreate(o, UriKind.Absolute, out var u) && u.Scheme is "http" or "https" ? u.GetLeftPart(UriPartial.Authority) : null)
            .OfType<string>();

    /// <summary>
    /// Whether the request came straight to one of the addresses the portal listens on: its Host names the port it
    /// arrived on, no header only a reverse proxy adds is there, and the peer is not a trusted proxy. Only then can the
    /// customer be assumed to reach the portal's other listening addresses; through a proxy in front, only configured
    /// origins are public. (A forward proxy of the customer's reaches the listening address itself: it counts as straight.)
    /// </summary>
    public bool CameStraight(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var port = request.Host.Port ?? (request.IsHttps ? 443 : 80);
        var peer = request.HttpContext.Connection.RemoteIpAddress;
        return port == request.HttpContext.Connection.LocalPort
            && !Portal.Core.Diagnosis.FrontProxy.ReverseProxyHeaders.Any(request.Headers.ContainsKey)
            && !(peer is not null && observer.IsTrusted(peer) && request.Headers.ContainsKey("X-Forwarded-For"));
    }

    /// <summary>
    /// The origin links are built on: <c>Portal:PublicOrigin</c> when set, else the scheme and Host the request
    /// arrived with (a console reached at <paramref name="requestBase"/>, e.g. Blazor's base URI).
    /// </summary>
    public string LinkBase(string requestBase) =>
        options.CurrentValue.PublicOrigin is { Length: > 0 } configured ? configured.TrimEnd('/') : requestBase.TrimEnd('/');

    /// <summary>Whether an origin is one of this portal's.</summary>
    public bool IsOwn(string origin) => All().Contains(origin.TrimEnd('/'), StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The portal's origins other than the one a request came to, that the customer can reach: its listening
    /// addresses only when the request came straight to one (<see cref="CameStraight"/>), the configured ones always.
    /// </summary>
    public IReadOnlyList<string> Others(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var self = $"{request.Scheme}://{request.Host}";
        var reachable = CameStraight(request) ? All() : [.. Configured().Distinct(StringComparer.OrdinalIgnoreCase)];
        return [.. reachable.Where(o => !string.Equals(o, self, StringComparison.OrdinalIgnoreCase))];
    }

    /// <summary>
    /// Why the portal's listening addresses were left out of the battery for this request (it came through a proxy
    /// in front), or null when they were not.
    /// </summary>
    public string? SkippedReason(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var skipped = CameStraight(request) ? [] : Listening().Except(Configured(), StringComparer.OrdinalIgnoreCase).ToList();
        return skipped.Count == 0
            ? null
            : $"The page came through a proxy in front of the portal, so the portal's own listening addresses ({string.Join(", ", skipped)}) were not tried: the customer's network cannot be expected to reach them. List public ones in Portal__AlternateOrigins__N to test them.";
    }

    /// <summary>
    /// The origin for the cross-origin step: another origin on the page's own scheme, else an https one (an https
    /// page may not fetch from http); null when there is none.
    /// </summary>
    public string? CrossOriginTarget(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var others = Others(request);
        return others.FirstOrDefault(o => o.StartsWith(request.Scheme + "://", StringComparison.OrdinalIgnoreCase))
            ?? others.FirstOrDefault(o => o.StartsWith("https://", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The WebSocket forms (<c>ws://</c>, <c>wss://</c>) of the portal's other origins.</summary>
    public IReadOnlyList<string> WebSocketVariants(HttpRequest request) =>
        [.. Others(request).Select(o => o.StartsWith("https://", StringComparison.OrdinalIgnoreCase) ? "wss://" + o["https://".Length..] : "ws://" + o["http://".Length..])];
}
