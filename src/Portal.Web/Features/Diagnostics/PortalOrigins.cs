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
public sealed class PortalOrigins(IServer server, IOptionsMonitor<PortalOptions> options)
{
    /// <summary>Every origin of this portal.</summary>
    public IReadOnlyList<string> All()
    {
        var listening = (server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [])
            .Select(a => Uri.TryCreate(a, UriKind.Absolute, out var u) && u.Host is not ("0.0.0.0" or "[::]" or "+" or "*") ? u.GetLeftPart(UriPartial.Authority) : null)
            .OfType<string>();
        var configured = options.CurrentValue.AlternateOrigins
            .Select(o => Uri.TryCreate(o, UriKind.Absolute, out var u) && u.Scheme is "http" or "https" ? u.GetLeftPart(UriPartial.Authority) : null)
            .OfType<string>();
        return [.. listening.Concat(configured).Distinct(StringComparer.OrdinalIgnoreCase)];
    }

    /// <summary>Whether an origin is one of this portal's.</summary>
    public bool IsOwn(string origin) => All().Contains(origin.TrimEnd('/'), StringComparer.OrdinalIgnoreCase);

    /// <summary>The portal's origins other than the one a request came to.</summary>
    public IReadOnlyList<string> Others(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var self = $"{request.Scheme}://{request.Host}";
        return [.. All().Where(o => !string.Equals(o, self, StringComparison.OrdinalIgnoreCase))];
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
