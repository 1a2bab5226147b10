using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Portal.Core.Tls;

/// <summary>
/// The JA4 fingerprint of a ClientHello (FoxIO's JA4 specification): <c>a_b_c</c> where <c>a</c> names transport,
/// TLS version, SNI, cipher and extension counts and the first ALPN; <c>b</c> hashes the sorted cipher suites;
/// <c>c</c> hashes the sorted extensions (without SNI and ALPN) and the signature algorithms in order.
/// </summary>
public static class Ja4
{
    /// <summary>Computes the JA4 fingerprint of a ClientHello received over TCP.</summary>
    public static string Compute(ClientHello hello)
    {
        ArgumentNullException.ThrowIfNull(hello);
        var ciphers = hello.CipherSuites.Where(c => !ClientHello.IsGrease(c)).ToList();
        var extensions = hello.Extensions.Where(e => !ClientHello.IsGrease(e)).ToList();
        var versions = hello.SupportedVersions.Where(v => !ClientHello.IsGrease(v)).ToList();
        var version = versions.Count > 0 ? versions.Max() : hello.LegacyVersion;
        var a = string.Create(CultureInfo.InvariantCulture,
            $"t{VersionCode(version)}{(hello.Extensions.Contains((ushort)0x0000) ? 'd' : 'i')}{Math.Min(ciphers.Count, 99):00}{Math.Min(extensions.Count, 99):00}{AlpnCode(hello.Alpn)}");

        var b = ciphers.Count == 0 ? new string('0', 12) : Hash12(string.Join(',', ciphers.Order().Select(Hex)));

        var sortedExtensions = extensions.Where(e => e is not (0x0000 or 0x0010)).Order().Select(Hex).ToList();
        var signatures = hello.SignatureAlgorithms.Where(s => !ClientHello.IsGrease(s)).Select(Hex).ToList();
        var cText = string.Join(',', sortedExtensions) + (signatures.Count > 0 ? "_" + string.Join(',', signatures) : string.Empty);
        var c = sortedExtensions.Count == 0 ? new string('0', 12) : Hash12(cText);
        return $"{a}_{b}_{c}";
    }

    private static string VersionCode(ushort version) => version switch
    {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    };

    private static string AlpnCode(IReadOnlyList<string> alpn)
    {
        if (alpn.Count == 0 || alpn[0].Length == 0)
        {
            return "00";
        }

        var first = alpn[0][0];
        var last = alpn[0][^1];
        if (char.IsAsciiLetterOrDigit(first) && char.IsAsciiLetterOrDigit(last))
        {
            return string.Concat(first, last);
        }

        var hex = Convert.ToHexStringLower(Encoding.Latin1.GetBytes(alpn[0]));
        return string.Concat(hex[0], hex[^1]);
    }

    private static string Hex(ushort value) => value.ToString("x4", CultureInfo.InvariantCulture);

    private static string Hash12(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(text)))[..12];
}
