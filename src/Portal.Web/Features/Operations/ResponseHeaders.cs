namespace Portal.Web.Features.Operations;

/// <summary>
/// Headers every response carries unless its endpoint set its own: no MIME sniffing, no framing by other sites
/// (clickjacking), no referrer leaving the portal. Pages with a stricter policy (the customer page, the report) set
/// their own Content-Security-Policy and Referrer-Policy, which are kept. Event streams also tell reverse proxies
/// not to buffer them (nginx honours <c>X-Accel-Buffering</c>; proxies that ignore it show up as sse-buffered).
/// </summary>
public sealed class ResponseHeaders(RequestDelegate next)
{
    /// <summary>The Content-Security-Policy of pages that set none: the console (Blazor and Radzen need inline styles, so only framing and plugins are shut).</summary>
    public const string DefaultPolicy = "frame-ancestors 'none'; object-src 'none'; base-uri 'self'";

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
}
