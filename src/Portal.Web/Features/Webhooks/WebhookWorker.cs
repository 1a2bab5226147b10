using System.Globalization;
using System.Text;
using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Probes;

namespace Portal.Web.Features.Webhooks;

/// <summary>Delivery settings, from <c>Portal:Webhooks</c>.</summary>
public sealed class WebhookOptions
{
    /// <summary>How often the worker looks for due deliveries.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The wait before the first retry; each further retry waits twice as long.</summary>
    public TimeSpan FirstRetryDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Attempts before a delivery is given up.</summary>
    public int MaxAttempts { get; set; } = 8;

    /// <summary>How long one attempt may take.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The default of <see cref="RunsPerLink"/>.</summary>
    public const int DefaultRunsPerLink = 50;

    /// <summary>
    /// How many runs of one session (one link) fire <c>run.completed</c> (<c>Portal:Webhooks:RunsPerLink</c>): a page or a
    /// script holding a link cannot make the portal send signed deliveries without end. Later runs are stored and
    /// shown as usual, without a webhook.
    /// </summary>
    public int RunsPerLink { get; set; } = DefaultRunsPerLink;
}

/// <summary>
/// Sends due deliveries: claims them with <c>FOR UPDATE SKIP LOCKED</c> (so several instances never send one twice
/// at once), POSTs the signed JSON to the guarded address, and records the attempt; failures are retried with
/// exponential back-off.
/// </summary>
public sealed partial class WebhookWorker(NpgsqlDataSource dataSource, Prober prober, TimeProvider time, IOptions<WebhookOptions> options, ILogger<WebhookWorker> logger) : BackgroundService
{
    private sealed record Due(Guid Id, string Url, string Secret, string Event, string Payload, int Attempts);

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var due = await ClaimAsync(stoppingToken);
                await Task.WhenAll(due.Select(d => DeliverAsync(d, stoppingToken)));
                if (due.Count > 0)
                {
                    continue;
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException && !stoppingToken.IsCancellationRequested)
            {
                LogPollFailed(logger, ex);
            }

            try
            {
                await Task.Delay(options.Value.PollInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task<List<Due>> ClaimAsync(CancellationToken cancellationToken)
    {
        // The lease keeps another instance from taking the delivery while this one is sending it.
        const string Sql = """
            WITH due AS (
                SELECT d.id FROM webhook_deliveries d
                WHERE d.delivered_at IS NULL AND d.next_attempt_at <= $1
                ORDER BY d.next_attempt_at
                LIMIT 20
                FOR UPDATE SKIP LOCKED)
            UPDATE webhook_deliveries d SET next_attempt_at = $2
            FROM due, webhooks w
            WHERE d.id = due.id AND w.id = d.webhook_id
            RETURNING d.id, w.url, w.secret, d.event, d.payload::text, d.attempts
            """;
        var now = time.GetUtcNow();
        await using var command = dataSource.CreateCommand(Sql);
        command.Parameters.Add(new() { Value = now });
        command.Parameters.Add(new() { Value = now + options.Value.Timeout + options.Value.Timeout });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<Due>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(new Due(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetInt32(5)));
        }

        return list;
    }

    private async Task DeliverAsync(Due due, CancellationToken cancellationToken)
    {
        var (status, error) = await SendAsync(due, cancellationToken);
        var attempts = due.Attempts + 1;
        var delivered = status is >= 200 and < 300;
        DateTimeOffset? next = delivered || attempts >= options.Value.MaxAttempts
            ? null
            : time.GetUtcNow() + options.Value.FirstRetryDelay * Math.Pow(2, attempts - 1);
        await using var command = dataSource.CreateCommand(
            "UPDATE webhook_deliveries SET attempts = $2, last_status = $3, last_error = $4, delivered_at = $5, next_attempt_at = $6 WHERE id = $1");
        command.Parameters.Add(new() { Value = due.Id });
        command.Parameters.Add(new() { Value = attempts });
        command.Parameters.Add(new() { Value = (object?)status ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        command.Parameters.Add(new() { Value = (object?)error ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = delivered ? time.GetUtcNow() : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = (object?)next ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        await command.ExecuteNonQueryAsync(cancellationToken);
        if (!delivered)
        {
            LogAttemptFailed(logger, due.Id, attempts, status, error);
        }
    }

    private async Task<(int? Status, string? Error)> SendAsync(Due due, CancellationToken cancellationToken)
    {
        if (!prober.Guard.TryAccept(due.Url, out var target, out var refused))
        {
            return (null, refused);
        }

        var guarded = await prober.Guard.ResolveAsync(target, prober.Resolver, cancellationToken);
        if (!guarded.Decision.Allowed)
        {
            return (null, guarded.Decision.Reason);
        }

        using var handler = GuardedHttp.Handler(guarded, options.Value.Timeout, validateCertificates: true);
        using var client = new HttpClient(handler) { Timeout = options.Value.Timeout };
        var body = Encoding.UTF8.GetBytes(due.Payload);
        var timestamp = time.GetUtcNow().ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, due.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json") { CharSet = "utf-8" };
        request.Headers.UserAgent.ParseAdd("Portal-Webhook/1.0");
        request.Headers.Add(WebhookSignature.EventHeader, due.Event);
        request.Headers.Add(WebhookSignature.DeliveryHeader, due.Id.ToString());
        request.Headers.Add(WebhookSignature.TimestampHeader, timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add(WebhookSignature.SignatureHeader, WebhookSignature.Sign(due.Secret, timestamp, body));
        try
        {
            using var response = await client.SendAsync(request, cancellationToken);
            return ((int)response.StatusCode, response.IsSuccessStatusCode ? null : $"HTTP {(int)response.StatusCode}");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return (null, ex is TaskCanceledException ? $"no answer within {options.Value.Timeout.TotalSeconds:0} s" : ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Looking for due webhook deliveries failed")]
    private static partial void LogPollFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook delivery {DeliveryId} attempt {Attempt} failed: {Status} {Error}")]
    private static partial void LogAttemptFailed(ILogger logger, Guid deliveryId, int attempt, int? status, string? error);
}
