using System.Buffers;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;

namespace Portal.Web.Features.Diagnostics;

/// <summary>
/// <c>/diag/ws/echo</c>: a WebSocket that sends every message back as it came, text as text and binary as
/// binary, and closes with 1009 (message too big) above <see cref="MaxMessageBytes"/>. Two short text commands
/// serve the close and idle steps: <c>!close CODE</c> makes the server start the closing handshake, and
/// <c>!hello ID</c> names the connection so that <c>GET /diag/ws/closed/ID</c> later tells when, by the server's
/// clock, it ended. A browser's upgrade request that reaches the endpoint as plain HTTP (its <c>Upgrade</c> or
/// <c>Connection</c> header lost on the way, the WebSocket key still there) is remembered under its
/// <c>?attempt=ID</c>, so that <c>GET /diag/ws/attempt/ID</c> can tell the echo step what arrived. Names and
/// attempts belong to the link whose key the request carried (<see cref="DiagGate"/>). A socket quiet for longer than
/// the longest idle test (<see cref="QuietLimit"/>), or a message left unfinished for
/// <see cref="LimitOptions.EchoUnfinishedMessage"/>, is cut: nobody holds the server's memory for free.
/// </summary>
public static class EchoEndpoint
{
    /// <summary>The largest message echoed.</summary>
    public const int MaxMessageBytes = 1024 * 1024;

    /// <summary>How long a socket may stay quiet: the longest idle-survival test a session can ask for, and a minute.</summary>
    public static readonly TimeSpan QuietLimit = TimeSpan.FromSeconds(Sessions.SessionService.MaxIdleSeconds + 60);

    /// <summary>The endpoint's path.</summary>
    public const string Path = "/diag/ws/echo";

    /// <summary>Maps the echo endpoint.</summary>
    public static IEndpointRouteBuilder MapEcho(this IEndpointRouteBuilder endpoints)
    {
        endpoints.Map(Path, async context =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                var attempt = context.Request.Query["attempt"].ToString();
                if (attempt.Length is > 0 and <= 64 && context.Request.Headers.ContainsKey("Sec-WebSocket-Key"))
                {
                    context.RequestServices.GetRequiredService<EchoRegistry>().ArrivedWithoutUpgrade(
                        DiagGate.SessionOf(context), attempt, context.Request.Headers.Upgrade.ToString(), context.Request.Headers.Connection.ToString(), context.Request.Protocol);
                }

                context.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
                context.Response.Headers.Upgrade = "websocket";
                await context.Response.WriteAsync("This endpoint speaks WebSocket only.", context.RequestAborted);
                return;
            }

            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var registry = context.RequestServices.GetRequiredService<EchoRegistry>();
            var unfinished = context.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<PortalOptions>>().CurrentValue.Limits.EchoUnfinishedMessage;
            await EchoAsync(socket, registry, DiagGate.SessionOf(context), unfinished, context.RequestAborted);
        }).AllowAnonymous();
        endpoints.MapGet("/diag/ws/closed/{id}", (string id, HttpContext context, EchoRegistry registry) =>
            registry.Find(DiagGate.SessionOf(context), id) is { } end ? Results.Ok(end) : Results.NotFound()).AllowAnonymous();
        endpoints.MapGet("/diag/ws/attempt/{id}", (string id, HttpContext context, EchoRegistry registry) =>
            registry.FindAttempt(DiagGate.SessionOf(context), id) is { } attempt ? Results.Ok(attempt) : Results.NotFound()).AllowAnonymous();
        return endpoints;
    }

    /// <summary>Whether a close frame may carry the code (RFC 6455 section 7.4).</summary>
    public static bool Sendable(int code) => code is (>= 1000 and <= 1003) or (>= 1007 and <= 1014) or (>= 3000 and <= 4999);

    private static string Shorten(string reason)
    {
        while (Encoding.UTF8.GetByteCount(reason) > 123)
        {
            // Whole characters only: a surrogate pair goes as one.
            reason = reason[..^(char.IsLowSurrogate(reason[^1]) && reason.Length > 1 ? 2 : 1)];
        }

        return reason;
    }

    /// <summary>Echoes until the peer closes, then completes the closing handshake.</summary>
    public static async Task EchoAsync(WebSocket socket, EchoRegistry registry, Guid sessionId, TimeSpan unfinishedLimit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(registry);
        var message = new ArrayBufferWriter<byte>(64 * 1024);
        string? name = null;
        var how = "abort";
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                // Cancelling a receive aborts the socket: a quiet or stalled peer is cut, with no closing handshake.
                deadline.CancelAfter(message.WrittenCount > 0 ? unfinishedLimit : QuietLimit);
                var received = await socket.ReceiveAsync(message.GetMemory(16 * 1024), deadline.Token);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    how = "client-close";
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
                    if (received.MessageType == WebSocketMessageType.Text && message.WrittenCount < 200 && message.WrittenSpan[0] == (byte)'!')
                    {
                        var command = Encoding.UTF8.GetString(message.WrittenSpan).Split(' ', 3);
                        if (command[0] == "!close" && command.Length > 1 && int.TryParse(command[1], NumberStyles.None, CultureInfo.InvariantCulture, out var code) && code is >= 1000 and <= 4999)
                        {
                            how = "server-close";
                            // Only codes a close frame may carry (1005, 1006 and 1015 never, 1016-2999 are reserved), and a
                            // reason of at most 123 bytes: anything else is the asker's mistake, not a fault of the server.
                            var (status, reason) = Sendable(code)
                                ? ((WebSocketCloseStatus)code, Shorten(command.Length > 2 ? command[2] : "closed by server"))
                                : (WebSocketCloseStatus.ProtocolError, $"code {code} cannot be sent in a close frame");
                            await socket.CloseAsync(status, reason, cancellationToken);
                            return;
                        }

                        // One name per connection, within the link's share of the registry.
                        if (command[0] == "!hello" && name is null && command.Length > 1 && command[1].Length <= 64 && registry.Opened(sessionId, command[1]))
                        {
                            name = command[1];
                        }
                    }

                    await socket.SendAsync(message.WrittenMemory, received.MessageType, endOfMessage: true, cancellationToken);
                    message.ResetWrittenCount();
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            // The peer (or a proxy on the way) went away without a closing handshake, or stayed quiet too long.
            if (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                how = "server-timeout";
            }
        }
        finally
        {
            if (name is not null)
            {
                registry.Ended(sessionId, name, how);
            }
        }
    }
}
