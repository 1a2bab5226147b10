using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Portal.Data.Embedded;

/// <summary>Options of an embedded PostgreSQL cluster.</summary>
public sealed class EmbeddedPostgresOptions
{
    /// <summary>The folder that holds the cluster; created on first start, reused after.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>The database the portal uses inside the cluster.</summary>
    public string Database { get; init; } = "portal";

    /// <summary>
    /// Whether the server flushes to disk. On for the portal's own data; tests turn it off for speed.
    /// </summary>
    public bool Fsync { get; init; } = true;

    /// <summary>A folder with <c>initdb</c>, <c>pg_ctl</c> and <c>postgres</c>; found on the machine when null.</summary>
    public string? BinDirectory { get; init; }

    /// <summary>The loopback port to listen on; a free one when null. A fixed port lets a restarted cluster keep its address.</summary>
    public int? Port { get; init; }
}

/// <summary>
/// A PostgreSQL cluster the portal owns: created with the machine's server binaries under a folder of its
/// own, listening on loopback only on a free port, stopped with the host. As root, the server runs as the
/// <c>postgres</c> user, since PostgreSQL refuses to run as root.
/// </summary>
public sealed partial class EmbeddedPostgres : IAsyncDisposable
{
    private const string Superuser = "portal";
    private readonly string _clusterDirectory;
    private readonly string _bin;
    private readonly ILogger _logger;
    private bool _stopped;

    private EmbeddedPostgres(string clusterDirectory, string bin, string connectionString, ILogger logger)
    {
        _clusterDirectory = clusterDirectory;
        _bin = bin;
        ConnectionString = connectionString;
        _logger = logger;
    }

    /// <summary>The connection string of the portal's database in the running cluster.</summary>
    public string ConnectionString { get; }

    /// <summary>What a person reads when no PostgreSQL server binaries are on the machine.</summary>
    public const string MissingBinariesMessage =
        "The portal stores its data in PostgreSQL and found no PostgreSQL server binaries (initdb, pg_ctl) on this machine, " +
        "neither on PATH nor under /usr/lib/postgresql/*/bin. Either install them (Debian/Ubuntu: `sudo apt-get install -y postgresql`; " +
        "the portal then runs its own cluster under .portal-data/), or point the portal at an existing server with " +
        "ConnectionStrings__Portal=\"Host=…;Port=5432;Database=portal;Username=…;Password=…\".";

