using Portal.Web.Features.Ingest;

namespace Portal.Web.Features.Operations;

/// <summary>
/// Believes <c>X-Forwarded-Proto</c> from the portal's own trusted proxies only (<c>Portal:TrustedProxies</c>): behind
/// a proxy that ends TLS, the request's scheme becomes https, so cookies are Secure, answers carry HSTS and links are
/// built on https. From anyone else the header is only evidence (recorded by <see cref="ConnectionObserver"/>); the
/// peer address is never replaced, because the observer judges the path by the real peer.
/// </summary>
public sealed class ForwardedScheme(RequestDelegate next, ConnectionObserver observer)
{
    /// <summary>Applies a trusted proxy's scheme.</summary>
    public Task InvokeAsync(HttpContext context)
    {
        var proto = context.Request.Headers["X-Forwarded-Proto"].ToString();
        if (proto.Length > 0 && context.Connection.RemoteIpAddress is { } peer && observer.IsTrusted(peer))
        {
            // A chain of proxies lists one scheme each; the first is what the browser used.
            var first = proto.Split(',', StringSplitOptions.TrimEntries)[0];
            if (first.Equals("https", StringComparison.OrdinalIgnoreCase) || first.Equals("http", StringComparison.OrdinalIgnoreCase))
            {
                context.Request.Scheme = first.ToLowerInvariant();
            }
        }

        return next(context);
    }
}
