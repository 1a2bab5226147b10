using Microsoft.AspNetCore.SignalR;
using Portal.Core.Results;
using Portal.Web.Features.CustomerLink;

namespace Portal.Web.Features.Ingest;

/// <summary>
/// Charges hub invocations to the link's <see cref="LinkBudget"/>: over it, the page gets an error instead of an
/// acknowledgement (and keeps the message to retry later).
/// </summary>
public sealed class PerLinkHubFilter(LinkBudget budget, PortalRefusals refusals, Microsoft.Extensions.Options.IOptionsMonitor<PortalOptions> options) : IHubFilter
{
    /// <inheritdoc />
    public async ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        ArgumentNullException.ThrowIfNull(invocationContext);
        ArgumentNullException.ThrowIfNull(next);
        if (invocationContext.Context.User?.FindFirst(CustomerLinkAuthenticationHandler.SessionClaim) is not null
            && invocationContext.HubMethodName != nameof(RunHub.Ping)
            && !budget.TryTake(CustomerLinkAuthenticationHandler.SessionOf(invocationContext.Context.User)))
        {
            await refusals.RecordAsync(
                CustomerLinkAuthenticationHandler.SessionOf(invocationContext.Context.User), null, RefusalReasons.LinkBudget, StatusCodes.Status429TooManyRequests,
                LinkBudget.Refusal(options.CurrentValue), "hub", CancellationToken.None);
            throw new HubException("Too many messages for this link: slow down and retry after a minute.");
        }

        return await next(invocationContext);
    }
}