    /// <summary>Finds a folder with the PostgreSQL server binaries: PATH first, then the newest /usr/lib/postgresql/*/bin.</summary>
    public static string? FindBinaries()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl")))
            {
                return dir;
            }
        }

        const string Debian = "/usr/lib/postgresql";
        if (!Directory.Exists(Debian))
        {
            return null;
        }

        return Directory.EnumerateDirectories(Debian)
            .Select(d => (Dir: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0))
            .Where(x => File.Exists(Path.Combine(x.Dir, "initdb")) && File.Exists(Path.Combine(x.Dir, "pg_ctl")))
            .OrderByDescending(x => x.Version)
            .Select(x => x.Dir)
            .FirstOrDefault();
    }

    /// <summary>Creates the cluster if it does not exist yet, starts it, and makes sure the database exists.</summary>
    public static async Task<EmbeddedPostgres> StartAsync(EmbeddedPostgresOptions options, ILogger logger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var bin = options.BinDirectory ?? FindBinaries();
        if (bin is null || !File.Exists(Path.Combine(bin, "initdb")) || !File.Exists(Path.Combine(bin, "pg_ctl")))
        {
            throw new EmbeddedPostgresException(MissingBinariesMessage);
        }

        var root = Path.GetFullPath(options.DataDirectory);
        var cluster = Path.Combine(root, "pg");
        var passwordFile = Path.Combine(root, "pg.password");
        Directory.CreateDirectory(root);

        if (!File.Exists(Path.Combine(cluster, "PG_VERSION")))
        {
            await InitAsync(bin, root, cluster, passwordFile, cancellationToken);
            LogCreated(logger, cluster);
        }

        var password = (await File.ReadAllTextAsync(passwordFile, cancellationToken)).Trim();

        // A cluster left running by a host that was killed: stop it so this start owns it.
        if (File.Exists(Path.Combine(cluster, "postmaster.pid")))
        {
            await RunAsync(bin, ["pg_ctl", "-D", cluster, "-m", "fast", "-w", "stop"], throwOnError: false, cancellationToken);
        }

        var port = options.Port ?? FreeLoopbackPort();
        var serverOptions = string.Join(' ',
            "-c listen_addresses=127.0.0.1",
            $"-p {port.ToString(CultureInfo.InvariantCulture)}",
            "-c unix_socket_directories=''",
            // Room for several portal processes (each pools up to 100 connections) on one embedded cluster.
            "-c max_connections=300",
            options.Fsync ? "" : "-c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        await RunAsync(bin, ["pg_ctl", "-D", cluster, "-w", "-t", "60", "-l", Path.Combine(root, "postgres.log"), "-o", serverOptions, "start"], throwOnError: true, cancellationToken);

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = port,
            Username = Superuser,
            Password = password,
            Database = "postgres",
            Pooling = false,
        };
        await using (var admin = new NpgsqlConnection(builder.ConnectionString))
        {
            await admin.OpenAsync(cancellationToken);
            await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", admin) { Parameters = { new() { Value = options.Database } } };
            if (await exists.ExecuteScalarAsync(cancellationToken) is null)
            {
                await using var create = new NpgsqlCommand($"CREATE DATABASE \"{options.Database.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", admin);
                await create.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        builder.Database = options.Database;
        builder.Pooling = true;
        LogStarted(logger, port, cluster);
        return new EmbeddedPostgres(cluster, bin, builder.ConnectionString, logger);
    }

    /// <summary>Stops the cluster (fast shutdown: open sessions are ended, data is kept).</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        NpgsqlConnection.ClearAllPools();
        await RunAsync(_bin, ["pg_ctl", "-D", _clusterDirectory, "-m", "fast", "-w", "stop"], throwOnError: false, cancellationToken);
        LogStopped(_logger, _clusterDirectory);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync();

    private static async Task InitAsync(string bin, string root, string cluster, string passwordFile, CancellationToken cancellationToken)
    {
        if (!File.Exists(passwordFile))
        {
            await File.WriteAllTextAsync(passwordFile, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24)), cancellationToken);
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        if (Directory.Exists(cluster))
        {
            Directory.Delete(cluster, recursive: true);
        }

        Directory.CreateDirectory(cluster);
        if (Environment.IsPrivilegedProcess)
        {
            // initdb refuses to run as root: hand the folders to the postgres user, and let it read the password once.
            await RunProcessAsync("chown", ["postgres:postgres", root, cluster, passwordFile], cancellationToken);
            var check = await RunProcessAsync("runuser", ["-u", "postgres", "--", "test", "-w", cluster], cancellationToken, throwOnError: false);
            if (check.ExitCode != 0)
            {
                throw new EmbeddedPostgresException(
                    $"The portal runs as root, so its PostgreSQL runs as the 'postgres' user, which cannot reach {cluster} " +
                    "(a parent folder is closed to other users). Move the checkout to a folder others can enter, or set ConnectionStrings__Portal.");
            }
        }

        await RunAsync(bin, ["initdb", "-D", cluster, "-U", Superuser, "--auth=scram-sha-256", $"--pwfile={passwordFile}", "-E", "UTF8", "--locale=C"], throwOnError: true, cancellationToken);
        if (Environment.IsPrivilegedProcess)
        {
            await RunProcessAsync("chown", ["root:root", passwordFile], cancellationToken);
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static Task<ProcessOutput> RunAsync(string bin, string[] command, bool throwOnError, CancellationToken cancellationToken)
    {
        var tool = Path.Combine(bin, command[0]);
        string[] rest = [.. command.Skip(1)];
        return Environment.IsPrivilegedProcess
            ? RunProcessAsync("runuser", ["-u", "postgres", "--", tool, .. rest], cancellationToken, throwOnError)
            : RunProcessAsync(tool, rest, cancellationToken, throwOnError);
    }

    private static async Task<ProcessOutput> RunProcessAsync(string file, string[] arguments, CancellationToken cancellationToken, bool throwOnError = true)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new EmbeddedPostgresException($"Could not start {file}.");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var output = new ProcessOutput(process.ExitCode, await stdout + await stderr);
        if (throwOnError && output.ExitCode != 0)
        {
            throw new EmbeddedPostgresException($"{Path.GetFileName(file)} {string.Join(' ', arguments)} failed with exit code {output.ExitCode}:\n{output.Text}");
        }

        return output;
    }

    private sealed record ProcessOutput(int ExitCode, string Text);

    [LoggerMessage(Level = LogLevel.Information, Message = "Created embedded PostgreSQL cluster in {Directory}")]
    private static partial void LogCreated(ILogger logger, string directory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedded PostgreSQL listening on 127.0.0.1:{Port} (data in {Directory})")]
    private static partial void LogStarted(ILogger logger, int port, string directory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedded PostgreSQL in {Directory} stopped")]
    private static partial void LogStopped(ILogger logger, string directory);
}

/// <summary>Thrown when the embedded PostgreSQL cannot be created or started; the message says what to do.</summary>
public sealed class EmbeddedPostgresException(string message) : Exception(message);
