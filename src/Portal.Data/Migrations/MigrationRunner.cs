using Microsoft.Extensions.Logging;
using Npgsql;

namespace Portal.Data.Migrations;

/// <summary>
/// Applies the schema's SQL files: each file once, in its own transaction, journaled with its checksum.
/// A PostgreSQL advisory lock makes instances that start together take turns, and a file that changed after
/// it was applied stops the start-up instead of leaving the schema in an unknown state.
/// </summary>
public sealed partial class MigrationRunner(NpgsqlDataSource dataSource, ILogger<MigrationRunner> logger)
{
    /// <summary>The key of the advisory lock held while migrating ("portal-m" in ASCII).</summary>
    public const long AdvisoryLockKey = 0x706F7274616C2D6D;

    /// <summary>Applies every script not yet in the journal, and returns the names of those it applied.</summary>
    public async Task<IReadOnlyList<string>> RunAsync(IReadOnlyList<MigrationScript> scripts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scripts);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await ExecuteAsync(connection, $"SELECT pg_advisory_lock({AdvisoryLockKey})", cancellationToken);
        try
        {
            await ExecuteAsync(
                connection,
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    file_name text PRIMARY KEY,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """,
                cancellationToken);

            var applied = await ReadJournalAsync(connection, cancellationToken);
            var changed = scripts.Where(s => applied.TryGetValue(s.Name, out var sum) && !string.Equals(sum, s.Checksum, StringComparison.Ordinal)).ToList();
            if (changed.Count > 0)
            {
                throw new MigrationChecksumException(changed.Select(s => s.Name).ToList());
            }

            var done = new List<string>();
            foreach (var script in scripts.Where(s => !applied.ContainsKey(s.Name)))
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await using (var command = new NpgsqlCommand(script.Sql, connection, transaction))
                {
                    await command.ExecuteNonQueryAsync(cancellationToken);
                }

                await using (var journal = new NpgsqlCommand("INSERT INTO schema_migrations (file_name, checksum) VALUES ($1, $2)", connection, transaction))
                {
                    journal.Parameters.Add(new() { Value = script.Name });
                    journal.Parameters.Add(new() { Value = script.Checksum });
                    await journal.ExecuteNonQueryAsync(cancellationToken);
                }

                await transaction.CommitAsync(cancellationToken);
                LogApplied(script.Name);
                done.Add(script.Name);
            }

            return done;
        }
        finally
        {
            await ExecuteAsync(connection, $"SELECT pg_advisory_unlock({AdvisoryLockKey})", CancellationToken.None);
        }
    }

    private static async Task<Dictionary<string, string>> ReadJournalAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var applied = new Dictionary<string, string>(StringComparer.Ordinal);
        await using var command = new NpgsqlCommand("SELECT file_name, checksum FROM schema_migrations", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            applied[reader.GetString(0)] = reader.GetString(1);
        }

        return applied;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied migration {File}")]
    private partial void LogApplied(string file);
}

/// <summary>Thrown when a migration file that was already applied has different content now.</summary>
public sealed class MigrationChecksumException(IReadOnlyList<string> files) : Exception(
    $"Refusing to start: the migration file(s) {string.Join(", ", files)} changed after they were applied to this database. " +
    "Applied migrations must never be edited; restore the original file(s) and put the change in a new file in migrations/.")
{
    /// <summary>The files whose checksum no longer matches the journal.</summary>
    public IReadOnlyList<string> Files { get; } = files;
}
