using System.Text.Json;
using System.Threading.Channels;
using Npgsql;
using NpgsqlTypes;
using Portal.Core.Diagnosis;
using Portal.Data;
using Portal.Data.Events;

namespace Portal.Web.Features.Findings;

/// <summary>
/// Keeps a run's stored findings equal to what the rules say about its results. Ingest asks after every stored
/// result and when the run completes; <see cref="FindingsWorker"/> evaluates off the request path, several requests
/// for one run at once count as one, and evaluations of one run are serialised by a row lock on the run, so the last
/// one always sees every committed result. The lock is <c>FOR NO KEY UPDATE</c>: it does not conflict with the
/// key-share lock that storing a result takes on its run, so ingest never waits for an evaluation. Watchers hear of
/// a change through the event bus, and a completed run's webhooks are queued in the same transaction.
/// </summary>
public sealed class FindingsStore(NpgsqlDataSource dataSource, TimeProvider time, int webhookRunsPerLink = Webhooks.WebhookOptions.DefaultRunsPerLink)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly Channel<(Guid SessionId, Guid RunId, bool Completed)> _requests = Channel.CreateUnbounded<(Guid, Guid, bool)>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>The lock an evaluation holds on its run: it does not conflict with the key-share lock ingest takes.</summary>
    public const string LockRunSql = "SELECT status FROM runs WHERE id = $1 AND session_id = $2 FOR NO KEY UPDATE";

    /// <summary>Asks for the run to be evaluated again soon.</summary>
    public void Request(Guid sessionId, Guid runId, bool runCompleted) => _requests.Writer.TryWrite((sessionId, runId, runCompleted));

    /// <summary>The requests, for the worker.</summary>
    internal ChannelReader<(Guid SessionId, Guid RunId, bool Completed)> Requests => _requests.Reader;

    /// <summary>
    /// Evaluates the run again and stores its findings when they changed. With <paramref name="runCompleted"/>, also
    /// queues the <c>run.completed</c> webhook deliveries. Returns the run's findings.
    /// </summary>
    public async Task<IReadOnlyList<Finding>> RefreshAsync(Guid sessionId, Guid runId, bool runCompleted, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var status = await LockAsync(connection, transaction, sessionId, runId, cancellationToken);
        if (status is null)
        {
            return [];
        }

        var findings = await EvaluateAsync(connection, transaction, sessionId, runId, status == RunStatus.Completed, cancellationToken);
        if (runCompleted)
        {
            await Webhooks.WebhookQueue.EnqueueRunCompletedAsync(connection, transaction, sessionId, runId, findings, time.GetUtcNow(), webhookRunsPerLink, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return findings;
    }

    /// <summary>
    /// Ends a run: in one transaction its final findings are stored, its status becomes <c>completed</c> with the
    /// verdict the customer saw, watchers are told and the <c>run.completed</c> webhooks are queued. Nobody (the API,
    /// a console, a webhook) can see the run completed without its final findings. Creates the run when no result
    /// preceded the completion.
    /// </summary>
    public async Task<RunCompletion> CompleteAsync(Guid sessionId, Guid runId, string verdict, string? userAgent, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var now = time.GetUtcNow();
        // Only a run that started (it has results) can be completed: completing invented run ids would make empty
        // "completed" runs and fire a signed webhook for each.
        await using (var exists = new NpgsqlCommand(
            "SELECT session_id, EXISTS (SELECT 1 FROM results WHERE run_id = $1) FROM runs WHERE id = $1", connection, transaction))
        {
            exists.Parameters.Add(new() { Value = runId });
            await using var reader = await exists.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return RunCompletion.NotStarted;
            }

            if (reader.GetGuid(0) != sessionId)
            {
                return RunCompletion.ForeignRun;
            }

            if (!reader.GetBoolean(1))
            {
                return RunCompletion.NotStarted;
            }
        }

        var status = await LockAsync(connection, transaction, sessionId, runId, cancellationToken);
        if (status is null)
        {
            return RunCompletion.ForeignRun;
        }

        if (status == RunStatus.Completed)
        {
            return RunCompletion.AlreadyCompleted;
        }

        var findings = await EvaluateAsync(connection, transaction, sessionId, runId, completed: true, cancellationToken);
        await using (var complete = new NpgsqlCommand("UPDATE runs SET status = 'completed', completed_at = $2, verdict = $3 WHERE id = $1", connection, transaction))
        {
            complete.Parameters.Add(new() { Value = runId });
            complete.Parameters.Add(new() { Value = now });
            complete.Parameters.Add(new() { Value = verdict });
            await complete.ExecuteNonQueryAsync(cancellationToken);
        }

        await PortalEvents.PublishAsync(connection, transaction, new PortalEvent(PortalEventKinds.RunCompleted, sessionId, runId), cancellationToken);
        await Webhooks.WebhookQueue.EnqueueRunCompletedAsync(connection, transaction, sessionId, runId, findings, now, webhookRunsPerLink, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return RunCompletion.Completed;
    }

    private static async Task<string?> LockAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid sessionId, Guid runId, CancellationToken cancellationToken)
    {
        await using var lockRun = new NpgsqlCommand(LockRunSql, connection, transaction);
        lockRun.Parameters.Add(new() { Value = runId });
        lockRun.Parameters.Add(new() { Value = sessionId });
        return (string?)await lockRun.ExecuteScalarAsync(cancellationToken);
    }

    /// <summary>Evaluates the locked run's results and replaces its stored findings when they changed (watchers are told).</summary>
    private async Task<IReadOnlyList<Finding>> EvaluateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid sessionId, Guid runId, bool completed, CancellationToken cancellationToken)
    {
        var results = new List<Observation>();
        await using (var read = new NpgsqlCommand("SELECT id, step, status, source, transport, metrics::text, detail::text FROM results WHERE run_id = $1 ORDER BY received_at, id", connection, transaction))
        {
            read.Parameters.Add(new() { Value = runId });
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                results.Add(new Observation(
                    reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                    Parse(reader.GetString(5)), Parse(reader.GetString(6))));
            }
        }

        var findings = Diagnoser.Evaluate(results, completed);
        var fresh = findings.Select(f => (f.Code, f.Severity, f.Summary, Evidence: JsonSerializer.Serialize(f.Evidence, Json), f.Recommendation)).ToList();
        var stored = new List<(string Code, string Severity, string Summary, string Evidence, string Recommendation)>();
        await using (var old = new NpgsqlCommand("SELECT code, severity, summary, evidence::text, recommendation FROM findings WHERE run_id = $1", connection, transaction))
        {
            old.Parameters.Add(new() { Value = runId });
            await using var reader = await old.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                stored.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), Canonical(reader.GetString(3)), reader.GetString(4)));
            }
        }

        var changed = stored.Count != fresh.Count
            || fresh.Any(f => !stored.Any(s => s.Code == f.Code && s.Severity == f.Severity && s.Summary == f.Summary && s.Recommendation == f.Recommendation && s.Evidence == Canonical(f.Evidence)));
        if (changed)
        {
            await using (var delete = new NpgsqlCommand("DELETE FROM findings WHERE run_id = $1", connection, transaction))
            {
                delete.Parameters.Add(new() { Value = runId });
                await delete.ExecuteNonQueryAsync(cancellationToken);
            }

            var now = time.GetUtcNow();
            foreach (var f in fresh)
            {
                await using var insert = new NpgsqlCommand(
                    "INSERT INTO findings (run_id, session_id, code, severity, summary, evidence, recommendation, evaluated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    connection, transaction);
                insert.Parameters.Add(new() { Value = runId });
                insert.Parameters.Add(new() { Value = sessionId });
                insert.Parameters.Add(new() { Value = f.Code });
                insert.Parameters.Add(new() { Value = f.Severity });
                insert.Parameters.Add(new() { Value = f.Summary });
                insert.Parameters.Add(new() { Value = f.Evidence, NpgsqlDbType = NpgsqlDbType.Jsonb });
                insert.Parameters.Add(new() { Value = f.Recommendation });
                insert.Parameters.Add(new() { Value = now });
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }

            await PortalEvents.PublishAsync(connection, transaction, new PortalEvent(PortalEventKinds.FindingsChanged, sessionId, runId), cancellationToken);
        }

        return findings;
    }

    private static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    /// <summary>JSON as PostgreSQL's jsonb gives it back would differ in spacing and key order: compare parsed and re-serialised.</summary>
    private static string Canonical(string json) => JsonSerializer.Serialize(Sort(Parse(json)));

    private static object? Sort(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => new SortedDictionary<string, object?>(e.EnumerateObject().ToDictionary(p => p.Name, p => Sort(p.Value)), StringComparer.Ordinal),
        JsonValueKind.Array => e.EnumerateArray().Select(Sort).ToList(),
        JsonValueKind.Number => e.GetDouble(),
        JsonValueKind.String => e.GetString(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };
}

