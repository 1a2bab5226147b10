using Microsoft.AspNetCore.SignalR;
using Portal.Web.Features.CustomerLink;

namespace Portal.Web.Features.Ingest;

/// <summary>
/// What a customer connection may still do, checked at every invocation: its link must still be open (revoked,
/// expired or closed: the connection is closed and the run is told why), and the invocation is charged to the link's
/// <see cref="LinkBudget"/> (over it, the page gets an error instead of an acknowledgement and retries later).
/// </summary>
public sealed partial class PerLinkHubFilter(LinkBudget budget, OpenLinks links, PortalRefusals refusals, ILogger<PerLinkHubFilter> logger) : IHubFilter
{
    /// <inheritdoc />
    public async ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        ArgumentNullException.ThrowIfNull(invocationContext);
        ArgumentNullException.ThrowIfNull(next);
        var caller = invocationContext.Context;
        if (caller.User?.FindFirst(CustomerLinkAuthenticationHandler.SessionClaim) is not null)
        {
            var session = CustomerLinkAuthenticationHandler.SessionOf(caller.User);
            if (!await links.IsOpenAsync(session, caller.ConnectionAborted))
            {
                await refusals.RecordAsync(session, null, Core.Results.RefusalReasons.LinkExpired, StatusCodes.Status401Unauthorized,
                    "the link was revoked, expired or its session closed while the customer's page was open; the portal closed the page's connection", "hub", CancellationToken.None);
                // The page first gets its answer (the invocation's completion), then the connection ends.
                _ = AbortSoonAsync(caller);
                throw new HubException("This link no longer works: ask the support engineer for a new one.");
            }

            if (invocationContext.HubMethodName != nameof(RunHub.Ping) && !await budget.TryTakeAsync(session, "hub"))
            {
                throw new HubException("Too many messages for this link: slow down and retry after a minute.");
            }
        }

        try
        {
            return await next(invocationContext);
        }
        catch (Exception ex) when (ex is not HubException)
        {
            // SignalR's own "failed to invoke" log is off (a refusal is a HubException and must not cost a stack trace
            // per call); a real fault of a hub method is logged here, once, with its exception.
            LogFailed(logger, invocationContext.HubMethodName, ex);
            throw;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The hub method {Method} failed")]
    private static partial void LogFailed(ILogger logger, string method, Exception exception);

    private static async Task AbortSoonAsync(HubCallerContext caller)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(250));
        caller.Abort();
    }

    /// <inheritdoc />
    public async Task OnConnectedAsync(HubLifetimeContext context, Func<HubLifetimeContext, Task> next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        if (context.Context.User?.FindFirst(CustomerLinkAuthenticationHandler.SessionClaim) is not null)
        {
            links.Opened(CustomerLinkAuthenticationHandler.SessionOf(context.Context.User), context.Context);
        }

        await next(context);
    }

    /// <inheritdoc />
    public async Task OnDisconnectedAsync(HubLifetimeContext context, Exception? exception, Func<HubLifetimeContext, Exception?, Task> next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        if (context.Context.User?.FindFirst(CustomerLinkAuthenticationHandler.SessionClaim) is not null)
        {
            links.Closed(CustomerLinkAuthenticationHandler.SessionOf(context.Context.User), context.Context);
        }

        await next(context, exception);
    }
}
