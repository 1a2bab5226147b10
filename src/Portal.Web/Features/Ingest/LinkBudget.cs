using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Portal.Web.Features.Ingest;

/// <summary>
/// One message budget per customer link, shared by every way a page reports (hub invocations and plain HTTP):
/// <see cref="LimitOptions.MessagesPerMinutePerLink"/> messages a minute, then refusals until the window turns. Each
/// refusal is recorded against the link's run (<see cref="PortalRefusals"/>), whichever way the message came.
/// </summary>
public sealed class LinkBudget(IOptionsMonitor<PortalOptions> options, PortalRefusals refusals) : IDisposable
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

    /// <summary>
    /// Takes one message from the session's budget; false when it is spent, and then the refusal is recorded against
    /// the session's run (once a minute, see <see cref="PortalRefusals"/>).
    /// </summary>
    /// <param name="sessionId">The link's session.</param>
    /// <param name="transport">How the refused message came (http or hub).</param>
    public async ValueTask<bool> TryTakeAsync(Guid sessionId, string transport)
    {
        using var lease = _limiter.AttemptAcquire(sessionId);
        if (lease.IsAcquired)
        {
            return true;
        }

        await refusals.RecordAsync(
            sessionId, null, Core.Results.RefusalReasons.LinkBudget, StatusCodes.Status429TooManyRequests,
            $"too many messages for this link (the limit is {options.CurrentValue.Limits.MessagesPerMinutePerLink} a minute, Portal__Limits__MessagesPerMinutePerLink); the page was asked to retry after a minute",
            transport, CancellationToken.None);
        return false;
    }

    /// <inheritdoc />
    public void Dispose() => _limiter.Dispose();
}
