using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Portal.Testing;

/// <summary>What a test leaf certificate is like: each knob is one fault testssl.sh and browsers name.</summary>
/// <param name="Name">The DNS name it is issued for.</param>
/// <param name="KeySize">RSA key size (1024 is the weak one).</param>
/// <param name="Sha1">Signed with SHA-1 instead of SHA-256.</param>
/// <param name="IssuerUrl">Where its issuer can be fetched (AIA caIssuers; every public CA's leaves say); null for none.</param>
/// <param name="MustStaple">Carries the TLS feature extension with status_request (RFC 7633).</param>
/// <param name="ExtendedKeyUsage">The EKU it carries (serverAuth by default).</param>
/// <param name="KeyUsage">Its key usage.</param>
/// <param name="Days">How long it is valid, from a day ago.</param>
public sealed record LeafSpec(
    string Name = "localhost",
    int KeySize = 2048,
    bool Sha1 = false,
    string? IssuerUrl = "http://ca.lab.test/issuing.crt",
    bool MustStaple = false,
    string ExtendedKeyUsage = "1.3.6.1.5.5.7.3.1",
    X509KeyUsageFlags KeyUsage = X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment,
    int Days = 90);

/// <summary>RSA intermediates and leaves under a test root, with the faults real CAs once made (SHA-1, 1024-bit keys…).</summary>
public static class TestChain
{
    /// <summary>An RSA 2048 intermediate CA signed by <paramref name="issuer"/> (ECDSA or RSA).</summary>
    public static X509Certificate2 Intermediate(X509Certificate2 issuer, string name, bool sha1 = false)
    {
        ArgumentNullException.ThrowIfNull(issuer);
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, sha1 ? HashAlgorithmName.SHA1 : HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        var now = DateTimeOffset.UtcNow;
        using var plain = request.Create(issuer.SubjectName, SignerOf(issuer), now.AddDays(-20), now.AddYears(1), RandomNumberGenerator.GetBytes(16));
        return Keyed(plain.CopyWithPrivateKey(key));
    }

    /// <summary>A leaf signed by an RSA <paramref name="issuer"/>, as <paramref name="spec"/> says.</summary>
    public static X509Certificate2 Leaf(X509Certificate2 issuer, LeafSpec spec)
    {
        ArgumentNullException.ThrowIfNull(issuer);
        ArgumentNullException.ThrowIfNull(spec);
        using var key = RSA.Create(spec.KeySize);
        var request = new CertificateRequest($"CN={spec.Name}", key, spec.Sha1 ? HashAlgorithmName.SHA1 : HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(spec.Name);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(spec.KeyUsage, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(spec.ExtendedKeyUsage)], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        if (spec.IssuerUrl is { } url)
        {
            request.CertificateExtensions.Add(new X509AuthorityInformationAccessExtension(null, [url]));
        }

        if (spec.MustStaple)
        {
            var writer = new AsnWriter(AsnEncodingRules.DER);
            using (writer.PushSequence())
            {
                writer.WriteInteger(5);
            }

            request.CertificateExtensions.Add(new X509Extension("1.3.6.1.5.5.7.1.24", writer.Encode(), false));
        }

        var now = DateTimeOffset.UtcNow;
        using var plain = request.Create(issuer.SubjectName, SignerOf(issuer), now.AddDays(-1), now.AddDays(spec.Days - 1), RandomNumberGenerator.GetBytes(16));
        return Keyed(plain.CopyWithPrivateKey(key));
    }

    /// <summary>The certificate and its private key as PEM, for nginx.</summary>
    public static (string Certificate, string Key) Pem(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using var ec = certificate.GetECDsaPrivateKey();
        using var rsa = certificate.GetRSAPrivateKey();
        return (certificate.ExportCertificatePem(), ec?.ExportPkcs8PrivateKeyPem() ?? rsa!.ExportPkcs8PrivateKeyPem());
    }

    // A server needs its key in a form every TLS stack can use.
    private static X509Certificate2 Keyed(X509Certificate2 withKey)
    {
        using (withKey)
        {
            return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null, X509KeyStorageFlags.Exportable);
        }
    }

    private static X509SignatureGenerator SignerOf(X509Certificate2 issuer) =>
        issuer.GetECDsaPrivateKey() is { } ec ? X509SignatureGenerator.CreateForECDsa(ec) : new Sha1AwareSigner(issuer.GetRSAPrivateKey()!);

    // .NET refuses to make SHA-1 signatures itself; the old CAs that did are what the probe must recognise.
    private sealed class Sha1AwareSigner(RSA key) : X509SignatureGenerator
    {
        private readonly X509SignatureGenerator _inner = CreateForRSA(key, RSASignaturePadding.Pkcs1);

        public override byte[] GetSignatureAlgorithmIdentifier(HashAlgorithmName hashAlgorithm)
        {
            if (hashAlgorithm != HashAlgorithmName.SHA1)
            {
                return _inner.GetSignatureAlgorithmIdentifier(hashAlgorithm);
            }

            // AlgorithmIdentifier { sha1WithRSAEncryption, NULL }.
            var writer = new AsnWriter(AsnEncodingRules.DER);
            using (writer.PushSequence())
            {
                writer.WriteObjectIdentifier("1.2.840.113549.1.1.5");
                writer.WriteNull();
            }

            return writer.Encode();
        }

        public override byte[] SignData(byte[] data, HashAlgorithmName hashAlgorithm) => key.SignData(data, hashAlgorithm, RSASignaturePadding.Pkcs1);

        protected override PublicKey BuildPublicKey() => _inner.PublicKey;
    }
}
