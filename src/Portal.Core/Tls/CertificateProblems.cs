namespace Portal.Core.Tls;

/// <summary>
/// The names of what can be wrong with a server's certificate, as the TLS probe records them in
/// <c>certificateProblems</c> and the rules read them: each with who refuses such a certificate and the fix, in the
/// words an engineer reads to a customer. Names are added, never renamed.
/// </summary>
public static class CertificateProblems
{
    public const string Expired = "expired";
    public const string NotYetValid = "not-yet-valid";
    public const string SelfSigned = "self-signed";
    public const string UntrustedRoot = "untrusted-root";
    public const string IncompleteChain = "incomplete-chain";
    public const string NameMismatch = "name-mismatch";
    public const string WeakKey = "weak-key";
    public const string WeakSignature = "weak-signature";
    public const string MustStapleNotStapled = "must-staple-not-stapled";
    public const string KeyUsage = "key-usage";
    public const string ExtendedKeyUsage = "extended-key-usage";
    public const string ValidityTooLong = "validity-too-long";
    public const string ChainError = "chain-error";

    /// <summary>Every name, in the order findings list them (the gravest first).</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        Expired, NotYetValid, SelfSigned, UntrustedRoot, IncompleteChain, NameMismatch, WeakKey, WeakSignature,
        MustStapleNotStapled, KeyUsage, ExtendedKeyUsage, ValidityTooLong, ChainError,
    ];

    /// <summary>What the problem means and who refuses the certificate for it.</summary>
    public static string Meaning(string problem) => problem switch
    {
        Expired => "it has expired: every client refuses it",
        NotYetValid => "it is not valid yet (its start date is in the future, or the server's clock is wrong): every client refuses it",
        SelfSigned => "it is self-signed: no client trusts it unless told to",
        UntrustedRoot => "it leads to a root certificate the portal does not trust (a private CA, or an intercepting proxy's): clients without that root refuse it",
        IncompleteChain => "the server sends it without its intermediate certificate: Chrome, Edge and Safari may fetch the intermediate themselves and Firefox knows the common ones, but most apps, scripts, Java, Python, curl and devices do not, and refuse it",
        NameMismatch => "it is not issued for the host name clients use: every client refuses it",
        WeakKey => "its key is too weak (RSA below 2048 bits, or a curve browsers do not accept): browsers and current TLS libraries refuse it",
        WeakSignature => "it (or an intermediate) is signed with SHA-1 or MD5: browsers have refused such signatures since 2017",
        MustStapleNotStapled => "it demands OCSP stapling (must-staple) but the server staples no OCSP response: Firefox refuses the connection",
        KeyUsage => "its key usage does not allow a TLS server (neither digitalSignature nor keyEncipherment): browsers refuse it",
        ExtendedKeyUsage => "its extended key usage does not include TLS server authentication: browsers refuse it",
        ValidityTooLong => "it is valid for more than 398 days, longer than browsers accept from a public CA: Safari and Chrome refuse it",
        _ => "its chain does not validate",
    };

    /// <summary>The fix, in plain language.</summary>
    public static string Fix(string problem) => problem switch
    {
        Expired => "renew the certificate",
        NotYetValid => "check the certificate's start date and the server's clock",
        SelfSigned => "replace the self-signed certificate with one from a CA the clients trust",
        UntrustedRoot => "use a certificate from a CA the clients trust, or install the private root on every client",
        IncompleteChain => "configure the server to send the intermediate certificate(s) after the leaf (nginx: ssl_certificate with the full chain file, e.g. fullchain.pem)",
        NameMismatch => "issue a certificate whose subject alternative names cover the host name clients use",
        WeakKey => "issue a new certificate with an RSA key of 2048 bits or more, or an ECDSA P-256 key",
        WeakSignature => "reissue the certificate (and use a current intermediate) signed with SHA-256",
        MustStapleNotStapled => "turn on OCSP stapling (nginx: ssl_stapling on; ssl_stapling_verify on; with a resolver), or issue the certificate without must-staple",
        KeyUsage => "reissue the certificate with key usage digitalSignature (and keyEncipherment for RSA)",
        ExtendedKeyUsage => "reissue the certificate with the extended key usage serverAuth",
        ValidityTooLong => "reissue the certificate for at most 398 days",
        _ => "fix the certificate chain",
    };
}
