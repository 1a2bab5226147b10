using System.Net;
using System.Net.Security;

namespace Portal.Probes;

/// <summary>The cipher suites the probe offers and scans for, by family (IANA code points).</summary>
internal static class TlsSuites
{
    public static readonly ushort[] Tls13 = [0x1301, 0x1302, 0x1303];

    /// <summary>ECDHE with AES-GCM or ChaCha20-Poly1305: forward secret and authenticated.</summary>
    public static readonly ushort[] Aead = [0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8];

    /// <summary>ECDHE with AES-CBC: still offered by every browser, obsoleted by testssl.sh's judgement.</summary>
    public static readonly ushort[] Cbc = [0xc009, 0xc00a, 0xc013, 0xc014, 0xc023, 0xc027, 0xc024, 0xc028];

    /// <summary>Static RSA key exchange: no forward secrecy; browsers still offer its AES suites.</summary>
    public static readonly ushort[] RsaKeyExchange = [0x009c, 0x009d, 0x002f, 0x0035, 0x003c, 0x003d];

    /// <summary>Finite-field DHE: Chrome (2016) and Firefox (2020) removed it; servers that offer only these reach no browser.</summary>
    public static readonly ushort[] Dhe = [0x009e, 0x009f, 0x0033, 0x0039, 0x0067, 0x006b];

    public static readonly ushort[] TripleDes = [0xc012, 0xc008, 0x000a, 0x0016];

    public static readonly ushort[] Rc4 = [0xc011, 0xc007, 0x0005, 0x0004];

    /// <summary>What Chrome, Firefox, Edge and Safari offer for TLS 1.2 (their lists differ in order, not in these).</summary>
    public static readonly ushort[] Browsers = [.. Aead, 0xc009, 0xc00a, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035];

    /// <summary>Everything the scan asks about, for the per-version hellos.</summary>
    public static readonly ushort[] Everything = [.. Aead, .. Cbc, .. RsaKeyExchange, .. Dhe, .. TripleDes, .. Rc4];

    /// <summary>The families scanned on the server's best TLS 1.2-or-older version, with the obsolete ones marked.</summary>
    public static readonly (string Name, ushort[] Suites, bool Obsolete, bool Tls12Only)[] Families =
    [
        ("aead", Aead, false, true), ("cbc", Cbc, false, false), ("rsa-key-exchange", RsaKeyExchange, false, false),
        ("dhe", Dhe, false, false), ("3des", TripleDes, true, false), ("rc4", Rc4, true, false),
    ];

    /// <summary>The suites the probe's own handshakes offer: a browser's, so the probe is never the weaker client.</summary>
    public static CipherSuitesPolicy? ProbePolicy { get; } = CreatePolicy();

    /// <summary>A suite's name in IANA's spelling.</summary>
    public static string Name(ushort suite) => Enum.IsDefined(typeof(TlsCipherSuite), suite) ? ((TlsCipherSuite)suite).ToString() : $"0x{suite:x4}";

    // Windows picks suites from the system's policy: there the platform's defaults stand.
    private static CipherSuitesPolicy? CreatePolicy() =>
        OperatingSystem.IsWindows() ? null : new CipherSuitesPolicy([.. Tls13.Concat(Browsers).Select(s => (TlsCipherSuite)s)]);
}

/// <summary>What a server speaks, found with a handful of hand-made ClientHellos, one at a time.</summary>
/// <param name="Protocols">The versions it accepts, oldest first, as testssl.sh names them.</param>
/// <param name="Families">The cipher families it accepts on its best version up to TLS 1.2.</param>
/// <param name="BrowsersConnect">A browser's ClientHello (TLS 1.3, or TLS 1.2 with a browser's suites) gets a ServerHello.</param>
/// <param name="Certificate">The answer that carried the certificates (TLS 1.2 or older), if any.</param>
/// <param name="Answers">Every hello and its answer, in a few words, for the detail.</param>
internal sealed record TlsOffer(IReadOnlyList<string> Protocols, IReadOnlyList<string> Families, bool BrowsersConnect, HelloAnswer? Certificate, IReadOnlyList<string> Answers)
{
    /// <summary>The obsolete protocols and families among what the server accepts.</summary>
    public IReadOnlyList<string> Obsolete =>
        [.. Protocols.Where(p => p is "TLSv1.0" or "TLSv1.1"), .. Families.Where(f => TlsSuites.Families.Any(x => x.Name == f && x.Obsolete))];

