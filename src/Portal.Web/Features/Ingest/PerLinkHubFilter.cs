using System.Threading.RateLimiting;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using Portal.Web.Features.CustomerLink;

namespace Portal.Web.Features.Ingest;

/// <summary>
/// The same per-link message budget as the HTTP fallback, for hub invocations: a link that sends more than
/// <see cref="LimitOptions.MessagesPerMinutePerLink"/> messages a minute gets an error instead of an acknowledgement
/// (its page keeps the messages and retries later).
/// </summary>
public sealed class PerLinkHubFilter(IOptionsMonitor<PortalOptions> options) : IHubFilter, IDisposable
{
    // Partitioned: limiters of links that went quiet are dropped by the partitioned limiter itself.
    private readonly PartitionedRateLimiter<Guid> _limiter = PartitionedRateLimiter.Create<Guid, Guid>(session =>
        RateLimitPartition.GetFixedWindowLimiter(session, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = options.CurrentValue.Limits.MessagesPerMinutePerLink,
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
        }));

    /// <inheritdoc />
    public async ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        ArgumentNullException.ThrowIfNull(invocationContext);
        ArgumentNullException.ThrowIfNull(next);
        if (invocationContext.Context.User?.FindFirst(CustomerLinkAuthenticationHandler.SessionClaim) is not null
            && invocationContext.HubMethodName != nameof(RunHub.Ping))
        {
            var session = CustomerLinkAuthenticationHandler.SessionOf(invocationContext.Context.User);
            using var lease = _limiter.AttemptAcquire(session);
            if (!lease.IsAcquired)
            {
                throw new HubException("Too many messages for this link: slow down and retry after a minute.");
            }
        }

        return await next(invocationContext);
    }

    /// <inheritdoc />
    public void Dispose() => _limiter.Dispose();
}
