using System.Text.Json;
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
public sealed class RunIngest(NpgsqlDataSource dataSource, Findings.FindingsStore findings, TimeProvider time)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// Stores a validated result, creating its run on first sight. The run and the result, and the events that
    /// announce them, are written by one statement.
    /// </summary>
    public async Task<IngestOutcome> IngestAsync(Guid sessionId, ResultSubmission result, string source, string transport, string? userAgent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(result);
        const string Sql = """
            WITH run_ins AS (
                INSERT INTO runs (id, session_id, status, started_at, user_agent)
                VALUES ($2, $3, 'running', $10, $11)
                ON CONFLICT (id) DO NOTHING
                RETURNING id),
            run_ok AS (
                SELECT id FROM run_ins
                UNION ALL
                SELECT id FROM runs WHERE id = $2 AND session_id = $3),
            res_ins AS (
                INSERT INTO results (id, run_id, session_id, step, status, source, metrics, detail, known_step, transport, client_time, received_at)
                SELECT $1, $2, $3, $4, $5, $6, $7, $8, $12, $13, $9, $10
                WHERE EXISTS (SELECT 1 FROM run_ok)
                ON CONFLICT (id) DO NOTHING
                RETURNING id),
            n_run AS (SELECT pg_notify($14, $15) FROM run_ins),
            n_res AS (SELECT pg_notify($14, $16) FROM res_ins)
            SELECT (SELECT count(*) FROM run_ok), (SELECT count(*) FROM res_ins), (SELECT count(*) FROM n_run), (SELECT count(*) FROM n_res)
            """;

        for (var attempt = 0; ; attempt++)
        {
            await using var command = dataSource.CreateCommand(Sql);
            var p = command.Parameters;
            p.Add(new() { Value = result.Id });
            p.Add(new() { Value = result.RunId });
            p.Add(new() { Value = sessionId });
            p.Add(new() { Value = result.Step });
            p.Add(new() { Value = result.Status });
            p.Add(new() { Value = source });
            p.Add(new() { Value = Raw(result.Metrics), NpgsqlDbType = NpgsqlDbType.Jsonb });
            p.Add(new() { Value = Raw(result.Detail), NpgsqlDbType = NpgsqlDbType.Jsonb });
            p.Add(new() { Value = (object?)result.ClientTime ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            p.Add(new() { Value = time.GetUtcNow() });
            p.Add(new() { Value = (object?)Truncate(userAgent, 512) ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            p.Add(new() { Value = KnownSteps.IsKnown(result.Step) });
            p.Add(new() { Value = transport });
            p.Add(new() { Value = PortalEvents.Channel });
            p.Add(new() { Value = JsonSerializer.Serialize(new PortalEvent(PortalEventKinds.RunStarted, sessionId, result.RunId), Json) });
            p.Add(new() { Value = JsonSerializer.Serialize(new PortalEvent(PortalEventKinds.ResultStored, sessionId, result.RunId, result.Id), Json) });

            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            var runOk = reader.GetInt64(0) > 0;
            var stored = reader.GetInt64(1) > 0;
            if (stored || runOk)
            {
                // A duplicate asks too: if the first attempt stored the result but its findings were never evaluated
                // (the process stopped), the reporter's resend is what brings them up to date.
                findings.Request(sessionId, result.RunId, runCompleted: false);
                return stored ? IngestOutcome.Stored : IngestOutcome.Duplicate;
            }

            // The run was inserted by a concurrent statement this one's snapshot could not see yet: look again once.
            if (attempt > 0)
            {
                return IngestOutcome.ForeignRun;
            }
        }
    }

    /// <summary>Marks a run completed with the verdict the customer saw; creates the run if no result preceded it.</summary>
    public async Task<IngestOutcome> CompleteAsync(Guid sessionId, Guid runId, string verdict, string? userAgent, CancellationToken cancellationToken)
    {
        const string Sql = """
            WITH up AS (
                INSERT INTO runs AS r (id, session_id, status, started_at, completed_at, user_agent, verdict)
                VALUES ($1, $2, 'completed', $3, $3, $4, $5)
                ON CONFLICT (id) DO UPDATE SET status = 'completed', completed_at = excluded.completed_at, verdict = excluded.verdict
                WHERE r.session_id = excluded.session_id AND r.status <> 'completed'
                RETURNING id),
            mine AS (SELECT 1 FROM runs WHERE id = $1 AND session_id = $2),
            n AS (SELECT pg_notify($6, $7) FROM up)
            SELECT (SELECT count(*) FROM up), (SELECT count(*) FROM mine), (SELECT count(*) FROM n)
            """;
        await using var command = dataSource.CreateCommand(Sql);
        command.Parameters.Add(new() { Value = runId });
        command.Parameters.Add(new() { Value = sessionId });
        command.Parameters.Add(new() { Value = time.GetUtcNow() });
        command.Parameters.Add(new() { Value = (object?)Truncate(userAgent, 512) ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = Truncate(verdict, 500)! });
        command.Parameters.Add(new() { Value = PortalEvents.Channel });
        command.Parameters.Add(new() { Value = JsonSerializer.Serialize(new PortalEvent(PortalEventKinds.RunCompleted, sessionId, runId), Json) });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var outcome = reader.GetInt64(0) > 0 ? IngestOutcome.Stored : reader.GetInt64(1) > 0 ? IngestOutcome.Duplicate : IngestOutcome.ForeignRun;
        if (outcome != IngestOutcome.ForeignRun)
        {
            // The run is complete: all-clear becomes possible, and its webhooks are queued (once) with the final findings.
            findings.Request(sessionId, runId, runCompleted: true);
        }

        return outcome;
    }

    private static string Raw(JsonElement? element) =>
        element is { ValueKind: JsonValueKind.Object } e ? e.GetRawText() : "{}";

    private static string? Truncate(string? text, int max) => text is null || text.Length <= max ? text : text[..max];
}