/// <summary>What ending a run did.</summary>
public enum RunCompletion
{
    /// <summary>No such run, or it has no results yet: there is nothing to complete.</summary>
    NotStarted,

    /// <summary>The run is completed now, with its final findings.</summary>
    Completed,

    /// <summary>It was completed before: nothing changed.</summary>
    AlreadyCompleted,

    /// <summary>The run belongs to another session: refused.</summary>
    ForeignRun,
}

/// <summary>
/// Evaluates the runs ingest asked about, a burst of requests for one run as one evaluation. Passes start at most
/// every <see cref="MinimumPass"/>: a quiet portal evaluates a result as soon as it arrives, a busy one gathers every
/// result of that interval into one evaluation per run instead of evaluating each run again after every result.
/// </summary>
public sealed partial class FindingsWorker(FindingsStore store, TimeProvider time, ILogger<FindingsWorker> logger) : BackgroundService
{
    /// <summary>The shortest time between the starts of two passes.</summary>
    public static readonly TimeSpan MinimumPass = TimeSpan.FromMilliseconds(500);

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var pending = new Dictionary<Guid, (Guid SessionId, bool Completed)>();
        while (await store.Requests.WaitToReadAsync(stoppingToken))
        {
            var pass = time.GetTimestamp();
            pending.Clear();
            while (store.Requests.TryRead(out var request))
            {
                pending[request.RunId] = (request.SessionId, request.Completed || (pending.TryGetValue(request.RunId, out var earlier) && earlier.Completed));
            }

            foreach (var (runId, (sessionId, completed)) in pending)
            {
                try
                {
                    await store.RefreshAsync(sessionId, runId, completed, CancellationToken.None);
                }
                catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
                {
                    // The next result or resend of the run asks again.
                    LogRefreshFailed(logger, runId, ex);
                }
            }

            var rest = MinimumPass - time.GetElapsedTime(pass);
            if (rest > TimeSpan.Zero)
            {
                await Task.Delay(rest, time, stoppingToken);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Evaluating the findings of run {RunId} failed")]
    private static partial void LogRefreshFailed(ILogger logger, Guid runId, Exception exception);
}
