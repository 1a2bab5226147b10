using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Portal.Probes;

/// <summary>
/// One hand-made ClientHello and the server's answer to it, read in the clear: which protocol version and cipher
/// suite the server picked (or the alert it sent), and — up to TLS 1.2, where they travel unencrypted — the
/// certificates it sent and whether it stapled an OCSP response. This is how testssl.sh asks a server what it
/// speaks: the portal's own TLS library refuses to offer TLS 1.0/1.1 or obsolete suites at all, so it cannot say
/// why a handshake with such a server fails. The probe never completes these handshakes: it closes after the
/// server's first flight.
/// </summary>
internal static class TlsHello
{
    public const ushort Tls10 = 0x0301;
    public const ushort Tls11 = 0x0302;
    public const ushort Tls12 = 0x0303;
    public const ushort Tls13 = 0x0304;

    // Reading stops here: a first flight with a long chain is well under it.
    private const int MaxFlightBytes = 96 * 1024;

    // The random a HelloRetryRequest carries instead of a real one (RFC 8446, 4.1.3).
    private static readonly byte[] s_retryRandom = Convert.FromHexString("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C");

    /// <summary>The protocol's name as browsers and testssl.sh print it.</summary>
    public static string Name(ushort version) => version switch
    {
        Tls10 => "TLSv1.0", Tls11 => "TLSv1.1", Tls12 => "TLSv1.2", Tls13 => "TLSv1.3", 0x0300 => "SSLv3", _ => $"0x{version:x4}",
    };

    /// <summary>Sends one ClientHello for exactly <paramref name="version"/> with these suites and reads the answer.</summary>
    public static async Task<HelloAnswer> SayAsync(Socket socket, string? serverName, ushort version, IReadOnlyList<ushort> suites, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await socket.SendAsync(ClientHello(serverName, version, suites), SocketFlags.None, cts.Token);
            return await ReadFlightAsync(socket, cts.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return HelloAnswer.Silent($"no answer within {timeout.TotalSeconds:0} s");
        }
        catch (SocketException ex)
        {
            return HelloAnswer.Silent(ex.SocketErrorCode == SocketError.ConnectionReset ? "connection reset" : ex.Message);
        }
    }

    /// <summary>The ClientHello bytes: one record, offering exactly one version (TLS 1.3 through supported_versions).</summary>
    public static byte[] ClientHello(string? serverName, ushort version, IReadOnlyList<ushort> suites)
    {
        var extensions = new List<byte>();
        if (!string.IsNullOrEmpty(serverName))
        {
            var name = System.Text.Encoding.ASCII.GetBytes(serverName);
            Extension(extensions, 0x0000, [.. U16(name.Length + 3), 0, .. U16(name.Length), .. name]);
        }

        // status_request (OCSP), supported_groups, ec_point_formats, signature_algorithms, renegotiation_info, extended_master_secret.
        Extension(extensions, 0x0005, [1, 0, 0, 0, 0]);
        ushort[] groups = [0x001d, 0x0017, 0x0018, 0x0019];
        Extension(extensions, 0x000a, [.. U16(groups.Length * 2), .. groups.SelectMany(U16)]);
        Extension(extensions, 0x000b, [1, 0]);
        ushort[] signatures = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201, 0x0203];
        Extension(extensions, 0x000d, [.. U16(signatures.Length * 2), .. signatures.SelectMany(U16)]);
        Extension(extensions, 0xff01, [0]);
        Extension(extensions, 0x0017, []);
        if (version == Tls13)
        {
            // supported_versions: 1.3 only; key_share: an X25519 share (any 32 bytes are a valid point); psk_key_exchange_modes.
            Extension(extensions, 0x002b, [2, .. U16(Tls13)]);
            Extension(extensions, 0x0033, [.. U16(36), .. U16(0x001d), .. U16(32), .. RandomNumberGenerator.GetBytes(32)]);
            Extension(extensions, 0x002d, [1, 1]);
        }

        var body = new List<byte>();
        body.AddRange(U16(Math.Min(version, Tls12)));
        body.AddRange(RandomNumberGenerator.GetBytes(32));
        body.Add(32);
        body.AddRange(RandomNumberGenerator.GetBytes(32));
        body.AddRange(U16(suites.Count * 2));
        body.AddRange(suites.SelectMany(U16));
        body.AddRange([1, 0]);
        body.AddRange(U16(extensions.Count));
        body.AddRange(extensions);

