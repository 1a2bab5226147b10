using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Portal.Data;
using Portal.Data.Events;
using Portal.Probes;

namespace Portal.Web.Features.Admin;

/// <summary>
/// Settings admins change at run time, stored in PostgreSQL: the probe allow-list (added to the configured one) and
/// the retention period. A change reaches every instance through the event bus.
/// </summary>
public sealed class PortalSettings(IDbContextFactory<PortalDbContext> contexts, NpgsqlDataSource dataSource, Prober prober, IConfiguration configuration, TimeProvider time)
{
    public const string AllowListKey = "probes.allowList";
    public const string RetentionDaysKey = "retention.days";

    /// <summary>The longest retention period accepted, in days (10 years).</summary>
    public const int MaxRetentionDays = 3650;

    private IReadOnlyList<string> Configured => configuration.GetSection("Portal:Probes:AllowList").Get<List<string>>() ?? [];

    /// <summary>The allow-list entries from configuration, which the console cannot change.</summary>
    public IReadOnlyList<string> ConfiguredAllowList => Configured;

    /// <summary>The allow-list entries admins added in the console.</summary>
    public async Task<IReadOnlyList<string>> GetAllowListAsync(CancellationToken cancellationToken) =>
        await ReadAsync<List<string>>(AllowListKey, cancellationToken) ?? [];

    /// <summary>Replaces the console's allow-list entries; returns the problems, empty when stored.</summary>
    public async Task<IReadOnlyList<string>> SetAllowListAsync(IEnumerable<string> entries, string? by, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var clean = entries.Select(e => e.Trim()).Where(e => e.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var problems = clean.Where(e => !IsValidEntry(e)).Select(e => $"'{e}' is neither a CIDR, an IP address nor a host name.").ToList();
        if (clean.Count > 100)
        {
            problems.Add("At most 100 entries.");
        }

        if (problems.Count > 0)
        {
            return problems;
        }

        await WriteAsync(AllowListKey, clean, by, cancellationToken);
        await ApplyAsync(cancellationToken);
        return [];
    }

    /// <summary>Sessions older than this many days are deleted; null keeps everything.</summary>
    public Task<int?> GetRetentionDaysAsync(CancellationToken cancellationToken) => ReadAsync<int?>(RetentionDaysKey, cancellationToken);

    /// <summary>Sets the retention period; returns a problem, or null when stored.</summary>
    public async Task<string?> SetRetentionDaysAsync(int? days, string? by, CancellationToken cancellationToken)
    {
        if (days is < 1 or > MaxRetentionDays)
        {
            return $"Retention must be between 1 and {MaxRetentionDays} days, or empty to keep everything.";
        }

        await WriteAsync(RetentionDaysKey, days, by, cancellationToken);
        return null;
    }

    /// <summary>Rebuilds the probes' address guard from the configured and the stored allow-list.</summary>
    public async Task ApplyAsync(CancellationToken cancellationToken)
    {
        var stored = await GetAllowListAsync(cancellationToken);
        prober.Guard = new AddressGuard(Configured.Concat(stored));
    }

    private static bool IsValidEntry(string entry) =>
        IPNetwork.TryParse(entry, out _) || IPAddress.TryParse(entry, out _)
        || (entry.Length <= 253 && Uri.CheckHostName(entry) == UriHostNameType.Dns);

    private async Task<T?> ReadAsync<T>(string key, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var value = await db.Settings.AsNoTracking().Where(s => s.Key == key).Select(s => s.Value).FirstOrDefaultAsync(cancellationToken);
        return value is null ? default : JsonSerializer.Deserialize<T>(value);
    }

    private async Task WriteAsync<T>(string key, T value, string? by, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand(
            "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            connection, transaction))
        {
            command.Parameters.Add(new() { Value = key });
            command.Parameters.Add(new() { Value = JsonSerializer.Serialize(value), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Jsonb });
            command.Parameters.Add(new() { Value = time.GetUtcNow() });
            command.Parameters.Add(new() { Value = (object?)by ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await PortalEvents.PublishAsync(connection, transaction, new PortalEvent(PortalEventKinds.SettingsChanged, Guid.Empty), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }
}

/// <summary>
/// Applies stored settings at start-up and whenever another instance changes them, and deletes sessions older than
/// the retention period on a schedule (<c>Portal:Retention:SweepInterval</c>, hourly by default).
/// </summary>
public sealed partial class SettingsWorker(PortalSettings settings, IDbContextFactory<PortalDbContext> contexts, PortalEvents events, TimeProvider time, IConfiguration configuration, ILogger<SettingsWorker> logger) : BackgroundService
{
    /// <summary>Deletes the sessions older than the retention period (with their runs, results and notes); returns how many.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        if (await settings.GetRetentionDaysAsync(cancellationToken) is not { } days)
        {
            return 0;
        }

        var cutoff = time.GetUtcNow().AddDays(-days);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var deleted = await db.Sessions.Where(s => s.CreatedAt < cutoff).ExecuteDeleteAsync(cancellationToken);
        if (deleted > 0)
        {
            LogSwept(logger, deleted, days);
        }

        return deleted;
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var watch = events.Watch(Guid.Empty, e => e.Kind is PortalEventKinds.SettingsChanged or PortalEventKinds.Resync ? settings.ApplyAsync(stoppingToken) : Task.CompletedTask);
        var interval = configuration.GetValue("Portal:Retention:SweepInterval", TimeSpan.FromHours(1));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await settings.ApplyAsync(stoppingToken);
                await SweepAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException && !stoppingToken.IsCancellationRequested)
            {
                LogSweepFailed(logger, ex);
            }

            try
            {
                await Task.Delay(interval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention: deleted {Count} sessions older than {Days} days")]
    private static partial void LogSwept(ILogger logger, int count, int days);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Retention sweep failed")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
