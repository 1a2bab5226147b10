using Microsoft.Extensions.Options;

namespace Portal.Web.Features.Diagnostics;

/// <summary>
/// Refuses every WebSocket upgrade whose <c>Origin</c> is neither the portal itself nor a configured origin, so a
/// page elsewhere cannot open the echo endpoint, the customer hub or a console circuit with the visitor's
/// cookies (cross-site WebSocket hijacking). Requests without an Origin do not come from a browser page and are
/// left to the endpoint's own authorization.
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
        if (origin.Length == 0 || IsAllowed(origin, context.Request))
        {
            return next(context);
        }

        LogRefused(origin, context.Request.Path);
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        return context.Response.WriteAsync("WebSocket connections from this origin are not allowed.", context.RequestAborted);
    }

    private bool IsAllowed(string origin, HttpRequest request)
    {
        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri))
        {
            return false;
        }

        var self = $"{request.Scheme}://{request.Host.Value}";
        if (string.Equals(uri.GetLeftPart(UriPartial.Authority), self, StringComparison.OrdinalIgnoreCase))
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
