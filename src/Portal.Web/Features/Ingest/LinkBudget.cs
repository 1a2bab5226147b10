using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Portal.Web.Features.Ingest;

/// <summary>
/// One message budget per customer link, shared by every way a page reports (hub invocations and plain HTTP):
/// <see cref="LimitOptions.MessagesPerMinutePerLink"/> messages a minute, then refusals until the window turns.
/// </summary>
public sealed class LinkBudget(IOptionsMonitor<PortalOptions> options) : IDisposable
{
    // Partitioned by session: limiters of links that went quiet are dropped by the partitioned limiter itself.
    private readonly PartitionedRateLimiter<Guid> _limiter = PartitionedRateLimiter.Create<Guid, Guid>(session =>
        RateLimitPartition.GetFixedWindowLimiter(session, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = options.CurrentValue.Limits.MessagesPerMinutePerLink,
            Window = Window,
            QueueLimit = 0,
        }));

    /// <summary>The length of one budget window.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    /// <summary>Takes one message from the session's budget; false when it is spent.</summary>
    public bool TryTake(Guid sessionId)
    {
        using var lease = _limiter.AttemptAcquire(sessionId);
        return lease.IsAcquired;
    }

    /// <summary>The refusal in plain words, with the limit that was reached.</summary>
    public static string Refusal(PortalOptions options) =>
        $"too many messages for this link (the limit is {options.Limits.MessagesPerMinutePerLink} a minute, Portal__Limits__MessagesPerMinutePerLink); the page was asked to retry after a minute";

    /// <inheritdoc />
    public void Dispose() => _limiter.Dispose();
}
