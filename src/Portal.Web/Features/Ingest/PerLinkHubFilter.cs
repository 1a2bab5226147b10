using Microsoft.AspNetCore.SignalR;
using Portal.Web.Features.CustomerLink;

namespace Portal.Web.Features.Ingest;

/// <summary>
/// Charges hub invocations to the link's <see cref="LinkBudget"/>: over it, the page gets an error instead of an
/// acknowledgement (and keeps the message to retry later).
/// </summary>
public sealed class PerLinkHubFilter(LinkBudget budget) : IHubFilter
{
    /// <inheritdoc />
    public async ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        ArgumentNullException.ThrowIfNull(invocationContext);
        ArgumentNullException.ThrowIfNull(next);
        if (invocationContext.Context.User?.FindFirst(CustomerLinkAuthenticationHandler.SessionClaim) is not null
            && invocationContext.HubMethodName != nameof(RunHub.Ping)
            && !await budget.TryTakeAsync(CustomerLinkAuthenticationHandler.SessionOf(invocationContext.Context.User), "hub"))
        {
            throw new HubException("Too many messages for this link: slow down and retry after a minute.");
        }

        return await next(invocationContext);
    }
}
