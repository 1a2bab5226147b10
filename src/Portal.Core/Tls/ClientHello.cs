using System.Buffers.Binary;
using System.Text;

namespace Portal.Core.Tls;

/// <summary>
/// The parts of a TLS ClientHello that identify the client's TLS stack: offered cipher suites and extensions in
/// wire order, the server name, ALPN protocols, supported versions and signature algorithms.
/// </summary>
public sealed record ClientHello(
    ushort LegacyVersion,
    IReadOnlyList<ushort> CipherSuites,
    IReadOnlyList<ushort> Extensions,
    string? ServerName,
    IReadOnlyList<string> Alpn,
    IReadOnlyList<ushort> SupportedVersions,
    IReadOnlyList<ushort> SignatureAlgorithms)
{
    /// <summary>The largest ClientHello the parser accepts (post-quantum key shares make them a few KB).</summary>
    public const int MaxLength = 64 * 1024;

    /// <summary>
    /// Parses a ClientHello given either as TLS records (starting with content type 22) or as the bare handshake
    /// message (starting with handshake type 1). Returns null for anything that is not a well-formed ClientHello.
    /// </summary>
    public static ClientHello? TryParse(ReadOnlySpan<byte> data)
    {
        if (data.Length is 0 or > MaxLength)
        {
            return null;
        }

        byte[] handshake;
        if (data[0] == 22)
        {
            // One or more handshake records: concatenate their fragments.
            using var buffer = new MemoryStream();
            var rest = data;
            while (rest.Length >= 5 && rest[0] == 22)
            {
                var length = BinaryPrimitives.ReadUInt16BigEndian(rest[3..]);
                if (rest.Length < 5 + length)
                {
                    buffer.Write(rest[5..]);
                    break;
                }

                buffer.Write(rest.Slice(5, length));
                rest = rest[(5 + length)..];
            }

            handshake = buffer.ToArray();
        }
        else
        {
            handshake = data.ToArray();
        }

        try
        {
            return ParseHandshake(handshake);
        }
        catch (ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Whether a value is one of the reserved GREASE values (RFC 8701), which fingerprints ignore.</summary>
    public static bool IsGrease(ushort value) => (value & 0x0f0f) == 0x0a0a && (value >> 8) == (value & 0xff);

    private static ClientHello? ParseHandshake(ReadOnlySpan<byte> message)
    {
        if (message.Length < 4 || message[0] != 1)
        {
            return null;
        }

        var length = (message[1] << 16) | (message[2] << 8) | message[3];
        var body = message.Slice(4, Math.Min(length, message.Length - 4));
        var reader = new Reader(body);
        var legacyVersion = reader.U16();
        reader.Skip(32);
        reader.Skip(reader.U8());
        var suites = reader.Block16();
        var ciphers = new List<ushort>();
        for (var i = 0; i + 1 < suites.Length; i += 2)
        {
            ciphers.Add(BinaryPrimitives.ReadUInt16BigEndian(suites[i..]));
        }

        reader.Skip(reader.U8());
        var extensions = new List<ushort>();
        string? serverName = null;
        var alpn = new List<string>();
        var versions = new List<ushort>();
        var signatures = new List<ushort>();
        if (reader.Remaining >= 2)
        {
            var all = new Reader(reader.Block16());
            while (all.Remaining >= 4)
            {
                var type = all.U16();
                var data = all.Block16();
                extensions.Add(type);
                switch (type)
                {
                    case 0x0000:
                        serverName = ReadServerName(data);
                        break;
                    case 0x0010:
                        var list = new Reader(new Reader(data).Block16());
                        while (list.Remaining > 0)
                        {
                            alpn.Add(Encoding.Latin1.GetString(list.Block8()));
                        }

                        break;
                    case 0x002b:
                        var supported = new Reader(data).Block8();
                        for (var i = 0; i + 1 < supported.Length; i += 2)
                        {
                            versions.Add(BinaryPrimitives.ReadUInt16BigEndian(supported[i..]));
                        }

                        break;
                    case 0x000d:
                        var algorithms = new Reader(data).Block16();
                        for (var i = 0; i + 1 < algorithms.Length; i += 2)
                        {
                            signatures.Add(BinaryPrimitives.ReadUInt16BigEndian(algorithms[i..]));
                        }

                        break;
                }
            }
        }

        return new ClientHello(legacyVersion, ciphers, extensions, serverName, alpn, versions, signatures);
    }

    private static string? ReadServerName(ReadOnlySpan<byte> data)
    {
        var list = new Reader(new Reader(data).Block16());
        while (list.Remaining >= 3)
        {
            var kind = list.U8();
            var name = list.Block16();
            if (kind == 0)
            {
                return Encoding.ASCII.GetString(name);
            }
        }

        return null;
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _data = data;

        public readonly int Remaining => _data.Length;

        public byte U8()
        {
            // Slicing (not indexing) so that a short input throws the one exception the parser catches.
            var value = _data[..1][0];
            _data = _data[1..];
            return value;
        }

        public ushort U16()
        {
            var value = BinaryPrimitives.ReadUInt16BigEndian(_data);
            _data = _data[2..];
            return value;
        }

        public void Skip(int count) => _data = _data[count..];

        public ReadOnlySpan<byte> Block8() => Take(U8());

        public ReadOnlySpan<byte> Block16() => Take(U16());

        private ReadOnlySpan<byte> Take(int count)
        {
            var value = _data[..count];
            _data = _data[count..];
            return value;
        }
    }
}
