using System.Text.Json;
using System.Net.Http.Json;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Reflection;
using System.Text.RegularExpressions;

namespace Portal.Testing;

/// <summary>
/// The portal as it runs in production: its own process (the built Portal.Web.dll) on a random loopback port,
/// against a real PostgreSQL database. Every line it prints is kept, so tests can read its logs.
/// </summary>
public sealed partial class PortalProcess : IAsyncDisposable
{
    /// <summary>The bootstrap admin's e-mail in tests.</summary>
    public const string AdminEmail = "admin@portal.test";

    /// <summary>The bootstrap admin's password in tests.</summary>
    public const string AdminPassword = "teal-lantern-orbit-42";

    /// <summary>The bootstrap API key in tests.</summary>
    public const string ApiKey = "ptl_test-key-0123456789abcdefghijklmnopqrstuvwxyz";

    // The ports FreePort has handed out in this process.
    private static readonly ConcurrentDictionary<int, byte> HandedOut = new();

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private PortalProcess(Process process, string connectionString)
    {
        _process = process;
        ConnectionString = connectionString;
    }

    /// <summary>The portal's first address, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public Uri BaseAddress => Addresses[0];

    /// <summary>Every address the portal listens on, in the order of its URLs.</summary>
    public IReadOnlyList<Uri> Addresses { get; private set; } = [];

    /// <summary>The database the portal uses.</summary>
    public string ConnectionString { get; }

    /// <summary>Everything the process printed so far.</summary>
    public IReadOnlyList<string> Output => [.. _output];

    /// <summary>The portal's built Portal.Web.dll.</summary>
    public static string WebAssembly => typeof(PortalProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "PortalWebAssembly").Value!;

    /// <summary>Starts the portal on a new migrated database, with extra environment settings.</summary>
    public static async Task<PortalProcess> StartAsync(string name, IDictionary<string, string>? environment = null, string? connectionString = null)
    {
        connectionString ??= await PostgresServer.CreateEmptyDatabaseAsync(name);
        var dll = WebAssembly;
        var info = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.GetFullPath(dll) },
            WorkingDirectory = Path.GetDirectoryName(Path.GetFullPath(dll))!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["ConnectionStrings__Portal"] = connectionString;
        info.Environment["Portal__Bootstrap__AdminEmail"] = AdminEmail;
        info.Environment["Portal__Bootstrap__AdminPassword"] = AdminPassword;
        info.Environment["Portal__Bootstrap__ApiKey"] = ApiKey;
        // Parallel test portals cannot all have their own TURN server on the one default port: a test that measures
        // through TURN turns it on with a port of its own (Portal__Turn__Embedded, Portal__Turn__Port).
        info.Environment["Portal__Turn__Embedded"] = "false";
        info.Environment["Logging__Console__FormatterName"] = "simple";
        info.Environment["Logging__LogLevel__Default"] = "Information";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var process = Process.Start(info)!;
        var portal = new PortalProcess(process, connectionString);
        var addresses = new ConcurrentQueue<Uri>();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            portal._output.Enqueue(line);
            if (ListeningLine().Match(line) is { Success: true } m)
            {
                addresses.Enqueue(new Uri(m.Groups[1].Value));
            }
            else if (line.Contains("Application started.", StringComparison.Ordinal))
            {
                started.TrySetResult();
            }
        }

        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(started.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));
        if (first != started.Task || addresses.IsEmpty)
        {
            await portal.DisposeAsync();
            throw new InvalidOperationException("The portal did not start:\n" + string.Join('\n', portal.Output));
        }

        portal.Addresses = [.. addresses];
        return portal;
    }

    /// <summary>
    /// A free TCP port on loopback, for portals and servers that must listen on a port named in advance (Kestrel binds
    /// <c>localhost</c> only to a fixed port).
    /// </summary>
    /// <remarks>
    /// Not a port the kernel picks (port 0): those come from the range it also gives outgoing connections
    /// (<c>ip_local_port_range</c>), and a connection to PostgreSQL or from Chromium opened between this call and the
    /// server's bind could take it; this happened to a TLS test's portal in CI. Below that range only listeners pick
    /// ports, so a free one stays free; and none is handed out twice, though a test may hold one unbound for a while.
    /// </remarks>
    public static int FreePort()
    {
        var ephemeralStart = EphemeralPortRangeStart();
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = Random.Shared.Next(10_000, Math.Max(ephemeralStart, 10_001));
            if (HandedOut.TryAdd(port, 0) && IsFree(System.Net.IPAddress.Loopback, port) && IsFree(System.Net.IPAddress.IPv6Loopback, port))
            {
                return port;
            }
        }

        throw new InvalidOperationException($"No free loopback port between 10000 and {ephemeralStart}.");
    }

    private static int EphemeralPortRangeStart()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32_768;
        }
    }

    private static bool IsFree(System.Net.IPAddress address, int port)
    {
        try
        {
            using var listener = new System.Net.Sockets.TcpListener(address, port);
            listener.Start();
            return true;
        }
        catch (System.Net.Sockets.SocketException ex) when (ex.SocketErrorCode == System.Net.Sockets.SocketError.AddressAlreadyInUse)
        {
            return false;
        }
        catch (System.Net.Sockets.SocketException)
        {
            // No such address here (IPv6 off): nothing can listen on it either.
            return true;
        }
    }

    /// <summary>An HTTP client for the portal, with the bootstrap API key unless told otherwise.</summary>
    public HttpClient CreateClient(bool withApiKey = true)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        if (withApiKey)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
        }

        return client;
    }

    private int _disposed;

    /// <summary>Creates a session through the API (as the bootstrap admin) and returns its id and link token.</summary>
    public async Task<(Guid Id, string Token, Uri CustomerUrl)> CreateSessionAsync(object? body = null)
    {
        using var client = CreateClient();
        using var response = await client.PostAsJsonAsync("/api/v1/sessions", body ?? new { customerName = "Test customer" });
        response.EnsureSuccessStatusCode();
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        var url = new Uri(json.GetProperty("customerUrl").GetString()!);
        return (json.GetProperty("id").GetGuid(), url.Segments[^1], url);
    }

    /// <summary>
    /// The test endpoints' key a customer page carries (<c>data-diag-key</c>), read from the page as a browser gets it:
    /// <c>/diag/*</c> and the echo socket serve holders of a live link's key only.
    /// </summary>
    public async Task<string> DiagKeyAsync(Uri customerUrl)
    {
        using var client = CreateClient(withApiKey: false);
        var page = await client.GetStringAsync(customerUrl.PathAndQuery);
        var match = Regex.Match(page, "data-diag-key=\"([^\"]+)\"");
        return match.Success ? match.Groups[1].Value : throw new InvalidOperationException("The customer page carries no test endpoints' key: " + page[..Math.Min(page.Length, 300)]);
    }

    /// <summary>A new session's test endpoints' key, and the session.</summary>
    public async Task<(Guid Session, string Key)> CreateDiagKeyAsync()
    {
        var (session, _, url) = await CreateSessionAsync();
        return (session, await DiagKeyAsync(url));
    }

    /// <summary>The portal's process id (for reading its memory and CPU time).</summary>
    public int ProcessId => _process.Id;

    /// <summary>Kills the portal at once (SIGKILL), as a crashed machine would stop it: no graceful shutdown.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    /// <summary>Stops the portal the way an operator would (SIGTERM), and waits for it; once.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        if (!_process.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
    }

    [GeneratedRegex(@"Now listening on: (https?://\S+)")]
    private static partial Regex ListeningLine();
}
