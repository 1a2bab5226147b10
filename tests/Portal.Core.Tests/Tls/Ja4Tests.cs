using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Portal.Core.Tls;

namespace Portal.Core.Tests.Tls;

public class Ja4Tests
{
    // The worked example of the JA4 specification (a Chrome ClientHello): 15 ciphers, 16 extensions, ALPN h2.
    private static readonly ushort[] s_chromeCiphers = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035];
    private static readonly ushort[] s_chromeExtensions = [0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015];
    private static readonly ushort[] s_chromeSignatures = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];

    [Fact]
    public void Compute_SpecificationExampleWithGrease_MatchesPublishedFingerprint()
    {
        var bytes = BuildClientHello([0x0a0a, .. s_chromeCiphers], [0x2a2a, .. s_chromeExtensions, 0x3a3a], "example.com", ["h2", "http/1.1"]);

        var hello = ClientHello.TryParse(bytes);

        hello.ShouldNotBeNull();
        hello.ServerName.ShouldBe("example.com");
        hello.Alpn.ShouldBe(["h2", "http/1.1"]);
        Ja4.Compute(hello).ShouldBe("t13d1516h2_8daaf6152771_e5627efa2ab1");
    }

    [Fact]
    public void Compute_NoServerNameNoAlpn_MarksIpAndZeroAlpn()
    {
        var extensions = s_chromeExtensions.Where(e => e is not (0x0000 or 0x0010)).ToArray();
        var bytes = BuildClientHello(s_chromeCiphers, extensions, null, []);

        var ja4 = Ja4.Compute(ClientHello.TryParse(bytes)!);

        ja4.ShouldStartWith("t13i151400_8daaf6152771_");
        // Without SNI and ALPN the extension hash is the same: both are left out of it by definition.
        ja4.ShouldEndWith("_e5627efa2ab1");
    }

    [Fact]
    public void Compute_NonAlphanumericAlpn_UsesHexOfFirstAndLastCharacter()
    {
        var bytes = BuildClientHello(s_chromeCiphers, s_chromeExtensions, "example.com", ["\u00baz\u00ab"]);

        Ja4.Compute(ClientHello.TryParse(bytes)!).ShouldStartWith("t13d1516bb_");
    }

    [Fact]
    public async Task TryParse_DotNetSslStreamClientHello_ReadsNameAlpnAndVersions()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, timeout.Token);
        using var server = await listener.AcceptTcpClientAsync(timeout.Token);
        await using var ssl = new SslStream(client.GetStream());
        var handshake = ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "probe.example",
            ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
        }, timeout.Token);

        var buffer = new byte[16 * 1024];
        var read = 0;
        var stream = server.GetStream();
        while (read < 5 || read < 5 + BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(3)))
        {
            read += await stream.ReadAsync(buffer.AsMemory(read), timeout.Token);
        }

        server.Close();
        await Should.ThrowAsync<Exception>(handshake);

        var hello = ClientHello.TryParse(buffer.AsSpan(0, read));
        hello.ShouldNotBeNull();
        hello.ServerName.ShouldBe("probe.example");
        hello.Alpn.ShouldBe(["h2", "http/1.1"]);
        hello.CipherSuites.Count.ShouldBeGreaterThan(3);
        Ja4.Compute(hello).ShouldStartWith("t1");
        Ja4.Compute(hello)[3].ShouldBe('d');
    }

    [Theory]
    [InlineData("")]
    [InlineData("16030100")]
    [InlineData("160301000501000001")]
    [InlineData("02000004030300")]
    [InlineData("170303000401020304")]
    public void TryParse_Garbage_ReturnsNull(string hex)
    {
        ClientHello.TryParse(Convert.FromHexString(hex)).ShouldBeNull();
    }

    [Fact]
    public void TryParse_EveryTruncation_NeverThrows()
    {
        var bytes = BuildClientHello(s_chromeCiphers, s_chromeExtensions, "example.com", ["h2"]);

        for (var length = 0; length < bytes.Length; length++)
        {
            _ = ClientHello.TryParse(bytes.AsSpan(0, length));
        }
    }

    [Theory]
    [InlineData(0x0a0a, true)]
    [InlineData(0xfafa, true)]
    [InlineData(0x1301, false)]
    [InlineData(0x0a1a, false)]
    public void IsGrease_Values_AreRecognised(int value, bool grease)
    {
        ClientHello.IsGrease((ushort)value).ShouldBe(grease);
    }

    /// <summary>Builds a ClientHello record the way a browser would send it, with the given lists.</summary>
    internal static byte[] BuildClientHello(ushort[] ciphers, ushort[] extensions, string? serverName, string[] alpn)
    {
        var body = new List<byte>();
        void U16(int v) => body.AddRange([(byte)(v >> 8), (byte)v]);
        U16(0x0303);
        body.AddRange(new byte[32]);
        body.Add(0);
        U16(ciphers.Length * 2);
        foreach (var c in ciphers)
        {
            U16(c);
        }

        body.AddRange([1, 0]);
        var ext = new List<byte>();
        void EU16(List<byte> list, int v) => list.AddRange([(byte)(v >> 8), (byte)v]);
        foreach (var type in extensions)
        {
            var data = new List<byte>();
            switch (type)
            {
                case 0x0000 when serverName is not null:
                    var name = Encoding.ASCII.GetBytes(serverName);
                    EU16(data, name.Length + 3);
                    data.Add(0);
                    EU16(data, name.Length);
                    data.AddRange(name);
                    break;
                case 0x0010:
                    var protocols = alpn.SelectMany(p => new[] { (byte)p.Length }.Concat(Encoding.Latin1.GetBytes(p))).ToArray();
                    EU16(data, protocols.Length);
                    data.AddRange(protocols);
                    break;
                case 0x002b:
                    data.AddRange([6, 0x2a, 0x2a, 0x03, 0x04, 0x03, 0x03]);
                    break;
                case 0x000d:
                    EU16(data, s_chromeSignatures.Length * 2);
                    foreach (var s in s_chromeSignatures)
                    {
                        EU16(data, s);
                    }

                    break;
            }

            EU16(ext, type);
            EU16(ext, data.Count);
            ext.AddRange(data);
        }

        U16(ext.Count);
        body.AddRange(ext);
        byte[] handshake = [1, (byte)(body.Count >> 16), (byte)(body.Count >> 8), (byte)body.Count, .. body];
        return [22, 3, 1, (byte)(handshake.Length >> 8), (byte)handshake.Length, .. handshake];
    }
}