    /// <summary>The server answered no hello with a ServerHello.</summary>
    public bool NothingAccepted => Protocols.Count == 0;

    /// <summary>The first alert or error the server answered with, for a failure's summary.</summary>
    public string? FirstRefusal { get; init; }
}

public sealed partial class Prober
{
    /// <summary>Asks the server which versions and cipher families it accepts: at most a dozen hellos, each on its own connection.</summary>
    private async Task<TlsOffer> ScanAsync(ProbeTarget target, IPAddress address, bool sni, CancellationToken cancellationToken)
    {
        var serverName = sni ? target.Host : null;
        var protocols = new List<string>();
        var answers = new List<string>();
        HelloAnswer? certificate = null;
        string? refusal = null;
        var browsers = false;
        ushort? best = null;
        foreach (var version in new[] { TlsHello.Tls13, TlsHello.Tls12, TlsHello.Tls11, TlsHello.Tls10 })
        {
            var suites = version == TlsHello.Tls13 ? [.. TlsSuites.Tls13, .. TlsSuites.Browsers] : TlsSuites.Everything;
            var answer = await HelloAsync(serverName, address, target.Port, version, suites, cancellationToken);
            if (answer is null)
            {
                break;
            }

            var accepted = answer.Version == version;
            answers.Add($"{TlsHello.Name(version)}: {Say(answer)}");
            if (!accepted)
            {
                refusal ??= answer.Error ?? (answer.Version is { } v ? $"answered with {TlsHello.Name(v)}" : null);
                if (answer.NotTls)
                {
                    break;
                }

                continue;
            }

            protocols.Insert(0, TlsHello.Name(version));
            if (version == TlsHello.Tls13)
            {
                browsers = true;
                continue;
            }

            best ??= version;
            if (certificate is null && answer.Certificates.Count > 0)
            {
                certificate = answer;
            }

            if (version == TlsHello.Tls12 && answer.Suite is { } suite && TlsSuites.Browsers.Contains(suite))
            {
                browsers = true;
            }
        }

        if (best == TlsHello.Tls12 && !browsers)
        {
            // The server picked something a browser would not offer; ask once as a browser does.
            var answer = await HelloAsync(serverName, address, target.Port, TlsHello.Tls12, TlsSuites.Browsers, cancellationToken);
            browsers = answer?.Version == TlsHello.Tls12;
            if (answer is not null)
            {
                answers.Add($"TLSv1.2 with a browser's suites: {Say(answer)}");
            }
        }

        var families = new List<string>();
        if (best is { } on)
        {
            foreach (var (name, suites, _, tls12Only) in TlsSuites.Families)
            {
                if (tls12Only && on != TlsHello.Tls12)
                {
                    continue;
                }

                var answer = await HelloAsync(serverName, address, target.Port, on, suites, cancellationToken);
                if (answer?.Version == on)
                {
                    families.Add(name);
                }
            }
        }

        return new TlsOffer(protocols, families, browsers, certificate, answers) { FirstRefusal = refusal };
    }

    /// <summary>One hello on a fresh connection; null when TCP itself fails (nothing more to learn).</summary>
    private async Task<HelloAnswer?> HelloAsync(string? serverName, IPAddress address, int port, ushort version, ushort[] suites, CancellationToken cancellationToken)
    {
        var (socket, _, _) = await Connections.ConnectAsync(address, port, _options.ConnectTimeout, cancellationToken);
        if (socket is null)
        {
            return null;
        }

        try
        {
            return await TlsHello.SayAsync(socket, serverName, version, suites, _options.HandshakeTimeout, cancellationToken);
        }
        finally
        {
            // Abort, not close_notify: no handshake was completed, as testssl.sh leaves it.
            await Connections.CloseAsync(socket);
        }
    }

    private static string Say(HelloAnswer answer) =>
        answer.Version is { } v ? $"{TlsHello.Name(v)} {(answer.Suite is { } s ? TlsSuites.Name(s) : "")}{(answer.Retry ? " (HelloRetryRequest)" : "")}".TrimEnd() : answer.Error ?? "no answer";
}
