using System.Buffers;
using System.Net.WebSockets;

namespace Portal.Web.Features.Diagnostics;

/// <summary>
/// <c>/diag/ws/echo</c>: a WebSocket that sends every message back as it came, text as text and binary as
/// binary, and closes with 1009 (message too big) above <see cref="MaxMessageBytes"/>.
/// </summary>
public static class EchoEndpoint
{
    /// <summary>The largest message echoed.</summary>
    public const int MaxMessageBytes = 1024 * 1024;

    /// <summary>The endpoint's path.</summary>
    public const string Path = "/diag/ws/echo";

    /// <summary>Maps the echo endpoint.</summary>
    public static IEndpointRouteBuilder MapEcho(this IEndpointRouteBuilder endpoints)
    {
        endpoints.Map(Path, async context =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
                context.Response.Headers.Upgrade = "websocket";
                await context.Response.WriteAsync("This endpoint speaks WebSocket only.", context.RequestAborted);
                return;
            }

            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            await EchoAsync(socket, context.RequestAborted);
        }).AllowAnonymous();
        return endpoints;
    }

    /// <summary>Echoes until the peer closes, then completes the closing handshake.</summary>
    public static async Task EchoAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(socket);
        var message = new ArrayBufferWriter<byte>(64 * 1024);
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                var received = await socket.ReceiveAsync(message.GetMemory(16 * 1024), cancellationToken);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, socket.CloseStatusDescription, cancellationToken);
                    return;
                }

                message.Advance(received.Count);
                if (message.WrittenCount > MaxMessageBytes)
                {
                    await socket.CloseAsync(WebSocketCloseStatus.MessageTooBig, $"messages are limited to {MaxMessageBytes} bytes", cancellationToken);
                    return;
                }

                if (received.EndOfMessage)
                {
                    await socket.SendAsync(message.WrittenMemory, received.MessageType, endOfMessage: true, cancellationToken);
                    message.ResetWrittenCount();
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            // The peer went away without a closing handshake; nothing to echo any more.
        }
    }
}
