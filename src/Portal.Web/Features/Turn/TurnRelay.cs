using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Portal.Web.Features.Diagnostics;

namespace Portal.Web.Features.Turn;

/// <summary>Where the customer's browser finds a TURN server (<c>Portal:Turn</c>).</summary>
public sealed class TurnOptions
{
    public const string Section = "Portal:Turn";

    /// <summary>
    /// A TURN server of the vendor's own, one URL per transport (<c>turn:turn.example.com:3478?transport=udp</c>,
    /// <c>…?transport=tcp</c>, <c>turns:turn.example.com:443?transport=tcp</c>); with none, the portal's own.
    /// </summary>
    public List<string> Urls { get; set; } = [];

    /// <summary>The configured server's shared secret (coturn's <c>static-auth-secret</c>); never sent to a browser.</summary>
    public string? Secret { get; set; }

    /// <summary>Whether the portal starts its own <c>turnserver</c> when no URL is configured and the binary is installed.</summary>
    public bool Embedded { get; set; } = true;

    /// <summary>
    /// The address the portal's own TURN server listens on: one the customers reach the portal on, or <c>0.0.0.0</c>
    /// for every address (then the page is offered the address it came in on). It relays over loopback only, between
    /// the two peers of the customer's test.
    /// </summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>The portal's own TURN server's port, UDP and TCP.</summary>
    public int Port { get; set; } = 3478;

    /// <summary>How long a link's TURN credentials work (the TURN REST API's expiring user name).</summary>
    public TimeSpan CredentialLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>coturn's server binary.</summary>
    public string Binary { get; set; } = "/usr/bin/turnserver";
}

/// <summary>One TURN URL with a link's short-lived credentials, as the customer's page gets it.</summary>
/// <param name="Transport"><c>udp</c>, <c>tcp</c> or <c>tls</c>.</param>
/// <param name="Url">The TURN URL.</param>
/// <param name="Username">The expiring user name: <c>{unix expiry}:{session}</c>.</param>
/// <param name="Credential">The user name's HMAC-SHA1 under the shared secret, base64.</param>
public sealed record TurnServer(string Transport, string Url, string Username, string Credential);

/// <summary>What the customer's page learns about TURN: the servers to try, or why there is none.</summary>
public sealed record TurnOffer(IReadOnlyList<TurnServer> Servers, string? Reason);

/// <summary>
/// The TURN server the customer's browser measures UDP, loss and jitter through: the vendor's configured one, or the
/// portal's own <c>turnserver</c> (coturn), started on its default when nothing is configured and the binary is there.
/// Credentials follow the TURN REST API convention — the user name is an expiry and the link's session, the password
/// its HMAC under the shared secret — so the secret never leaves the portal and a link's credentials die on their own.
/// </summary>
public sealed partial class TurnRelay(IOptions<TurnOptions> options, TimeProvider time, ILogger<TurnRelay> logger) : IHostedService, IAsyncDisposable
{
    private readonly TurnOptions _options = options.Value;
    private Process? _process;
    private string? _secret;
    private string? _config;

    /// <summary>Whether the portal's own TURN server is running.</summary>
    public bool EmbeddedRunning => _process is { HasExited: false };

    /// <summary>The servers a page that came in on <paramref name="request"/> should try, with the session's credentials.</summary>
    public TurnOffer OfferFor(Guid sessionId, HttpRequest request, PortalOrigins origins)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(origins);
        if (_options.Urls.Count > 0)
        {
            return _options.Secret is { Length: > 0 } secret
                ? new TurnOffer([.. _options.Urls.Select(url => Server(url, sessionId, secret))], null)
                : new TurnOffer([], "Portal__Turn__Urls is configured without Portal__Turn__Secret: the portal cannot make credentials for it.");
        }

        if (!EmbeddedRunning || _secret is null)
        {
            return new TurnOffer([], "No TURN server is configured (Portal__Turn__Urls__N) and the portal's own is not running (coturn's turnserver is not installed or did not start).");
        }

