using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Options;
using Portal.Core.Diagnosis;
using Portal.Core.Results;
using Portal.Core.Tls;
using Portal.Web.Features.Diagnostics;

namespace Portal.Web.Features.Ingest;

/// <summary>
/// Describes the customer's own request as the portal received it: the client address (forwarding headers are
/// believed only from configured trusted proxies; from anyone else they are evidence of a proxy), proxy headers,
/// HTTP version, whether a WebSocket upgrade kept its <c>Upgrade</c>/<c>Connection</c> headers, and TLS details
/// where Kestrel terminated TLS.
/// </summary>
public sealed class ConnectionObserver(IOptionsMonitor<PortalOptions> options, TimeProvider time)
{
    /// <summary>Headers that proxies add or that only proxies send.</summary>
    public static readonly string[] ProxyHeaders =
    [
        "Via", "Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port", "X-Real-IP",
        "X-Client-IP", "X-Proxy-ID", "X-BlueCoat-Via", "Proxy-Connection", "X-Cache", "X-Squid-Error", "Client-IP", "X-Originating-IP",
    ];

    /// <summary>
    /// Builds the <c>server.connection</c> result of a run from the request that carried it. <paramref name="pageOrigin"/>
    /// is the origin the page says it was loaded from; without it the request's <c>Origin</c> header stands in.
    /// </summary>
    public ResultSubmission Observe(HttpContext context, Guid runId, Guid id, string transport, string? pageOrigin = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = context.Request;
        var remote = context.Connection.RemoteIpAddress;
        var trusted = remote is not null && IsTrusted(remote);
        var proxyHeaders = ProxyHeaders
            .Where(h => request.Headers.ContainsKey(h))
            .ToDictionary(h => h, h => request.Headers[h].ToString(), StringComparer.Ordinal);
        var clientAddress = ClientAddressOf(context);
        var origin = request.Headers.Origin.ToString();
        pageOrigin = pageOrigin is { Length: > 0 and <= 300 } ? pageOrigin : origin.Length > 0 ? origin : null;
        var settings = options.CurrentValue;
        var tls = context.Features.Get<ITlsHandshakeFeature>();
        // The proxy directly in front of the portal is the deployment's: what it adds is the portal's, not the customer's network's.
        var view = FrontProxy.Judge(new RequestFacts(
            pageOrigin, request.Host.Value ?? "", tls is not null, context.Connection.LocalPort, remote?.ToString(), trusted,
            proxyHeaders, [.. settings.PublicOrigin is { } p ? [p] : Array.Empty<string>(), .. settings.AlternateOrigins, .. settings.AllowedOrigins],
            a => IPAddress.TryParse(a, out var ip) && IsTrusted(ip)));
        var foreign = view.ForeignHeaders;
        var hello = ClientHelloCapture.Get(context);
        var fit = hello is null ? null : BrowserFit.Judge(request.Headers.UserAgent.ToString(), hello.Ja4);
        var alpn = context.Features.Get<Microsoft.AspNetCore.Server.Kestrel.Core.Features.ITlsApplicationProtocolFeature>()?.ApplicationProtocol;
        var isUpgrade = context.WebSockets.IsWebSocketRequest || transport == "websockets";
        // HTTP/2 and HTTP/3 carry WebSockets in an extended CONNECT (RFC 8441/9220), which has no Upgrade header to lose.
        var upgradeApplies = isUpgrade && request.Protocol is "HTTP/1.1" or "HTTP/1.0";
        var findings = new List<string>();
        if (foreign.Count > 0)
        {
            findings.Add($"The portal saw proxy headers from the customer's network: {string.Join(", ", foreign)}.");
        }

        if (fit?.Fits == false)
        {
            findings.Add($"The TLS handshake did not come from {fit.Family}'s own TLS stack{(fit.ExpectedStack is { } e ? $" ({e})" : "")} but from {fit.ObservedStack}: something between the customer and the portal re-made the connection.");
        }
        var detail = new Dictionary<string, object?>
        {
            ["clientAddress"] = clientAddress,
            ["pageOrigin"] = pageOrigin,
            ["originHeader"] = origin.Length > 0 ? origin : null,
            ["host"] = request.Host.Value,
            ["localPort"] = context.Connection.LocalPort,
            ["frontProxy"] = view.FrontProxy,
            ["frontProxyEvidence"] = view.FrontEvidence,
            ["frontProxyHeaders"] = view.FrontHeaders,
            ["deploymentProblems"] = view.Problems,
            ["peerAddress"] = remote?.ToString(),
            ["viaTrustedProxy"] = trusted,
            ["httpProtocol"] = request.Protocol,
            ["transport"] = transport,
            ["proxyHeaders"] = proxyHeaders,
            ["foreignProxyHeaders"] = foreign,
            ["upgradeHeader"] = upgradeApplies ? request.Headers.Upgrade.ToString() : null,
            ["connectionHeader"] = upgradeApplies ? request.Headers.Connection.ToString() : null,
            ["webSocketOverHttp2"] = isUpgrade && !upgradeApplies,
            ["tlsProtocol"] = tls?.Protocol.ToString(),
            ["tlsCipher"] = tls?.NegotiatedCipherSuite?.ToString(),
            ["alpn"] = alpn is { Length: > 0 } a ? System.Text.Encoding.ASCII.GetString(a.Span) : null,
            ["sniSent"] = hello is null ? null : hello.Hello.ServerName is not null,
            ["serverName"] = hello?.Hello.ServerName,
            ["alpnOffered"] = hello?.Hello.Alpn,
            ["ja4"] = hello?.Ja4,
            ["browserFamily"] = fit?.Family,
            ["expectedTlsStack"] = fit?.ExpectedStack,
            ["observedTlsStack"] = fit?.ObservedStack,
            ["fingerprintFitsBrowser"] = fit?.Fits,
            ["fingerprintNote"] = fit?.Note,
            ["userAgent"] = request.Headers.UserAgent.ToString(),
            ["summary"] = findings.Count > 0 ? string.Join(' ', findings)
                : view.FrontProxy ? "The portal saw its own front proxy and nothing of the customer's network in between."
                : "The portal saw no proxy between the customer and itself.",
        };
        var metrics = new Dictionary<string, object?>
        {
            ["httpVersion"] = request.Protocol switch { "HTTP/1.0" => 1.0, "HTTP/1.1" => 1.1, "HTTP/2" => 2, "HTTP/3" => 3, _ => null },
            ["foreignProxyHeaders"] = foreign.Count,
            ["frontProxy"] = view.FrontProxy ? 1 : 0,
            ["tls"] = tls is null ? 0 : 1,
            ["sniSent"] = hello is null ? null : hello.Hello.ServerName is null ? 0 : 1,
            ["fingerprintFitsBrowser"] = fit?.Fits switch { true => 1, false => 0, null => null },
            ["upgradeHeadersPresent"] = upgradeApplies ? (request.Headers.Upgrade.Count > 0 && request.Headers.Connection.ToString().Contains("upgrade", StringComparison.OrdinalIgnoreCase) ? 1 : 0) : null,
        };
        return new ResultSubmission(
            id, runId, KnownSteps.ServerConnection, findings.Count > 0 ? ResultStatus.Warn : ResultStatus.Pass,
            JsonSerializer.SerializeToElement(metrics), JsonSerializer.SerializeToElement(detail), time.GetUtcNow());
    }

    /// <summary>
    /// The customer's address: the peer's, or behind a trusted proxy the last <c>X-Forwarded-For</c> address a trusted
    /// proxy did not add (the first one when every one is trusted: a customer on the proxy's own network).
    /// </summary>
    public string? ClientAddressOf(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var remote = context.Connection.RemoteIpAddress;
        var forwarded = context.Request.Headers["X-Forwarded-For"].ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return remote is not null && IsTrusted(remote) && forwarded.Length > 0
            ? forwarded.LastOrDefault(a => !IPAddress.TryParse(a, out var ip) || !IsTrusted(ip)) ?? forwarded[0]
            : remote?.ToString();
    }

    /// <summary>Whether an address is one of <c>Portal:TrustedProxies</c>.</summary>
    public bool IsTrusted(IPAddress address)
    {
        var plain = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        return options.CurrentValue.TrustedProxies.Any(p => IPAddress.TryParse(p, out var ip) && ip.Equals(plain));
    }
}
