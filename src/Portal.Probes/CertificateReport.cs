using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Portal.Core.Tls;

namespace Portal.Probes;

/// <summary>
/// The certificate a TLS server showed and what is wrong with it, judged the way browsers judge it (names in
/// <see cref="CertificateProblems"/>): the chain is built from what the server sent — never downloaded — so a
/// missing intermediate is told apart from an unknown root; keys, signatures, key usage, must-staple and validity
/// length are checked on the leaf and every intermediate.
/// </summary>
public sealed record CertificateReport(
    string Subject,
    string Issuer,
    DateTimeOffset NotBefore,
    DateTimeOffset NotAfter,
    IReadOnlyList<string> Names,
    IReadOnlyList<string> Chain,
    IReadOnlyList<string> Problems,
    double DaysLeft)
{
    private static readonly DateTimeOffset s_validityCapSince = new(2020, 9, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The leaf's key, e.g. <c>RSA 2048</c> or <c>ECDSA P-256</c>.</summary>
    public string? Key { get; init; }

    /// <summary>The signature algorithm of the leaf and of each intermediate, leaf first.</summary>
    public IReadOnlyList<string> Signatures { get; init; } = [];

    /// <summary>The leaf demands OCSP stapling (the TLS feature extension).</summary>
    public bool MustStaple { get; init; }

    /// <summary>Whether the server stapled an OCSP response; null when the probe could not see it (TLS 1.3 only).</summary>
    public bool? OcspStapled { get; init; }

    /// <summary>How many certificates the server sent, the leaf included.</summary>
    public int Sent { get; init; }

    /// <summary>Where the leaf says its issuer can be fetched (AIA), when the chain is incomplete.</summary>
    public string? IssuerUrl { get; init; }

    /// <summary>The chain validates to a root in the system's store, a publicly trusted CA.</summary>
    public bool PubliclyTrusted { get; init; }

    /// <summary>What the chain builder said, when it said more than the named problems.</summary>
    public string? ChainStatus { get; init; }

    /// <summary>Judges the certificates a server sent.</summary>
    /// <param name="sent">The certificates as sent, leaf first.</param>
    /// <param name="host">The host name clients use; empty for none.</param>
    /// <param name="trust">The roots to trust; null for the system's.</param>
    /// <param name="ocspStapled">Whether the server stapled an OCSP response, when known.</param>
    /// <param name="isPublicRoot">Whether a root is one of the system's (publicly trusted) roots.</param>
    public static CertificateReport From(IReadOnlyList<X509Certificate2> sent, string host, X509Certificate2Collection? trust, bool? ocspStapled, Func<X509Certificate2, bool> isPublicRoot)
    {
        ArgumentNullException.ThrowIfNull(sent);
        ArgumentNullException.ThrowIfNull(isPublicRoot);
        var leaf = sent[0];
        var now = DateTimeOffset.UtcNow;
        var problems = new List<string>();
        var notBefore = new DateTimeOffset(leaf.NotBefore.ToUniversalTime());
        var notAfter = new DateTimeOffset(leaf.NotAfter.ToUniversalTime());
        if (now > notAfter)
        {
            problems.Add(CertificateProblems.Expired);
        }
        else if (now < notBefore)
        {
            problems.Add(CertificateProblems.NotYetValid);
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        // Built from what the server sent: a client that does not fetch (most that are not browsers) sees this chain.
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.ExtraStore.AddRange(sent.Skip(1).ToArray());
        if (trust is not null)
        {
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(trust);
        }

        var built = chain.Build(leaf);
        var elements = chain.ChainElements.Select(e => e.Certificate).ToList();
        var statuses = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (all, s) => all | s.Status);
        var top = elements[^1];
        var topIsRoot = IsSelfIssued(top);
        string? issuerUrl = null;
        if (IsSelfIssued(leaf) && elements.Count == 1)
        {
            if (!built)
            {
                problems.Add(CertificateProblems.SelfSigned);
            }
        }
        else if (!topIsRoot || (statuses & X509ChainStatusFlags.PartialChain) != 0)
        {
            // The chain stops at a certificate whose issuer neither the server sent nor the portal trusts: a missing
            // intermediate, or an unknown root that issued it directly. Certificates from a CA that has intermediates
            // say where to fetch their issuer (AIA); a private or intercepting CA that signs leaves itself does not.
            issuerUrl = top.Extensions.OfType<X509AuthorityInformationAccessExtension>().SelectMany(e => e.EnumerateCAIssuersUris()).FirstOrDefault();
            problems.Add(issuerUrl is null ? CertificateProblems.UntrustedRoot : CertificateProblems.IncompleteChain);
        }
        else if ((statuses & X509ChainStatusFlags.UntrustedRoot) != 0)
        {
            problems.Add(CertificateProblems.UntrustedRoot);
        }
        else if (built && elements.Skip(1).Take(elements.Count - 2).Any(e => !sent.Any(s => s.Thumbprint == e.Thumbprint)))
        {
            // Valid here only because this machine already held the intermediate the server left out.
            problems.Add(CertificateProblems.IncompleteChain);
        }

        if (host.Length > 0 && !leaf.MatchesHostname(host))
        {
            problems.Add(CertificateProblems.NameMismatch);
        }

        // The leaf and every intermediate (the root's own key and self-signature are not what clients check).
        var checkedCertificates = topIsRoot && elements.Count > 1 ? elements.Take(elements.Count - 1).ToList() : elements;
        if (checkedCertificates.Any(c => WeakKey(c)))
        {
            problems.Add(CertificateProblems.WeakKey);
        }

        if (checkedCertificates.Any(c => c.SignatureAlgorithm.Value is "1.2.840.113549.1.1.5" or "1.2.840.10045.4.1" or "1.2.840.10040.4.3" or "1.2.840.113549.1.1.4" or "1.2.840.113549.1.1.2"))
        {
            problems.Add(CertificateProblems.WeakSignature);
        }

        var mustStaple = MustStapleOf(leaf);
        if (mustStaple && ocspStapled == false)
        {
            problems.Add(CertificateProblems.MustStapleNotStapled);
        }

        if (leaf.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault() is { } usage
            && (usage.KeyUsages & (X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment | X509KeyUsageFlags.KeyAgreement)) == 0)
        {
            problems.Add(CertificateProblems.KeyUsage);
        }

        if (leaf.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault() is { } extended
            && !extended.EnhancedKeyUsages.Cast<Oid>().Any(o => o.Value is "1.3.6.1.5.5.7.3.1" or "2.5.29.37.0"))
        {
            problems.Add(CertificateProblems.ExtendedKeyUsage);
        }

        var publiclyTrusted = built && topIsRoot && isPublicRoot(top);
        if (publiclyTrusted && notBefore >= s_validityCapSince && (notAfter - notBefore).TotalDays > 398)
        {
            problems.Add(CertificateProblems.ValidityTooLong);
        }

        var otherStatus = statuses & ~(X509ChainStatusFlags.NotTimeValid | X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain
            | X509ChainStatusFlags.NotValidForUsage | X509ChainStatusFlags.RevocationStatusUnknown | X509ChainStatusFlags.OfflineRevocation
            | X509ChainStatusFlags.HasWeakSignature);
        var chainStatus = chain.ChainStatus.Length == 0 ? null : string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Distinct());
        if (otherStatus != X509ChainStatusFlags.NoError && problems.Count == 0)
        {
            problems.Add(CertificateProblems.ChainError);
        }

        var names = leaf.Extensions.OfType<X509SubjectAlternativeNameExtension>()
            .SelectMany(e => e.EnumerateDnsNames().Concat(e.EnumerateIPAddresses().Select(a => a.ToString())))
            .ToList();
        return new CertificateReport(leaf.Subject, leaf.Issuer, notBefore, notAfter, names, [.. elements.Select(e => e.Subject)],
            [.. CertificateProblems.All.Where(problems.Contains)], Math.Round((notAfter - now).TotalDays, 1))
        {
            Key = KeyOf(leaf),
            Signatures = [.. checkedCertificates.Select(c => c.SignatureAlgorithm.FriendlyName ?? c.SignatureAlgorithm.Value ?? "?")],
            MustStaple = mustStaple,
            OcspStapled = ocspStapled,
            Sent = sent.Count,
            IssuerUrl = issuerUrl,
            PubliclyTrusted = publiclyTrusted,
            ChainStatus = chainStatus,
        };
    }

    /// <summary>The report as stored in a result's detail.</summary>
    public Dictionary<string, object?> Describe() => new()
    {
        ["subject"] = Subject, ["issuer"] = Issuer, ["notBefore"] = NotBefore, ["notAfter"] = NotAfter, ["names"] = Names, ["chain"] = Chain,
        ["problems"] = Problems, ["key"] = Key, ["signatures"] = Signatures, ["mustStaple"] = MustStaple, ["ocspStapled"] = OcspStapled,
        ["sent"] = Sent, ["issuerUrl"] = IssuerUrl, ["publiclyTrusted"] = PubliclyTrusted, ["chainStatus"] = ChainStatus,
    };

    private static bool IsSelfIssued(X509Certificate2 certificate) => certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData);

    private static bool WeakKey(X509Certificate2 certificate)
    {
        using var rsa = certificate.GetRSAPublicKey();
        if (rsa is not null)
        {
            return rsa.KeySize < 2048;
        }

        using var ec = certificate.GetECDsaPublicKey();
        if (ec is not null)
        {
            return ec.ExportParameters(false).Curve.Oid.Value is not ("1.2.840.10045.3.1.7" or "1.3.132.0.34" or "1.3.132.0.35");
        }

        // DSA and anything else: browsers do not accept it for TLS.
        return certificate.GetKeyAlgorithm() != "1.3.101.112";
    }

    private static string KeyOf(X509Certificate2 certificate)
    {
        using var rsa = certificate.GetRSAPublicKey();
        if (rsa is not null)
        {
            return $"RSA {rsa.KeySize}";
        }

        using var ec = certificate.GetECDsaPublicKey();
        if (ec is not null)
        {
            var curve = ec.ExportParameters(false).Curve.Oid;
            return $"ECDSA {curve.FriendlyName ?? curve.Value}";
        }

        return certificate.PublicKey.Oid.FriendlyName ?? certificate.PublicKey.Oid.Value ?? "unknown";
    }

    /// <summary>Whether the TLS feature extension (RFC 7633) lists status_request.</summary>
    private static bool MustStapleOf(X509Certificate2 certificate)
    {
        var extension = certificate.Extensions["1.3.6.1.5.5.7.1.24"];
        if (extension is null)
        {
            return false;
        }

        try
        {
            var reader = new AsnReader(extension.RawData, AsnEncodingRules.DER).ReadSequence();
            while (reader.HasData)
            {
                if (reader.ReadInteger() == 5)
                {
                    return true;
                }
            }
        }
        catch (AsnContentException)
        {
            // A malformed extension demands nothing a client can read.
        }

        return false;
    }
}
