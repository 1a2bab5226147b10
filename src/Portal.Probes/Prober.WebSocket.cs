using System.Net;
using System.Net.Sockets;
using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Portal.Probes;

public sealed partial class Prober
{
    private const string WebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>The expected <c>Sec-WebSocket-Accept</c> for a key (RFC 6455 section 4.2.2).</summary>
    public static string AcceptFor(string key) => Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + WebSocketGuid)));

    /// <summary>A proper upgrade, an echo where the target echoes, then (optionally) idle survival, then a close frame and FIN.</summary>
    private async IAsyncEnumerable<ProbeResult> WebSocketAsync(ProbeTarget target, IPAddress address, int idleSeconds, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var (socket, _, connectError) = await Connections.ConnectAsync(address, target.Port, _options.ConnectTimeout, cancellationToken);
        if (socket is null)
        {
            yield return Result("probe.ws", "fail", new() { ["upgraded"] = 0 }, target, new() { ["error"] = connectError }, $"TCP connect failed: {connectError}.");
            yield break;
        }

        Stream stream = new NetworkStream(socket, ownsSocket: false);
        SslStream? ssl = null;
        try
        {
            if (target.UsesTls)
            {
                ssl = new SslStream(stream, leaveInnerStreamOpen: true);
                using var tlsTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                tlsTimeout.CancelAfter(_options.HandshakeTimeout);
                string? tlsError = null;
                try
                {
                    await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                    {
                        TargetHost = IPAddress.TryParse(target.Host, out _) ? string.Empty : target.Host,
                        ApplicationProtocols = [SslApplicationProtocol.Http11],
                        CipherSuitesPolicy = TlsSuites.ProbePolicy,
                        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                        RemoteCertificateValidationCallback = (_, _, _, _) => true,
                    }, tlsTimeout.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or IOException or System.Security.Authentication.AuthenticationException && !cancellationToken.IsCancellationRequested)
                {
                    tlsError = ex is OperationCanceledException ? "the TLS handshake stalled" : Describe(ex);
                }

                if (tlsError is not null)
                {
                    yield return Result("probe.ws", "fail", new() { ["upgraded"] = 0 }, target, new() { ["error"] = tlsError }, $"No WebSocket: {tlsError}.");
                    yield break;
                }

                stream = ssl;
            }

            var upgrade = await UpgradeAsync(stream, target, cancellationToken);
            yield return upgrade.Result;
            if (!upgrade.Upgraded)
            {
                yield break;
            }

            if (idleSeconds > 0)
            {
                yield return await IdleAsync(stream, target, idleSeconds, cancellationToken);
            }

            await CloseWebSocketAsync(stream);
        }
        finally
        {
            if (ssl is not null)
            {
                await ssl.DisposeAsync();
            }

            await stream.DisposeAsync();
            await Connections.CloseAsync(socket);
        }
    }

    private async Task<(bool Upgraded, ProbeResult Result)> UpgradeAsync(Stream stream, ProbeTarget target, CancellationToken cancellationToken)
    {
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var hostHeader = target.Port == (target.UsesTls ? 443 : 80) ? target.HostForUrl : $"{target.HostForUrl}:{target.Port}";
        var request = $"GET {target.PathAndQuery} HTTP/1.1\r\nHost: {hostHeader}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: Portal-Probe/1.0\r\n\r\n";
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        string head;
        try
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request), timeout.Token);
            head = await ReadHeadAsync(stream, timeout.Token);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            var error = ex is OperationCanceledException ? $"no answer to the upgrade within {_options.RequestTimeout.TotalSeconds:0} s" : ex.Message;
            return (false, Result("probe.ws", "fail", new() { ["upgraded"] = 0 }, target, new() { ["error"] = error }, $"The WebSocket upgrade got no answer: {error}."));
        }

        var ms = Connections.Elapsed(started);
        var lines = head.Split("\r\n");
        var statusParts = lines[0].Split(' ', 3);
        var status = statusParts.Length >= 2 && int.TryParse(statusParts[1], out var s) ? s : 0;
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).Where(p => p.Length == 2)
            .GroupBy(p => p[0].Trim(), StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => string.Join(", ", g.Select(p => p[1].Trim())), StringComparer.OrdinalIgnoreCase);
        var upgradeHeader = headers.GetValueOrDefault("Upgrade");
        var connectionHeader = headers.GetValueOrDefault("Connection");
        var accept = headers.GetValueOrDefault("Sec-WebSocket-Accept");
        var acceptValid = accept == AcceptFor(key);
        var upgradeOk = string.Equals(upgradeHeader, "websocket", StringComparison.OrdinalIgnoreCase);
        var connectionOk = connectionHeader?.Split(',').Any(t => t.Trim().Equals("upgrade", StringComparison.OrdinalIgnoreCase)) == true;
        var upgraded = status == 101 && acceptValid && upgradeOk && connectionOk;
        var detail = new Dictionary<string, object?>
        {
            ["statusLine"] = lines[0], ["upgradeHeader"] = upgradeHeader, ["connectionHeader"] = connectionHeader, ["acceptValid"] = acceptValid,
            ["server"] = headers.GetValueOrDefault("Server"), ["via"] = headers.GetValueOrDefault("Via"), ["location"] = headers.GetValueOrDefault("Location"),
        };
        double? echoMs = null;
        if (upgraded)
        {
            echoMs = await EchoAsync(stream, cancellationToken);
            detail["echoed"] = echoMs is not null;
        }

        var missing = new List<string>();
        if (!upgradeOk)
        {
            missing.Add("Upgrade");
        }

        if (!connectionOk)
        {
            missing.Add("Connection");
        }

        var summary = upgraded
            ? $"The WebSocket upgrade works (101, valid accept key, {ms} ms)" + (echoMs is not null ? $"; the target echoes in {echoMs} ms." : "; the target did not echo a message (it may not be an echo service).")
            : status == 101
                ? $"The target answered 101 but {(acceptValid ? string.Empty : "with a wrong Sec-WebSocket-Accept")}{(missing.Count > 0 ? $" without {string.Join(" and ", missing)} in the reply" : string.Empty)}."
                : $"The target answered {(status == 0 ? "no HTTP status" : status.ToString(System.Globalization.CultureInfo.InvariantCulture))} instead of 101 Switching Protocols: the upgrade did not reach a WebSocket server (a proxy that does not forward Upgrade and Connection, or a URL that is not a WebSocket endpoint, answers like this).";
        var result = Result("probe.ws", upgraded ? "pass" : "fail",
            new() { ["status"] = status, ["upgraded"] = upgraded ? 1 : 0, ["acceptValid"] = acceptValid ? 1 : 0, ["upgradeMs"] = ms, ["echoMs"] = echoMs, ["upgradeHeadersInReply"] = upgradeOk && connectionOk ? 1 : 0 },
            target, detail, summary);
        return (upgraded, result);
    }

    private async Task<ProbeResult> IdleAsync(Stream stream, ProbeTarget target, int idleSeconds, CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var quiet = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        quiet.CancelAfter(TimeSpan.FromSeconds(idleSeconds));
        string? cutBy = null;
        try
        {
            while (cutBy is null)
            {
                var frame = await ReadFrameAsync(stream, quiet.Token);
                if (frame is null)
                {
                    cutBy = "the connection was closed without a close frame";
                }
                else if (frame.Value.Opcode == 8)
                {
                    cutBy = $"the server sent a close frame ({(frame.Value.Payload.Length >= 2 ? (frame.Value.Payload[0] << 8) | frame.Value.Payload[1] : 1005)})";
                }
                else if (frame.Value.Opcode == 9)
                {
                    await WriteFrameAsync(stream, 10, frame.Value.Payload, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Quiet for the whole time: still open as far as reading can tell.
        }
        catch (IOException ex)
        {
            cutBy = $"the connection was reset ({ex.Message})";
        }

        var elapsed = Math.Round(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds, 1);
        double? echoMs = cutBy is null ? await EchoAsync(stream, cancellationToken) : null;
        var survived = cutBy is null && echoMs is not null;
        var summary = survived
            ? $"An upgraded WebSocket stayed open through {idleSeconds} s of silence."
            : cutBy is not null
                ? $"A quiet WebSocket was cut after {elapsed} s: {cutBy}. Something on the way has an idle time-out of about {Math.Round(elapsed)} s."
                : $"After {idleSeconds} s of silence the WebSocket no longer echoed.";
        return Result("probe.ws.idle", survived ? "pass" : "fail",
            new() { ["idleSeconds"] = idleSeconds, ["survived"] = survived ? 1 : 0, ["diedAfterSeconds"] = survived ? null : elapsed },
            target, new() { ["cutBy"] = cutBy }, summary);
    }

    /// <summary>Sends one masked text frame and waits briefly for the same text; null when nothing came back.</summary>
    private static async Task<double?> EchoAsync(Stream stream, CancellationToken cancellationToken)
    {
        var text = Encoding.UTF8.GetBytes("portal-probe " + Guid.NewGuid().ToString("N"));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(3));
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            await WriteFrameAsync(stream, 1, text, timeout.Token);
            for (var i = 0; i < 4; i++)
            {
                var frame = await ReadFrameAsync(stream, timeout.Token);
                if (frame is null || frame.Value.Opcode == 8)
                {
                    return null;
                }

                if (frame.Value.Payload.AsSpan().SequenceEqual(text))
                {
                    return Connections.Elapsed(started);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }

        return null;
    }

    /// <summary>Sends a close frame (1000) and waits briefly for the server's, so neither side is left half-open.</summary>
    private static async Task CloseWebSocketAsync(Stream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await WriteFrameAsync(stream, 8, [0x03, 0xe8], timeout.Token);
            for (var i = 0; i < 4; i++)
            {
                var frame = await ReadFrameAsync(stream, timeout.Token);
                if (frame is null || frame.Value.Opcode == 8)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The connection is going away either way; the socket is released by the caller.
        }
    }

    private static async Task<string> ReadHeadAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new List<byte>(1024);
        var one = new byte[1];
        while (buffer.Count < 16 * 1024)
        {
            if (await stream.ReadAsync(one, cancellationToken) == 0)
            {
                break;
            }

            buffer.Add(one[0]);
            if (buffer.Count >= 4 && buffer[^1] == '\n' && buffer[^2] == '\r' && buffer[^3] == '\n' && buffer[^4] == '\r')
            {
                break;
            }
        }

        return Encoding.Latin1.GetString([.. buffer]).TrimEnd();
    }

    private static async Task WriteFrameAsync(Stream stream, byte opcode, byte[] payload, CancellationToken cancellationToken)
    {
        var header = new List<byte> { (byte)(0x80 | opcode) };
        if (payload.Length < 126)
        {
            header.Add((byte)(0x80 | payload.Length));
        }
        else
        {
            header.AddRange([0x80 | 126, (byte)(payload.Length >> 8), (byte)payload.Length]);
        }

        var mask = RandomNumberGenerator.GetBytes(4);
        header.AddRange(mask);
        var masked = payload.Select((b, i) => (byte)(b ^ mask[i % 4])).ToArray();
        await stream.WriteAsync((byte[])[.. header, .. masked], cancellationToken);
        await stream.FlushAsync(cancellationToken);
    }

    /// <summary>Reads one frame (at most 1 MiB); null when the connection ended.</summary>
    private static async Task<(byte Opcode, byte[] Payload)?> ReadFrameAsync(Stream stream, CancellationToken cancellationToken)
    {
        var head = new byte[2];
        if (!await ReadExactlyOrEndAsync(stream, head, cancellationToken))
        {
            return null;
        }

        long length = head[1] & 0x7f;
        if (length == 126)
        {
            var ext = new byte[2];
            if (!await ReadExactlyOrEndAsync(stream, ext, cancellationToken))
            {
                return null;
            }

            length = (ext[0] << 8) | ext[1];
        }
        else if (length == 127)
        {
            var ext = new byte[8];
            if (!await ReadExactlyOrEndAsync(stream, ext, cancellationToken))
            {
                return null;
            }

            length = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(ext);
        }

        if (length > 1024 * 1024)
        {
            throw new IOException($"a frame of {length} bytes is larger than the probe reads");
        }

        var mask = (head[1] & 0x80) != 0 ? new byte[4] : null;
        if (mask is not null && !await ReadExactlyOrEndAsync(stream, mask, cancellationToken))
        {
            return null;
        }

        var payload = new byte[length];
        if (!await ReadExactlyOrEndAsync(stream, payload, cancellationToken))
        {
            return null;
        }

        if (mask is not null)
        {
            for (var i = 0; i < payload.Length; i++)
            {
                payload[i] ^= mask[i % 4];
            }
        }

        return ((byte)(head[0] & 0x0f), payload);
    }

    private static async Task<bool> ReadExactlyOrEndAsync(Stream stream, byte[] buffer, CancellationToken cancellationToken)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken);
            if (n == 0)
            {
                return false;
            }

            read += n;
        }

        return true;
    }
}
