namespace Portal.Web.Features.Operations;

/// <summary>
/// Headers every response carries unless its endpoint set its own: no MIME sniffing, no framing by other sites
/// (clickjacking), no referrer leaving the portal. Pages with a stricter policy (the customer page, the report) set
/// their own Content-Security-Policy and Referrer-Policy, which are kept. Event streams also tell reverse proxies
/// not to buffer them (nginx honours <c>X-Accel-Buffering</c>; proxies that ignore it show up as sse-buffered).
/// Over HTTPS every answer also carries <c>Strict-Transport-Security</c> (not on loopback names, as ASP.NET's own
/// HSTS middleware, so a developer's browser does not pin localhost).
/// </summary>
public sealed class ResponseHeaders(RequestDelegate next)
{
    /// <summary>
    /// The Content-Security-Policy of pages that set none, the console's: scripts only from the portal's own files (no
    /// inline script, no eval), connections only to itself (its circuit's WebSocket), no framing, no plugins. Blazor
    /// and Radzen set inline styles, so styles may be inline.
    /// </summary>
    public const string DefaultPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'self'";

    /// <summary>The HSTS header sent over HTTPS: a year, this host only (the portal cannot speak for its parent domain).</summary>
    public const string StrictTransportSecurity = "max-age=31536000";

    /// <summary>Adds the headers just before the response starts.</summary>
    public Task InvokeAsync(HttpContext context)
    {
        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            if (!headers.ContainsKey("Content-Security-Policy"))
            {
                headers.ContentSecurityPolicy = DefaultPolicy;
            }

            if (context.Request.IsHttps && !IsLoopbackName(context.Request.Host.Host))
            {
                headers.StrictTransportSecurity = StrictTransportSecurity;
            }

            if (!headers.ContainsKey("Referrer-Policy"))
            {
                headers["Referrer-Policy"] = "same-origin";
            }

            if (context.Response.ContentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) == true)
            {
                headers["X-Accel-Buffering"] = "no";
            }

            return Task.CompletedTask;
        });
        return next(context);
    }

    private static bool IsLoopbackName(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host is "127.0.0.1" or "[::1]" or "::1";
}
