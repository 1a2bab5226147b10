using System.Collections.Concurrent;
using System.Text.Json;
using Npgsql;
using Portal.Core.Results;

namespace Portal.Web.Features.Ingest;

/// <summary>
/// Records the portal's own refusals on a run's path (the link's message budget, size limits, an expired or closed
/// link, a message the portal could not accept) as a server-side <c>server.refusal</c> result of the run, so the
/// rules can say the portal refused, not the customer's network. One record per session and reason a minute: a
/// flood of refused messages costs the portal no more than the first.
/// </summary>
public sealed partial class PortalRefusals(RunIngest ingest, NpgsqlDataSource dataSource, TimeProvider time, ILogger<PortalRefusals> logger)
{
    /// <summary>How long one record stands for every refusal of the same reason on the same session.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private const int MaxRemembered = 10_000;
    private readonly ConcurrentDictionary<(Guid Session, string Reason), DateTimeOffset> _recent = new();

    /// <summary>
    /// Records a refusal against <paramref name="runId"/> when it is a run of the session, else against the session's
    /// latest run (the refused message did not say, or named a run that does not exist); with no run at all, nothing is
    /// recorded: a refused message never creates a run. Never throws: a refusal must not fail twice.
    /// </summary>
    /// <param name="sessionId">The link's session.</param>
    /// <param name="runId">The run the refused message named, when it could be read.</param>
    /// <param name="reason">One of <see cref="RefusalReasons"/>.</param>
    /// <param name="status">The HTTP status (or WebSocket close code) the page got.</param>
    /// <param name="what">The exact reason in plain words, as the page was told.</param>
    /// <param name="transport">How the refused message came (http, hub, or the hub's transport).</param>
    /// <param name="cancellationToken">Cancels the recording.</param>
    public async Task RecordAsync(Guid sessionId, Guid? runId, string reason, int status, string what, string transport, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        var key = (sessionId, reason);
        if (_recent.TryGetValue(key, out var last) && now - last < Window)
        {
            return;
        }

        if (_recent.Count > MaxRemembered)
        {
            _recent.Clear();
        }

        _recent[key] = now;
        // One line, no stack trace, at most once a minute per link and reason, however many calls were refused.
        Log.Refused(logger, reason, status, transport, sessionId);
        try
        {
            var run = await RunAsync(sessionId, runId ?? Guid.Empty, cancellationToken);
            if (run is null)
            {
                return;
            }

            var result = new ResultSubmission(
                Guid.NewGuid(), run.Value, KnownSteps.ServerRefusal, ResultStatus.Fail,
                JsonSerializer.SerializeToElement(new Dictionary<string, object?> { [RefusalReasons.StatusMetric] = status }),
                JsonSerializer.SerializeToElement(new Dictionary<string, object?>
                {
                    ["reason"] = reason,
                    ["summary"] = "The portal refused: " + what,
                    ["transport"] = transport,
                }),
                now);
            await ingest.IngestAsync(sessionId, result, ResultSource.Server, transport, null, cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            Log.NotRecorded(logger, reason, sessionId, ex.GetType().Name);
        }
    }

    private async Task<Guid?> RunAsync(Guid sessionId, Guid named, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT id FROM runs WHERE session_id = $1 ORDER BY id = $2 DESC, started_at DESC LIMIT 1");
        command.Parameters.AddWithValue(sessionId);
        command.Parameters.AddWithValue(named);
        return await command.ExecuteScalarAsync(cancellationToken) is Guid id ? id : null;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Refused ({Reason}, {Status}) a message over {Transport} of session {SessionId}; further refusals of the same kind are not logged for a minute")]
        public static partial void Refused(ILogger logger, string reason, int status, string transport, Guid sessionId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "A refusal ({Reason}) of session {SessionId} could not be recorded ({Error})")]
        public static partial void NotRecorded(ILogger logger, string reason, Guid sessionId, string error);
    }
}
