using System.Net;
using System.Net.Sockets;

namespace Portal.Testing;

/// <summary>
/// A server on loopback that accepts connections and never says a word: a TLS probe of it waits for its handshake
/// time-out. Every connection is held until the server is disposed.
/// </summary>
public sealed class SilentTcpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<TcpClient> _held = [];
    private readonly Task _accepting;

    public SilentTcpServer()
    {
        _listener.Start();
        _accepting = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptTcpClientAsync();
                    lock (_held)
                    {
                        _held.Add(client);
                    }
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Stopped.
            }
        });
    }

    /// <summary>The port it listens on.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Stops listening and drops every held connection.</summary>
    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _accepting;
        lock (_held)
        {
            _held.ForEach(c => c.Dispose());
        }
    }
}
