using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Portal.Testing;

/// <summary>
/// A TCP relay on a loopback port in front of the portal, under the test's control: <see cref="CutAll"/> drops every
/// connection through it at once, without a closing handshake, as a failing network path would.
/// </summary>
public sealed class TcpRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly ConcurrentDictionary<TcpClient, byte> _connections = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    /// <summary>Starts relaying from a free loopback port to <paramref name="target"/>.</summary>
    public TcpRelay(Uri target)
    {
        ArgumentNullException.ThrowIfNull(target);
        _target = new IPEndPoint(IPAddress.Parse(target.Host), target.Port);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>The relay's own address, e.g. <c>http://127.0.0.1:40123</c>.</summary>
    public Uri BaseAddress => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");

    /// <summary>How many connections were cut so far.</summary>
    public int Cuts { get; private set; }

    /// <summary>Drops every open connection (RST), leaving the relay open for new ones.</summary>
    public int CutAll()
    {
        var count = 0;
        foreach (var client in _connections.Keys)
        {
            if (_connections.TryRemove(client, out _))
            {
                try
                {
                    client.Client.LingerState = new LingerOption(true, 0);
                    count++;
                }
                catch (ObjectDisposedException)
                {
                    // The connection ended by itself at this very moment: nothing left to cut.
                }

                client.Dispose();
            }
        }

        Cuts += count;
        return count;
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient inbound;
            try
            {
                inbound = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = RelayAsync(inbound);
        }
    }

    private async Task RelayAsync(TcpClient inbound)
    {
        var outbound = new TcpClient();
        try
        {
            await outbound.ConnectAsync(_target, _stop.Token);
            _connections[inbound] = 0;
            _connections[outbound] = 0;
            var a = inbound.GetStream().CopyToAsync(outbound.GetStream(), _stop.Token);
            var b = outbound.GetStream().CopyToAsync(inbound.GetStream(), _stop.Token);
            await Task.WhenAny(a, b);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A cut or a peer that went away.
        }
        finally
        {
            _connections.TryRemove(inbound, out _);
            _connections.TryRemove(outbound, out _);
            inbound.Dispose();
            outbound.Dispose();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        CutAll();
        await _accepting;
        _stop.Dispose();
    }
}
