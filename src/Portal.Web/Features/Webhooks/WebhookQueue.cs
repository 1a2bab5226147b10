using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Portal.Core.Diagnosis;

namespace Portal.Web.Features.Webhooks;

/// <summary>The events webhooks receive.</summary>
public static class WebhookEvents
{
    /// <summary>A run ended (the customer's page finished, or a probe run completed).</summary>
    public const string RunCompleted = "run.completed";
}

/// <summary>What a webhook receives when a run completes.</summary>
/// <param name="Event">The event's name.</param>
/// <param name="SessionId">The session.</param>
/// <param name="RunId">The run.</param>
/// <param name="CustomerName">Who the session is for.</param>
/// <param name="TicketRef">The helpdesk ticket.</param>
/// <param name="Verdict">What the customer's page said at the end.</param>
/// <param name="CompletedAt">When the run completed.</param>
/// <param name="Findings">The run's findings.</param>
/// <param name="Report">The path of the session's report in the API.</param>
public sealed record RunCompletedPayload(
    string Event, Guid SessionId, Guid RunId, string? CustomerName, string? TicketRef, string? Verdict, DateTimeOffset? CompletedAt,
    IReadOnlyList<WebhookFinding> Findings, string Report);

/// <summary>A finding as a webhook receives it.</summary>
public sealed record WebhookFinding(string Code, string Severity, string Summary, string Recommendation);

/// <summary>Queues deliveries inside the caller's transaction, so an event is delivered exactly when its change commits.</summary>
public static class WebhookQueue
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// Queues a <c>run.completed</c> delivery for every active webhook, once per run however often it is called, for
    /// the first <paramref name="runsPerLink"/> runs of the session.
    /// </summary>
    public static async Task EnqueueRunCompletedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid sessionId, Guid runId, IReadOnlyList<Finding> findings, DateTimeOffset now, int runsPerLink, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(findings);
        RunCompletedPayload? payload = null;
        await using (var read = new NpgsqlCommand(
            "SELECT s.customer_name, s.ticket_ref, r.verdict, r.completed_at FROM runs r JOIN sessions s ON s.id = r.session_id WHERE r.id = $1", connection, transaction))
        {
            read.Parameters.Add(new() { Value = runId });
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                payload = new RunCompletedPayload(
                    WebhookEvents.RunCompleted, sessionId, runId,
                    await reader.IsDBNullAsync(0, cancellationToken) ? null : reader.GetString(0),
                    await reader.IsDBNullAsync(1, cancellationToken) ? null : reader.GetString(1),
                    await reader.IsDBNullAsync(2, cancellationToken) ? null : reader.GetString(2),
                    await reader.IsDBNullAsync(3, cancellationToken) ? null : await reader.GetFieldValueAsync<DateTimeOffset>(3, cancellationToken),
                    [.. findings.Select(f => new WebhookFinding(f.Code, f.Severity, f.Summary, f.Recommendation))],
                    $"/api/v1/sessions/{sessionId}/report?format=json");
            }
        }

        if (payload is null)
        {
            return;
        }

        await using var insert = new NpgsqlCommand(
            """
            INSERT INTO webhook_deliveries (id, webhook_id, event, session_id, run_id, payload, created_at, attempts, next_attempt_at)
            SELECT gen_random_uuid(), w.id, $1, $2, $3, $4, $5, 0, $5 FROM webhooks w WHERE w.disabled_at IS NULL
              AND (SELECT count(DISTINCT d.run_id) FROM webhook_deliveries d WHERE d.session_id = $2 AND d.event = $1 AND d.run_id <> $3) < $6
            ON CONFLICT (webhook_id, event, run_id) DO NOTHING
            """, connection, transaction);
        insert.Parameters.Add(new() { Value = WebhookEvents.RunCompleted });
        insert.Parameters.Add(new() { Value = sessionId });
        insert.Parameters.Add(new() { Value = runId });
        insert.Parameters.Add(new() { Value = JsonSerializer.Serialize(payload, Json), NpgsqlDbType = NpgsqlDbType.Jsonb });
        insert.Parameters.Add(new() { Value = now });
        insert.Parameters.Add(new() { Value = runsPerLink });
        await insert.ExecuteNonQueryAsync(cancellationToken);
    }
}
