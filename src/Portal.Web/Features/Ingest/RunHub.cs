using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.Http.Connections.Features;
using Microsoft.AspNetCore.SignalR;
using Portal.Core.Results;
using Portal.Web.Features.Accounts;
using Portal.Web.Features.CustomerLink;

namespace Portal.Web.Features.Ingest;

/// <summary>The calls the hub makes on a customer's page (compile-checked; the page registers the same names from the contract).</summary>
public interface IRunClient
{
    /// <summary>Asks the page to run the test again (the engineer's <b>Run again</b>).</summary>
    Task RunAgain();
}

/// <summary>
/// The hub the customer's page reports to, over WebSockets, Server-Sent Events or long polling: whichever the
/// customer's network lets through.
/// </summary>
[Authorize(Policy = Policies.Customer)]
public sealed class RunHub(ResultReception reception, ConnectionObserver observer, Probes.ProbeService probes, PortalRefusals refusals, Operations.PortalMetrics metrics, TimeProvider time) : Hub<IRunClient>
{
    /// <summary>The hub's path.</summary>
    public const string Path = "/hubs/run";

    /// <summary>The SignalR group of a session's open customer pages.</summary>
    public static string Group(Guid sessionId) => "session:" + sessionId.ToString("N", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Called when a new connection is established with the hub: the page joins its session's group, so <b>Run again</b> reaches it.</summary>
    public override async Task OnConnectedAsync()
    {
        metrics.Connection(Transport, +1);
        await Groups.AddToGroupAsync(Context.ConnectionId, Group(Session), Context.ConnectionAborted);
        await base.OnConnectedAsync();
    }

    /// <summary>Called when a connection ends, whichever side ended it.</summary>
    public override async Task OnDisconnectedAsync(Exception? exception)
    {
        metrics.Connection(Transport, -1);
        if (exception is InvalidDataException)
        {
            // SignalR closes the connection on a message over MaximumReceiveMessageSize (or one it cannot parse).
            await refusals.RecordAsync(Session, null, RefusalReasons.TooLarge, StatusCodes.Status413PayloadTooLarge,
                $"a hub message larger than {IngestEndpoints.MaxBodyBytes} bytes or not in the hub protocol; the hub closed the connection", Transport, CancellationToken.None);
        }

        await base.OnDisconnectedAsync(exception);
    }

    /// <summary>Answers with the server's clock; used by the transport step to prove a round trip.</summary>
    public long Ping() => time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>
    /// Records what the portal sees of this connection as a server-side result of the run; <paramref name="pageOrigin"/>
    /// is the origin the page was loaded from, to tell the portal's own front proxy from the customer's network.
    /// </summary>
    public async Task<IngestAck> Observe(Guid runId, Guid id, string? pageOrigin)
    {
        var http = Context.GetHttpContext() ?? throw new HubException("No HTTP request behind this connection.");
        var observation = observer.Observe(http, runId, id, Transport, pageOrigin);
        var outcome = await reception.ReceiveAsync(Session, observation, ResultSource.Server, Transport, UserAgent, Context.ConnectionAborted);
        if (outcome.Ack is { Stored: true })
        {
            // The first observation of a run is its start: probe the session's targets from the portal's side too.
            await probes.StartForCustomerRunAsync(Session, runId, Context.ConnectionAborted);
        }

        return outcome.Match(ack => ack, problem => throw new HubException(problem));
    }

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
