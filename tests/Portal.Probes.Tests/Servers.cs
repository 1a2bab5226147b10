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

/// <summary>A real TLS server on loopback that picks its certificate by the SNI name; null refuses the handshake.</summary>
internal sealed class TlsServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public TlsServer(Func<string?, X509Certificate2?> certificateFor)
    {
        _listener.Start();
        _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = Task.Run(() => ServeAsync(client, certificateFor));
            }
        });
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Completed;

    private async Task ServeAsync(TcpClient client, Func<string?, X509Certificate2?> certificateFor)
    {
        using (client)
        {
            await using var ssl = new SslStream(client.GetStream());
            try
            {
                await ssl.AuthenticateAsServerAsync(
                    (_, hello, _, _) =>
                    {
                        var certificate = certificateFor(string.IsNullOrEmpty(hello.ServerName) ? null : hello.ServerName)
                            ?? throw new AuthenticationExceptionWithoutName();
                        return ValueTask.FromResult(new SslServerAuthenticationOptions { ServerCertificate = certificate });
                    },
                    null, _stop.Token);
                Interlocked.Increment(ref Completed);
                var buffer = new byte[1024];
                while (await ssl.ReadAsync(buffer, _stop.Token) > 0)
                {
                }
            }
            catch (Exception)
            {
                // A refused or aborted handshake: the client sees the connection end.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private sealed class AuthenticationExceptionWithoutName() : Exception("this server needs SNI");
}

/// <summary>A TCP server that accepts, reads the ClientHello, and never answers: it records when each client closed.</summary>
internal sealed class SilentServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public SilentServer()
    {
        _listener.Start();
        _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                Interlocked.Increment(ref Accepted);
                _ = Task.Run(async () =>
                {
                    using (client)
                    {
                        var buffer = new byte[4096];
                        try
                        {
                            while (await client.GetStream().ReadAsync(buffer, _stop.Token) > 0)
                            {
                            }
                        }
                        catch (Exception ex) when (ex is IOException or OperationCanceledException)
                        {
                        }

                        Interlocked.Increment(ref Closed);
                    }
                });
            }
        });
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Accepted;

    public int Closed;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}

/// <summary>A listener that only counts connection attempts: proof that no packet reached a forbidden address.</summary>
internal sealed class CountingListener : IDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();

    public CountingListener(IPAddress address)
    {
        _listener = new TcpListener(address, 0);
        _listener.Start();
        _ = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                Interlocked.Increment(ref Accepted);
            }
        });
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Accepted;

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
    }
}

/// <summary>Kestrel with a WebSocket echo at <c>/echo</c> and a redirect at <c>/go?to=…</c>.</summary>
internal sealed class EchoServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private EchoServer(WebApplication app) => _app = app;

    public int Port => new Uri(_app.Urls.First()).Port;

    public static async Task<EchoServer> StartAsync(string address = "127.0.0.1")
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
        await app.StartAsync();
        return new EchoServer(app);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
