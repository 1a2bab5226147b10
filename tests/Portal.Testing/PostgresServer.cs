using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Portal.Data.Embedded;
using Portal.Data.Migrations;

namespace Portal.Testing;

/// <summary>
/// One throw-away PostgreSQL cluster per test process, started with the portal's own embedded-cluster code, and one
/// fresh database per test class, copied from a migrated template.
/// </summary>
public static class PostgresServer
{
    private const string Template = "portal_template";
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static EmbeddedPostgres? _server;
    private static bool _templateReady;

    /// <summary>The connection string of the cluster's maintenance database.</summary>
    public static async Task<string> AdminConnectionStringAsync()
    {
        var server = await StartAsync();
        return new NpgsqlConnectionStringBuilder(server.ConnectionString) { Database = "postgres", Pooling = false }.ConnectionString;
    }

    /// <summary>
    /// Makes a database unreachable, as a PostgreSQL outage would for the portal using it: its connections are cut
    /// and new ones refused until <see cref="AllowConnectionsAsync"/>. Other tests' databases on the cluster go on.
    /// </summary>
    public static Task RefuseConnectionsAsync(string connectionString)
    {
        var database = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        return ExecuteAsAdminAsync(
            $"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS false",
            $"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'");
    }

    /// <summary>Lets a database refused by <see cref="RefuseConnectionsAsync"/> take connections again.</summary>
    public static Task AllowConnectionsAsync(string connectionString) =>
        ExecuteAsAdminAsync($"ALTER DATABASE \"{new NpgsqlConnectionStringBuilder(connectionString).Database}\" ALLOW_CONNECTIONS true");

    private static async Task ExecuteAsAdminAsync(params string[] statements)
    {
        await using var connection = new NpgsqlConnection(await AdminConnectionStringAsync());
        await connection.OpenAsync();
        foreach (var sql in statements)
        {
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }
    }

    /// <summary>Creates an empty database (no schema) and returns its connection string.</summary>
    public static async Task<string> CreateEmptyDatabaseAsync(string prefix) => await CreateAsync(prefix, template: null);

    /// <summary>Creates a database with the portal's schema applied and returns its connection string.</summary>
    public static async Task<string> CreateMigratedDatabaseAsync(string prefix)
    {
        await Gate.WaitAsync();
        try
        {
            if (!_templateReady)
            {
                var connectionString = await CreateCoreAsync(Template, template: null);
                await using (var dataSource = NpgsqlDataSource.Create(connectionString))
                {
                    await new MigrationRunner(dataSource, NullLogger<MigrationRunner>.Instance).RunAsync(MigrationScript.Embedded());
                }

                NpgsqlConnection.ClearAllPools();
                _templateReady = true;
            }

            return await CreateCoreAsync(Unique(prefix), Template);
        }
        finally
        {
            Gate.Release();
        }
    }

    private static async Task<string> CreateAsync(string prefix, string? template)
    {
        await Gate.WaitAsync();
        try
        {
            return await CreateCoreAsync(Unique(prefix), template);
        }
        finally
        {
            Gate.Release();
        }
    }

    private static async Task<string> CreateCoreAsync(string name, string? template)
    {
        var server = await StartAsync();
        await using (var admin = new NpgsqlConnection(await AdminConnectionStringAsync()))
        {
            await admin.OpenAsync();
            var sql = template is null ? $"CREATE DATABASE \"{name}\"" : $"CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"";
            await using var command = new NpgsqlCommand(sql, admin);
            await command.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(server.ConnectionString) { Database = name }.ConnectionString;
    }

    private static string Unique(string prefix) =>
        $"{new string([.. prefix.ToLowerInvariant().Where(char.IsAsciiLetterOrDigit)])}_{Guid.NewGuid().ToString("N")[..8]}";

    private static async Task<EmbeddedPostgres> StartAsync()
    {
        if (_server is not null)
        {
            return _server;
        }

        // A port from below the ephemeral range, as for the portals: nothing can take it while the server starts.
        var options = new EmbeddedPostgresOptions
        {
            DataDirectory = TempFolder.Create("postgres"),
            Fsync = false,
            Database = "postgres",
            Port = PortalProcess.FreePort(),
        };
        var server = await EmbeddedPostgres.StartAsync(options, NullLogger.Instance);
        return _server = server;
    }
}
