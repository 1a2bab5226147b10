using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Portal.Probes.Tests;

/// <summary>
/// A real TCP server on a loopback address that serves each connection with a handler and counts connections
/// accepted and closed (a connection counts as closed once its handler is done and the socket released).
/// </summary>
internal sealed class LoopbackServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _accepted;
    private int _closed;

    public LoopbackServer(Func<TcpClient, CancellationToken, Task> serve, IPAddress? address = null)
    {
        _listener = new TcpListener(address ?? IPAddress.Loopback, 0);
        _listener.Start();
        _loop = Task.Run(async () =>
        {
            while (true)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync(_stop.Token);
                }
                catch (Exception) when (_stop.IsCancellationRequested)
                {
                    // Stopped: while waiting for a connection, or before the loop began waiting (a test that
                    // finished within a millisecond); the exception then depends on the moment, so the token decides.
                    return;
                }

                Interlocked.Increment(ref _accepted);
                _ = Task.Run(async () =>
                {
                    try
                    {
                        using (client)
                        {
                            await serve(client, _stop.Token);
                        }
                    }
                    catch (Exception)
                    {
                        // A refused handshake or a peer that went away: either way the connection is over.
                    }
                    finally
                    {
                        Interlocked.Increment(ref _closed);
                    }
                });
            }
        });
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Accepted => Volatile.Read(ref _accepted);

    public int Closed => Volatile.Read(ref _closed);

    /// <summary>A TLS server that picks its certificate by the SNI name; null refuses the handshake (a server that needs SNI).</summary>
    /// <param name="certificateFor">The certificate for an SNI name (null: none sent).</param>
    /// <param name="configure">Anything else of the server's TLS settings: protocols, cipher suites.</param>
    /// <param name="intermediates">Certificates sent after the leaf.</param>
    public static LoopbackServer Tls(Func<string?, X509Certificate2?> certificateFor, Action<SslServerAuthenticationOptions>? configure = null, X509Certificate2[]? intermediates = null) => new(async (client, stopping) =>
    {
        await using var ssl = new SslStream(client.GetStream());
        await ssl.AuthenticateAsServerAsync(
            (_, hello, _, _) =>
            {
                var certificate = certificateFor(string.IsNullOrEmpty(hello.ServerName) ? null : hello.ServerName)
                    ?? throw new InvalidOperationException("this server needs SNI");
                var options = intermediates is null
                    ? new SslServerAuthenticationOptions { ServerCertificate = certificate }
                    : new SslServerAuthenticationOptions { ServerCertificateContext = SslStreamCertificateContext.Create(certificate, [.. intermediates], offline: true) };
                configure?.Invoke(options);
                return ValueTask.FromResult(options);
            },
            null, stopping);
        await DrainAsync(ssl, stopping);
    });

    /// <summary>A server that reads the ClientHello and never answers, until the client closes.</summary>
    public static LoopbackServer Silent() => new((client, stopping) => DrainAsync(client.GetStream(), stopping));

    /// <summary>A listener that only counts connections: proof that no packet reached a forbidden address.</summary>
    public static LoopbackServer Counting(IPAddress address) => new((_, _) => Task.CompletedTask, address);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }

    private static async Task DrainAsync(Stream stream, CancellationToken stopping)
    {
        var buffer = new byte[4096];
        while (await stream.ReadAsync(buffer, stopping) > 0)
        {
        }
    }
}

/// <summary>Kestrel with a WebSocket echo at <c>/echo</c> and a redirect at <c>/go?to=…</c>.</summary>
internal sealed class EchoServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private EchoServer(WebApplication app) => _app = app;

    public int Port => new Uri(_app.Urls.First()).Port;

    /// <param name="address">The address it listens on.</param>
    /// <param name="files">Paths it serves as they are (a CA's issuer certificate, say).</param>
    public static async Task<EchoServer> StartAsync(string address = "127.0.0.1", IReadOnlyDictionary<string, byte[]>? files = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://{address}:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });
        app.Map("/echo", async context =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                await context.Response.WriteAsync("Not a WebSocket request");
                return;
            }

            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[64 * 1024];
            while (true)
            {
                var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                    return;
                }

                await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, CancellationToken.None);
            }
        });
        app.MapGet("/go", (string to) => Results.Redirect(to));
        app.MapGet("/", () => Results.Text("hello"));
        foreach (var (path, bytes) in files ?? new Dictionary<string, byte[]>())
        {
            app.MapGet(path, () => Results.Bytes(bytes, "application/pkix-cert"));
        }

        await app.StartAsync();
        return new EchoServer(app);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
