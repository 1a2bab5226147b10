using System.Text.Json;
using System.Threading.Channels;
using Npgsql;
using NpgsqlTypes;
using Portal.Core.Results;
using Portal.Data.Events;

namespace Portal.Web.Features.Ingest;

/// <summary>What happened to a submitted result.</summary>
public enum IngestOutcome
{
    /// <summary>Stored now, and published to watchers.</summary>
    Stored,

    /// <summary>Already stored earlier: acknowledged, not stored again.</summary>
    Duplicate,

    /// <summary>The run id belongs to another session: refused.</summary>
    ForeignRun,

    /// <summary>A completion for a run with no results: nothing was completed.</summary>
    NotStarted,
}

/// <summary>The answer a reporter gets: the id it may now forget, and how the message came in.</summary>
/// <param name="Id">The result or run id acknowledged.</param>
/// <param name="Stored">True when this message stored something new; false for a duplicate.</param>
/// <param name="Transport">How the message arrived.</param>
public sealed record IngestAck(Guid Id, bool Stored, string Transport);

/// <summary>
/// The one ingest path every reporter goes through (SignalR, plain HTTP, beacons, server observers): it stores a
/// result idempotently on its id and publishes the event in the same statement, so watchers hear of exactly
/// the results that were committed, once each.
/// </summary>
/// <remarks>
/// Results are written in batches: callers queue their result and wait; <see cref="Writers"/> loops each take
/// whatever is queued (up to <see cref="MaxBatch"/>) and store it with one statement, one transaction and one
/// commit. Under light load a batch is a single result written at once; under heavy load the batches grow, so the
/// portal holds a handful of connections instead of one per reporter, and the commits (which PostgreSQL serialises
/// for transactions that notify) are shared.
/// </remarks>
public sealed partial class RunIngest : IAsyncDisposable
{
    /// <summary>The most results one statement stores.</summary>
    public const int MaxBatch = 500;

    /// <summary>How many batches are written at once.</summary>
    public const int Writers = 4;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly NpgsqlDataSource _dataSource;
    private readonly Findings.FindingsStore _findings;
    private readonly TimeProvider _time;
    private readonly ILogger<RunIngest> _logger;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>();
    private readonly Task[] _writers;

    /// <summary>Starts the writers.</summary>
    public RunIngest(NpgsqlDataSource dataSource, Findings.FindingsStore findings, TimeProvider time, ILogger<RunIngest> logger)
        : this(dataSource, findings, time, logger, Task.CompletedTask)
    {
    }

    /// <summary>Starts the writers once <paramref name="writersStart"/> completes: tests queue a batch first.</summary>
    internal RunIngest(NpgsqlDataSource dataSource, Findings.FindingsStore findings, TimeProvider time, ILogger<RunIngest> logger, Task writersStart)
    {
        _dataSource = dataSource;
        _findings = findings;
        _time = time;
        _logger = logger;
        _writers = [.. Enumerable.Range(0, Writers).Select(_ => Task.Run(async () =>
        {
            await writersStart;
            await WriteAsync();
        }))];
    }

