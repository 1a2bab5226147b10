using System.Net;
using System.Net.Sockets;

namespace Portal.Probes;

/// <summary>TCP connections opened to checked addresses only, and closed politely (FIN, after draining).</summary>
internal static class Connections
{
    /// <summary>Connects to one address within the time-out; null with the error when it fails.</summary>
    public static async Task<(Socket? Socket, double Milliseconds, string? Error)> ConnectAsync(IPAddress address, int port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            await socket.ConnectAsync(new IPEndPoint(address, port), cts.Token);
            return (socket, Elapsed(started), null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            return (null, Elapsed(started), $"no answer within {timeout.TotalSeconds:0} s");
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            return (null, Elapsed(started), ex.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => "connection refused",
                SocketError.NetworkUnreachable or SocketError.HostUnreachable => "unreachable",
                _ => ex.Message,
            });
        }
    }

    /// <summary>Ends a connection the polite way: FIN, a short wait for the peer's own close, then release.</summary>
    public static async Task CloseAsync(Socket socket)
    {
        try
        {
            if (socket.Connected)
            {
                socket.Shutdown(SocketShutdown.Send);
                using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                var buffer = new byte[4096];
                while (await socket.ReceiveAsync(buffer, SocketFlags.None, drain.Token) > 0)
                {
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer did not close in time or had already gone: releasing the socket is all that is left.
        }
        finally
        {
            socket.Dispose();
        }
    }

    public static double Elapsed(long started) => Math.Round(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds, 2);
}
