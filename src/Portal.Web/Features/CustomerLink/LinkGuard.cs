using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using Portal.Web.Features.Ingest;

namespace Portal.Web.Features.CustomerLink;

/// <summary>
/// Slows down anyone guessing capability links: every request with a link token that is not known (the customer
/// page and share page answering 404, the customer API and hub refusing a token that names no session) costs the
/// client address a permit;
/// once <see cref="LimitOptions.LinkMissesPerAddress"/> are spent within the window, every link request from that
/// address gets 429 until the window ends. Expired links (410) are real links and cost nothing. Behind trusted
/// proxies the address is the customer's, not the proxy's, so one guesser cannot lock out a whole office.
/// </summary>
public sealed partial class LinkGuard(RequestDelegate next, IOptionsMonitor<PortalOptions> options, ConnectionObserver observer, ILogger<LinkGuard> logger)
{
    /// <summary>
    /// Set in <see cref="HttpContext.Items"/> by the customer-link authentication when a token names no session at
    /// all; its 401 does not say whether the link was unknown or only expired, and an expired link is no guess.
    /// </summary>
    public static readonly object UnknownTokenKey = new();

    private readonly PartitionedRateLimiter<string> _misses = PartitionedRateLimiter.Create<string, string>(address =>
        RateLimitPartition.GetFixedWindowLimiter(address, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = Math.Max(1, options.CurrentValue.Limits.LinkMissesPerAddress),
            Window = options.CurrentValue.Limits.LinkMissWindow,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));

    /// <summary>Refuses blocked addresses, and counts the misses of the others.</summary>
    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        var (isLink, missStatus) =
            path.StartsWithSegments("/t", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments("/shared", StringComparison.OrdinalIgnoreCase) ? (true, StatusCodes.Status404NotFound)
            : path.StartsWithSegments("/api/runs", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments(RunHub.Path, StringComparison.OrdinalIgnoreCase) ? (true, StatusCodes.Status401Unauthorized)
            : (false, 0);
        if (!isLink)
        {
            await next(context);
            return;
        }

        var address = observer.ClientAddressOf(context) ?? "unknown";
        if (_misses.GetStatistics(address)?.CurrentAvailablePermits <= 0)
        {
            LogBlocked(address);
            context.Response.Headers.RetryAfter = ((int)options.CurrentValue.Limits.LinkMissWindow.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            await Results.Problem(
                title: "Too many unknown links.",
                detail: "This address tried too many links that do not exist. Wait a while, then open the link you were sent.",
                statusCode: StatusCodes.Status429TooManyRequests).ExecuteAsync(context);
            return;
        }

        await next(context);
        var missed = missStatus == StatusCodes.Status404NotFound
            ? context.Response.StatusCode == missStatus
            : context.Response.StatusCode == missStatus && context.Items.ContainsKey(UnknownTokenKey);
        if (missed)
        {
            using var lease = _misses.AttemptAcquire(address);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused a link request from {Address}: too many unknown links")]
    private partial void LogBlocked(string address);
}
