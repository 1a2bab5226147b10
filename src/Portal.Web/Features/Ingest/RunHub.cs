using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.Http.Connections.Features;
using Microsoft.AspNetCore.SignalR;
using Portal.Core.Results;
using Portal.Web.Features.Accounts;
using Portal.Web.Features.CustomerLink;

namespace Portal.Web.Features.Ingest;

/// <summary>
/// The hub the customer's page reports to, over WebSockets, Server-Sent Events or long polling: whichever the
/// customer's network lets through.
/// </summary>
[Authorize(Policy = Policies.Customer)]
public sealed class RunHub(ResultReception reception) : Hub
{
    /// <summary>The hub's path.</summary>
    public const string Path = "/hubs/run";

    /// <summary>Stores one result; the reporter forgets it once this returns.</summary>
    public async Task<IngestAck> Report(ResultSubmission result)
    {
        var outcome = await reception.ReceiveAsync(Session, result, ResultSource.Client, Transport, UserAgent, Context.ConnectionAborted);
        return outcome.Match(ack => ack, problem => throw new HubException(problem));
    }

    /// <summary>Marks a run completed with the verdict the customer's page showed.</summary>
    public async Task<IngestAck> Complete(Guid runId, string verdict)
    {
        var outcome = await reception.CompleteAsync(Session, runId, verdict, Transport, UserAgent, Context.ConnectionAborted);
        return outcome.Match(ack => ack, problem => throw new HubException(problem));
    }

    private Guid Session => CustomerLinkAuthenticationHandler.SessionOf(Context.User!);

    private string? UserAgent => Context.GetHttpContext()?.Request.Headers.UserAgent.ToString();

    private string Transport => Context.Features.Get<IHttpTransportFeature>()?.TransportType switch
    {
        HttpTransportType.WebSockets => "websockets",
        HttpTransportType.ServerSentEvents => "serversentevents",
        HttpTransportType.LongPolling => "longpolling",
        _ => "unknown",
    };
}
