using Microsoft.Extensions.Options;

namespace Portal.Web.Features.Diagnostics;

/// <summary>
/// Refuses a WebSocket upgrade whose <c>Origin</c> is neither the portal itself nor a configured origin wherever a
/// cookie could authenticate it (the console's circuit, and any endpoint added later), so a page elsewhere cannot
/// open it with the visitor's cookies (cross-site WebSocket hijacking). The diagnostics endpoints and the customer
/// hub are exempt: they are authenticated by the link token or by nothing, so a foreign page gains nothing a plain
/// client would not, and a proxy in front of the portal that rewrites Host or scheme (so the browser's Origin no
/// longer matches) must not stop the customer's measurement. There the mismatch is evidence: the hub's
/// observation of the connection records the Origin and a <c>portal-deployment</c> finding names the proxy setting.
/// Requests without an Origin do not come from a browser page and are left to the endpoint's own authorization.
/// </summary>
public sealed partial class OriginCheck(RequestDelegate next, IOptionsMonitor<PortalOptions> options, PortalOrigins origins, ILogger<OriginCheck> logger)
{
    /// <summary>Checks the request and passes it on, or answers 403.</summary>
    public Task InvokeAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            return next(context);
        }

        var origin = context.Request.Headers.Origin.ToString();
        if (origin.Length == 0 || IsTokenOrAnonymous(context.Request.Path) || IsAllowed(origin, context.Request))
        {
            return next(context);
        }

        LogRefused(origin, context.Request.Path);
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        return context.Response.WriteAsync("WebSocket connections from this origin are not allowed.", context.RequestAborted);
    }

    /// <summary>The WebSocket endpoints no cookie authenticates: the diagnostics endpoints and the customer hub.</summary>
    public static bool IsTokenOrAnonymous(PathString path) =>
        path.StartsWithSegments("/diag", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments(Ingest.RunHub.Path, StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether an Origin names the authority the request was addressed to (scheme, host and port).</summary>
    public static bool MatchesRequest(string origin, HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            && string.Equals(uri.GetLeftPart(UriPartial.Authority), $"{request.Scheme}://{request.Host.Value}", StringComparison.OrdinalIgnoreCase);
    }

    private bool IsAllowed(string origin, HttpRequest request)
    {
        if (MatchesRequest(origin, request))
        {
            return true;
        }

        // The portal's other origins (another scheme or port of itself) are its own: the battery's WebSocket variants.
        if (origins.IsOwn(origin))
        {
            return true;
        }

        return options.CurrentValue.AllowedOrigins.Any(o => string.Equals(o.TrimEnd('/'), origin, StringComparison.OrdinalIgnoreCase));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused a WebSocket upgrade to {Path} from origin {Origin}")]
    private partial void LogRefused(string origin, PathString path);
}
