using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Portal.Testing;

/// <summary>
/// Speaks SignalR's documented JSON hub protocol over a raw WebSocket (the .NET SignalR client is not in the package
/// registry): handshake, invocations, completions.
/// </summary>
public sealed class RawHubClient : IDisposable
{
    private const char RecordSeparator = '\u001e';
    private readonly ClientWebSocket _socket;
    private byte[] _buffer = new byte[16 * 1024];
    private int _nextId;

    private RawHubClient(ClientWebSocket socket) => _socket = socket;

    /// <summary>Opens the hub at <paramref name="url"/> (ws://…) from <paramref name="origin"/> and completes the handshake.</summary>
    public static async Task<RawHubClient> ConnectAsync(Uri url, string origin)
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", origin);
        await socket.ConnectAsync(url, CancellationToken.None);
        var client = new RawHubClient(socket);
        await client.SendAsync("""{"protocol":"json","version":1}""");
        var handshake = await client.ReceiveFramesAsync();
        if (handshake[0] != "{}")
        {
            throw new InvalidOperationException("Hub handshake failed: " + handshake[0]);
        }

        return client;
    }

    /// <summary>Invokes a hub method and returns the completion message (with <c>result</c> or <c>error</c>), or the close message.</summary>
    public Task<JsonElement> InvokeAsync(string target, params object[] arguments) =>
        InvokeJsonAsync(target, JsonSerializer.Serialize(arguments));

    /// <summary>Invokes a hub method with its arguments already written as a JSON array (the load harness's fast path).</summary>
    public async Task<JsonElement> InvokeJsonAsync(string target, string argumentsJson)
    {
        var id = (++_nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await SendAsync($$"""{"type":1,"invocationId":"{{id}}","target":{{JsonSerializer.Serialize(target)}},"arguments":{{argumentsJson}}}""");
        while (true)
        {
            foreach (var frame in await ReceiveFramesAsync())
            {
                var message = JsonDocument.Parse(frame).RootElement;
                var type = message.GetProperty("type").GetInt32();
                if ((type == 3 && message.GetProperty("invocationId").GetString() == id) || type == 7)
                {
                    return message;
                }
            }
        }
    }

    /// <summary>
    /// Waits for the server to end the connection (a close message, a close frame, or the socket torn down); false when
    /// it is still open after <paramref name="within"/>.
    /// </summary>
    public async Task<bool> ClosedByServerAsync(TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var received = await _socket.ReceiveAsync(buffer, timeout.Token);
                if (received.MessageType == WebSocketMessageType.Close
                    || Encoding.UTF8.GetString(buffer, 0, received.Count).Contains("\"type\":7", StringComparison.Ordinal))
                {
                    return true;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (WebSocketException)
        {
            return true;
        }
    }

    /// <summary>Waits for the server to invoke <paramref name="target"/> on this client; false when it has not within <paramref name="within"/>.</summary>
    public async Task<bool> InvokedAsync(string target, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        try
        {
            while (DateTime.UtcNow < deadline)
            {
                foreach (var frame in await ReceiveFramesAsync(deadline - DateTime.UtcNow))
                {
                    var message = JsonDocument.Parse(frame).RootElement;
                    if (message.GetProperty("type").GetInt32() == 1 && message.GetProperty("target").GetString() == target)
                    {
                        return true;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        return false;
    }

    /// <summary>Sends a ping, as a client must at least every 30 s to keep an idle connection open.</summary>
    public Task PingAsync() => SendAsync("""{"type":6}""");

    private Task SendAsync(string json) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(json + RecordSeparator), WebSocketMessageType.Text, true, CancellationToken.None);

    private async Task<string[]> ReceiveFramesAsync(TimeSpan? within = null)
    {
        using var timeout = new CancellationTokenSource(within ?? TimeSpan.FromSeconds(10));
        var count = 0;
        WebSocketReceiveResult received;
        do
        {
            if (count == _buffer.Length)
            {
                // One buffer per client, grown for a large message: the load harness receives thousands a second.
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            received = await _socket.ReceiveAsync(new ArraySegment<byte>(_buffer, count, _buffer.Length - count), timeout.Token);
            count += received.Count;
        }
        while (!received.EndOfMessage);
        return Encoding.UTF8.GetString(_buffer, 0, count).Split(RecordSeparator, StringSplitOptions.RemoveEmptyEntries);
    }

    /// <inheritdoc />
    public void Dispose() => _socket.Dispose();
}