    /// <summary>
    /// Stores a validated result, creating its run on first sight. The run and the result, and the events that
    /// announce them, are written by one statement. The caller's cancellation stops the wait, not the write: a
    /// queued result is stored all the same, and a resend of it is acknowledged as a duplicate.
    /// </summary>
    public async Task<IngestOutcome> IngestAsync(Guid sessionId, ResultSubmission result, string source, string transport, string? userAgent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(result);
        var pending = new Pending(sessionId, result, source, transport, Truncate(userAgent, 512), _time.GetUtcNow());
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(RunIngest), "The portal is stopping.");
        }

        return await pending.Done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Stops taking results and waits until every queued one is written (or has failed).</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_writers);
    }

    private async Task WriteAsync()
    {
        var batch = new List<Pending>(MaxBatch);
        var later = new List<Pending>();
        var ids = new HashSet<Guid>();
        while (later.Count > 0 || await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            ids.Clear();
            var carried = later.ToArray();
            later.Clear();
            foreach (var item in carried)
            {
                (ids.Add(item.Result.Id) ? batch : later).Add(item);
            }

            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var item))
            {
                // The same result twice at once (a resend racing its original): the second waits for the next statement.
                (ids.Add(item.Result.Id) ? batch : later).Add(item);
            }

            if (batch.Count > 0)
            {
                await StoreAsync(batch);
            }
        }
    }

    /// <summary>Stores a batch and settles every caller's wait; never throws.</summary>
    private async Task StoreAsync(List<Pending> batch)
    {
        try
        {
            var unseen = new List<Pending>();
            foreach (var (item, runOk, stored) in await ExecuteAsync(batch))
            {
                if (runOk || stored)
                {
                    Settle(item, stored ? IngestOutcome.Stored : IngestOutcome.Duplicate);
                }
                else
                {
                    unseen.Add(item);
                }
            }

            // A run inserted by a concurrent statement is invisible to this one's snapshot: look again once before
            // calling it another session's run.
            if (unseen.Count > 0)
            {
                foreach (var (item, runOk, stored) in await ExecuteAsync(unseen))
                {
                    Settle(item, stored ? IngestOutcome.Stored : runOk ? IngestOutcome.Duplicate : IngestOutcome.ForeignRun);
                }
            }
        }
        catch (PostgresException ex) when (batch.Count > 1 && ex.SqlState is ['2', '2' or '3', ..] or PostgresErrorCodes.DeadlockDetected)
        {
            // One result PostgreSQL refuses (a session deleted meanwhile, a character jsonb cannot hold) must not take
            // the others down with it: store them one at a time, so only that one fails.
            LogBatchSplit(_logger, batch.Count, ex.SqlState);
            foreach (var item in batch)
            {
                await StoreAsync([item]);
            }
        }
        catch (Exception ex)
        {
            foreach (var item in batch)
            {
                item.Done.TrySetException(ex);
            }
        }
    }

    private void Settle(Pending item, IngestOutcome outcome)
    {
        if (outcome != IngestOutcome.ForeignRun)
        {
            // A duplicate asks too: if the first attempt stored the result but its findings were never evaluated
            // (the process stopped), the reporter's resend is what brings them up to date.
            _findings.Request(item.SessionId, item.Result.RunId, runCompleted: false);
        }

        item.Done.TrySetResult(outcome);
    }

    private async Task<List<(Pending Item, bool RunOk, bool Stored)>> ExecuteAsync(List<Pending> batch)
    {
        // Rows are inserted in key order, so two batches that share runs or results cannot wait for each other in a
        // circle; received_at keeps the order the results arrived in.
        const string Sql = """
            WITH input AS (
                SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::jsonb[],
                                     $9::boolean[], $10::text[], $11::timestamptz[], $12::timestamptz[], $13::text[], $14::text[], $15::text[])
                    WITH ORDINALITY AS i(id, run_id, session_id, step, status, source, metrics, detail,
                                         known_step, transport, client_time, received_at, user_agent, run_event, result_event, ord)),
            run_ins AS (
                INSERT INTO runs (id, session_id, status, started_at, user_agent)
                SELECT DISTINCT ON (run_id) run_id, session_id, 'running', received_at, user_agent FROM input ORDER BY run_id, ord
                ON CONFLICT (id) DO NOTHING
                RETURNING id, session_id),
            run_ok AS (
                SELECT id, session_id FROM run_ins
                UNION
                SELECT id, session_id FROM runs WHERE id IN (SELECT run_id FROM input)),
            res_ins AS (
                INSERT INTO results (id, run_id, session_id, step, status, source, metrics, detail, known_step, transport, client_time, received_at)
                SELECT i.id, i.run_id, i.session_id, i.step, i.status, i.source, i.metrics, i.detail, i.known_step, i.transport, i.client_time, i.received_at
                FROM input i JOIN run_ok o ON o.id = i.run_id AND o.session_id = i.session_id
                ORDER BY i.id
                ON CONFLICT (id) DO NOTHING
                RETURNING id),
            n_run AS (
                SELECT pg_notify($16, i.run_event) FROM run_ins r
                JOIN input i ON i.ord = (SELECT min(ord) FROM input WHERE run_id = r.id)),
            n_res AS (SELECT pg_notify($16, i.result_event) FROM res_ins r JOIN input i ON i.id = r.id),
            sent AS (SELECT (SELECT count(*) FROM n_run) + (SELECT count(*) FROM n_res) AS n)
            SELECT i.ord, o.id IS NOT NULL, r.id IS NOT NULL, s.n
            FROM input i
            LEFT JOIN run_ok o ON o.id = i.run_id AND o.session_id = i.session_id
            LEFT JOIN res_ins r ON r.id = i.id
            CROSS JOIN sent s
            ORDER BY i.ord
            """;

        await using var command = _dataSource.CreateCommand(Sql);
        var p = command.Parameters;
        p.Add(new() { Value = batch.Select(x => x.Result.Id).ToArray() });
        p.Add(new() { Value = batch.Select(x => x.Result.RunId).ToArray() });
        p.Add(new() { Value = batch.Select(x => x.SessionId).ToArray() });
        p.Add(new() { Value = batch.Select(x => x.Result.Step).ToArray() });
        p.Add(new() { Value = batch.Select(x => x.Result.Status).ToArray() });
        p.Add(new() { Value = batch.Select(x => x.Source).ToArray() });
        p.Add(new() { Value = batch.Select(x => Raw(x.Result.Metrics)).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
        p.Add(new() { Value = batch.Select(x => Raw(x.Result.Detail)).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
        p.Add(new() { Value = batch.Select(x => KnownSteps.IsKnown(x.Result.Step)).ToArray() });
        p.Add(new() { Value = batch.Select(x => x.Transport).ToArray() });
        p.Add(new() { Value = batch.Select(x => x.Result.ClientTime?.ToUniversalTime()).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        p.Add(new() { Value = batch.Select(x => x.ReceivedAt).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        p.Add(new() { Value = batch.Select(x => x.UserAgent).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        p.Add(new() { Value = batch.Select(x => Event(PortalEventKinds.RunStarted, x, null)).ToArray() });
        p.Add(new() { Value = batch.Select(x => Event(PortalEventKinds.ResultStored, x, x.Result.Id)).ToArray() });
        p.Add(new() { Value = PortalEvents.Channel });

        var outcomes = new List<(Pending, bool, bool)>(batch.Count);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            outcomes.Add((batch[(int)reader.GetInt64(0) - 1], reader.GetBoolean(1), reader.GetBoolean(2)));
        }

        return outcomes;
    }

    private static string Event(string kind, Pending item, Guid? resultId) =>
        JsonSerializer.Serialize(new PortalEvent(kind, item.SessionId, item.Result.RunId, resultId), Json);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A batch of {Count} results was refused ({SqlState}); storing them one at a time")]
    private static partial void LogBatchSplit(ILogger logger, int count, string sqlState);

    /// <summary>A result waiting for its batch.</summary>
    private sealed class Pending(Guid sessionId, ResultSubmission result, string source, string transport, string? userAgent, DateTimeOffset receivedAt)
    {
        public Guid SessionId { get; } = sessionId;

        public ResultSubmission Result { get; } = result;

        public string Source { get; } = source;

        public string Transport { get; } = transport;

        public string? UserAgent { get; } = userAgent;

        public DateTimeOffset ReceivedAt { get; } = receivedAt;

        public TaskCompletionSource<IngestOutcome> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>
    /// Marks a run completed with the verdict the customer saw, in the transaction that stores its final findings;
    /// creates the run if no result preceded it.
    /// </summary>
    public async Task<IngestOutcome> CompleteAsync(Guid sessionId, Guid runId, string verdict, string? userAgent, CancellationToken cancellationToken) =>
        await _findings.CompleteAsync(sessionId, runId, Truncate(verdict, 500)!, Truncate(userAgent, 512), cancellationToken) switch
        {
            Findings.RunCompletion.Completed => IngestOutcome.Stored,
            Findings.RunCompletion.AlreadyCompleted => IngestOutcome.Duplicate,
            Findings.RunCompletion.NotStarted => IngestOutcome.NotStarted,
            _ => IngestOutcome.ForeignRun,
        };

    private static string Raw(JsonElement? element) =>
        element is { ValueKind: JsonValueKind.Object } e ? e.GetRawText() : "{}";

    private static string? Truncate(string? text, int max) => text is null || text.Length <= max ? text : text[..max];
}