        var handshake = new List<byte> { 1 };
        handshake.AddRange(U24(body.Count));
        handshake.AddRange(body);
        // Record version 1.0, as browsers send for compatibility with old servers.
        return [0x16, .. U16(Tls10), .. U16(handshake.Count), .. handshake];
    }

    private static async Task<HelloAnswer> ReadFlightAsync(Socket socket, CancellationToken cancellationToken)
    {
        var handshake = new List<byte>();
        var answer = new HelloAnswer();
        var header = new byte[5];
        var total = 0;
        while (total < MaxFlightBytes)
        {
            if (!await ReadExactlyAsync(socket, header, cancellationToken))
            {
                return answer.Version is null ? HelloAnswer.Silent("the server closed the connection without answering") : answer;
            }

            var type = header[0];
            var length = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(3));
            if (type is < 20 or > 24 || header[1] != 3 || length > 18 * 1024)
            {
                // Not TLS: an HTTP server, an SSH banner, a proxy's error page.
                return answer with { Error = "the server answered with something that is not TLS", NotTls = true };
            }

            var payload = new byte[length];
            if (!await ReadExactlyAsync(socket, payload, cancellationToken))
            {
                return answer.Version is null ? HelloAnswer.Silent("the connection closed in the middle of a record") : answer;
            }

            total += 5 + length;
            if (type == 21 && length >= 2)
            {
                return answer.Version is null ? answer with { Alert = payload[1], Error = $"{AlertName(payload[1])} alert" } : answer;
            }

            if (type != 22)
            {
                // Change cipher spec or encrypted data: whatever follows is not readable; what was read is the answer.
                return answer;
            }

            handshake.AddRange(payload);
            while (handshake.Count >= 4)
            {
                var messageLength = (handshake[1] << 16) | (handshake[2] << 8) | handshake[3];
                if (handshake.Count < 4 + messageLength)
                {
                    break;
                }

                var message = handshake.GetRange(4, messageLength).ToArray();
                var messageType = handshake[0];
                handshake.RemoveRange(0, 4 + messageLength);
                switch (messageType)
                {
                    case 2:
                        answer = ServerHello(message, answer);
                        if (answer.Version is null or Tls13)
                        {
                            // TLS 1.3 encrypts everything after the ServerHello.
                            return answer;
                        }

                        break;
                    case 11:
                        answer = answer with { Certificates = Certificates(message) };
                        break;
                    case 22:
                        answer = answer with { OcspStapled = message.Length > 4 && message[0] == 1 };
                        break;
                    case 14:
                        return answer;
                }
            }
        }

        return answer;
    }

    private static HelloAnswer ServerHello(byte[] m, HelloAnswer answer)
    {
        if (m.Length < 38)
        {
            return answer with { Error = "the server's ServerHello is truncated" };
        }

        var version = BinaryPrimitives.ReadUInt16BigEndian(m);
        var retry = m.AsSpan(2, 32).SequenceEqual(s_retryRandom);
        var at = 34 + 1 + m[34];
        if (m.Length < at + 3)
        {
            return answer with { Error = "the server's ServerHello is truncated" };
        }

        var suite = BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(at));
        at += 3;
        if (m.Length >= at + 2)
        {
            var end = Math.Min(m.Length, at + 2 + BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(at)));
            at += 2;
            while (at + 4 <= end)
            {
                var type = BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(at));
                var length = BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(at + 2));
                if (type == 0x002b && length == 2 && at + 6 <= end)
                {
                    version = BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(at + 4));
                }

                at += 4 + length;
            }
        }

        return answer with { Version = version, Suite = suite, Retry = retry };
    }

    private static IReadOnlyList<X509Certificate2> Certificates(byte[] m)
    {
        var certificates = new List<X509Certificate2>();
        var at = 3;
        while (at + 3 <= m.Length)
        {
            var length = (m[at] << 16) | (m[at + 1] << 8) | m[at + 2];
            at += 3;
            if (at + length > m.Length)
            {
                break;
            }

            try
            {
                certificates.Add(X509CertificateLoader.LoadCertificate(m.AsSpan(at, length)));
            }
            catch (CryptographicException)
            {
                // A certificate that does not parse is left out; the chain then shows it missing.
            }

            at += length;
        }

        return certificates;
    }

    /// <summary>The alert's name in the words of RFC 8446 (the ones servers send when a hello does not suit them).</summary>
    public static string AlertName(byte alert) => alert switch
    {
        10 => "unexpected_message", 40 => "handshake_failure", 47 => "illegal_parameter", 50 => "decode_error",
        70 => "protocol_version", 71 => "insufficient_security", 80 => "internal_error", 86 => "inappropriate_fallback",
        112 => "unrecognized_name", 120 => "no_application_protocol", _ => $"TLS alert {alert}",
    };

    private static async Task<bool> ReadExactlyAsync(Socket socket, byte[] buffer, CancellationToken cancellationToken)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cancellationToken);
            if (n == 0)
            {
                return false;
            }

            read += n;
        }

        return true;
    }

    private static void Extension(List<byte> to, ushort type, byte[] data)
    {
        to.AddRange(U16(type));
        to.AddRange(U16(data.Length));
        to.AddRange(data);
    }

    private static byte[] U16(int value) => [(byte)(value >> 8), (byte)value];

    private static byte[] U16(ushort value) => [(byte)(value >> 8), (byte)value];

    private static byte[] U24(int value) => [(byte)(value >> 16), (byte)(value >> 8), (byte)value];
}

/// <summary>What a server answered to one ClientHello.</summary>
internal sealed record HelloAnswer
{
    /// <summary>The version the server chose; null when it chose none.</summary>
    public ushort? Version { get; init; }

    /// <summary>The cipher suite it chose.</summary>
    public ushort? Suite { get; init; }

    /// <summary>A TLS 1.3 HelloRetryRequest: the server speaks 1.3 and wants another key share.</summary>
    public bool Retry { get; init; }

    /// <summary>The alert the server sent instead of a ServerHello.</summary>
    public byte? Alert { get; init; }

    /// <summary>The certificates the server sent, leaf first (TLS 1.2 and older only).</summary>
    public IReadOnlyList<X509Certificate2> Certificates { get; init; } = [];

    /// <summary>Whether the server stapled an OCSP response (TLS 1.2 and older only).</summary>
    public bool OcspStapled { get; init; }

    /// <summary>The answer was not TLS at all.</summary>
    public bool NotTls { get; init; }

    /// <summary>Why there is no ServerHello, in a few words.</summary>
    public string? Error { get; init; }

    public static HelloAnswer Silent(string error) => new() { Error = error };
}