        // The portal's own server listens on one address: offered only where the customer evidently reaches it, so a
        // deployment that cannot be reached from outside is never blamed on the customer's network.
        var local = request.HttpContext.Connection.LocalIpAddress;
        local = local is { IsIPv4MappedToIPv6: true } ? local.MapToIPv4() : local;
        var listen = IPAddress.Parse(_options.ListenAddress);
        var everywhere = listen.Equals(IPAddress.Any) || listen.Equals(IPAddress.IPv6Any);
        if (!origins.CameStraight(request) || local is null || (!everywhere && !local.Equals(listen)))
        {
            return new TurnOffer([], $"The portal's own TURN server listens on {_options.ListenAddress}, which this page did not come to straight: configure a TURN server customers reach (Portal__Turn__Urls__N, Portal__Turn__Secret) or Portal__Turn__ListenAddress.");
        }

        var address = local.ToString();
        var host = local.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address;
        return new TurnOffer(
            [Server($"turn:{host}:{_options.Port}?transport=udp", sessionId, _secret), Server($"turn:{host}:{_options.Port}?transport=tcp", sessionId, _secret)],
            null);
    }

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.Urls.Count > 0 || !_options.Embedded)
        {
            return;
        }

        if (!File.Exists(_options.Binary))
        {
            LogNotInstalled(logger, _options.Binary);
            return;
        }

        var address = _options.ListenAddress;
        var probe = address is "0.0.0.0" ? "127.0.0.1" : address is "::" ? "::1" : address;
        if (await AnswersAsync(probe, _options.Port, cancellationToken))
        {
            // Another TURN server (or anything) has the port: ours would not start, and that one's secret is not ours.
            LogDidNotStart(logger, address, _options.Port);
            return;
        }

        _secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        // The secret goes in a file only this user can read, not on the command line every local user can see.
        _config = Path.Combine(Path.GetTempPath(), $"portal-turn-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}.conf");
        var file = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            file.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using (var writer = new StreamWriter(_config, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), file))
        {
            await writer.WriteAsync($"static-auth-secret={_secret}\n".AsMemory(), cancellationToken);
        }

        // Relay addresses browsers accept as candidates: the listening address, or every address of this machine when
        // listening on all (Firefox ignores loopback candidates, so loopback relays only where nothing else is).
        var relays = RelayAddresses(address);
        string[] arguments =
        [
            "-c", _config, "--no-cli", "--no-tls", "--no-dtls", "--fingerprint", "--use-auth-secret",
            "--realm=portal", $"--listening-ip={address}", $"--listening-port={_options.Port}",
            .. relays.Select(r => $"--relay-ip={r}"),
            // The relay reaches nothing but itself: the two peers of the customer's test are both its own relay
            // addresses. No one can use the portal's TURN server to reach another host (RFC 8155's advice, tightened):
            // it is a test relay, not a TURN server for the vendor's calls. UDP only (no TCP relays, RFC 6062).
            "--denied-peer-ip=0.0.0.0-255.255.255.255", "--denied-peer-ip=::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            .. relays.Select(r => $"--allowed-peer-ip={r}"),
            "--allow-loopback-peers", "--no-multicast-peers", "--no-tcp-relay", "--user-quota=8", "--total-quota=400", "--max-bps=2000000",
            "--stale-nonce=600", "--log-file=stdout", "--simple-log", "--no-software-attribute",
        ];
        // A watchdog ends the TURN server when the portal ends, however it ends (a killed portal leaves no relay behind).
        var script = "turnserver=\"$1\"; parent=\"$2\"; config=\"$4\"; shift 2; \"$turnserver\" \"$@\" & child=$!; " +
                     "while kill -0 \"$parent\" 2>/dev/null && kill -0 \"$child\" 2>/dev/null; do sleep 1; done; kill \"$child\" 2>/dev/null; wait \"$child\"; rm -f \"$config\"";
        var info = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (string[])["-c", script, "sh", _options.Binary, Environment.ProcessId.ToString(CultureInfo.InvariantCulture), .. arguments])
        {
            info.ArgumentList.Add(argument);
        }

        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        if (await ListeningAsync(probe, _options.Port, cancellationToken))
        {
            LogStarted(logger, address, _options.Port);
        }
        else
        {
            LogDidNotStart(logger, address, _options.Port);
            await StopAsync(cancellationToken);
        }
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_process is { } process)
        {
            _process = null;
            try
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(cancellationToken);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            process.Dispose();
        }

        if (_config is { } config)
        {
            _config = null;
            File.Delete(config);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None);

    private TurnServer Server(string url, Guid sessionId, string secret)
    {
        var expires = time.GetUtcNow().Add(_options.CredentialLifetime).ToUnixTimeSeconds();
        var username = $"{expires.ToString(CultureInfo.InvariantCulture)}:{sessionId:N}";
        var credential = Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(username)));
        return new TurnServer(TransportOf(url), url, username, credential);
    }

    private static string[] RelayAddresses(string listen)
    {
        if (listen is not ("0.0.0.0" or "::"))
        {
            return [listen];
        }

        var own = System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == System.Net.NetworkInformation.OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(u => u.Address)
            .Where(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
            .Select(a => a.ToString())
            .Distinct(StringComparer.Ordinal)
            .ToArray();
        return own.Length > 0 ? own : ["127.0.0.1"];
    }

    /// <summary>The transport a TURN URL names: <c>tls</c> for <c>turns:</c>, else its <c>transport</c> parameter (UDP by default).</summary>
    public static string TransportOf(string url) =>
        url.StartsWith("turns:", StringComparison.OrdinalIgnoreCase) ? "tls"
        : url.Contains("transport=tcp", StringComparison.OrdinalIgnoreCase) ? "tcp"
        : "udp";

    private async Task<bool> ListeningAsync(string address, int port, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 100 && _process is { HasExited: false }; i++)
        {
            if (await AnswersAsync(address, port, cancellationToken))
            {
                return true;
            }

            await Task.Delay(100, cancellationToken);
        }

        return false;
    }

    private static async Task<bool> AnswersAsync(string address, int port, CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Parse(address), port, cancellationToken);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "TURN: the portal's own turnserver listens on {Address}:{Port} (UDP and TCP); customers measure UDP, loss and jitter through it")]
    private static partial void LogStarted(ILogger logger, string address, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "TURN: the portal's own turnserver did not start listening on {Address}:{Port} (port taken?): the TURN step is skipped. Configure Portal__Turn__Port or a TURN server of your own")]
    private static partial void LogDidNotStart(ILogger logger, string address, int port);

    [LoggerMessage(Level = LogLevel.Information, Message = "TURN: no TURN server is configured and {Binary} is not installed (Debian package coturn): the TURN step is skipped")]
    private static partial void LogNotInstalled(ILogger logger, string binary);
}

/// <summary>Registers the TURN relay and maps <c>GET /diag/turn</c>.</summary>
public static class TurnRegistration
{
    /// <summary>Adds the TURN relay (and the portal's own TURN server, started with the portal).</summary>
    public static IServiceCollection AddTurn(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<TurnOptions>(configuration.GetSection(TurnOptions.Section));
        services.AddSingleton<TurnRelay>();
        services.AddHostedService(sp => sp.GetRequiredService<TurnRelay>());
        return services;
    }

    /// <summary>Maps <c>GET /diag/turn</c>: the link's TURN servers and credentials (behind the test endpoints' gate).</summary>
    public static IEndpointRouteBuilder MapTurn(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(DiagGate.Prefix + "/turn", (HttpContext context, TurnRelay relay, PortalOrigins origins) =>
            TypedResults.Ok(relay.OfferFor(DiagGate.SessionOf(context), context.Request, origins))).AllowAnonymous();
        return endpoints;
    }
}
