using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Portal.Testing;

/// <summary>Certificates made in the test, for TLS servers with exactly the flaw a test needs.</summary>
public static class TestCertificates
{
    /// <summary>
    /// A self-signed server certificate (ECDSA P-256) for the given DNS names and IP addresses, valid in the given
    /// window (by default from an hour ago for a day).
    /// </summary>
    public static X509Certificate2 SelfSigned(string[] names, IPAddress[]? addresses = null, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        ArgumentNullException.ThrowIfNull(names);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={(names.Length > 0 ? names[0] : "portal-test")}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in names)
        {
            san.AddDnsName(name);
        }

        foreach (var address in addresses ?? [])
        {
            san.AddIpAddress(address);
        }

        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var from = notBefore ?? DateTimeOffset.UtcNow.AddHours(-1);
        var to = notAfter ?? DateTimeOffset.UtcNow.AddDays(1);
        return request.CreateSelfSigned(from, to);
    }

    /// <summary>A certificate authority (ECDSA P-256) for signing test server certificates.</summary>
    public static X509Certificate2 Authority(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddYears(1));
    }

    /// <summary>A server certificate for a DNS name, signed by an authority, valid in the given window.</summary>
    public static X509Certificate2 Signed(X509Certificate2 authority, string name, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        ArgumentNullException.ThrowIfNull(authority);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        using var signer = authority.GetECDsaPrivateKey()!;
        using var plain = request.Create(authority.SubjectName, X509SignatureGenerator.CreateForECDsa(signer), notBefore, notAfter, RandomNumberGenerator.GetBytes(16));
        return plain.CopyWithPrivateKey(key);
    }

    /// <summary>
    /// The environment of a portal that terminates TLS itself on <paramref name="urls"/>, with a self-signed
    /// certificate for <c>localhost</c> and 127.0.0.1 made now and written to a temporary folder.
    /// </summary>
    public static Dictionary<string, string> KestrelEnvironment(string urls)
    {
        using var certificate = SelfSigned(["localhost"], [IPAddress.Loopback]);
        var (path, key) = WritePem(certificate, TempFolder.Create("portal-tls"));
        return new()
        {
            ["ASPNETCORE_URLS"] = urls,
            ["Kestrel__Certificates__Default__Path"] = path,
            ["Kestrel__Certificates__Default__KeyPath"] = key,
        };
    }

    /// <summary>Writes a certificate and its private key as PEM files into a folder; returns their paths.</summary>
    public static (string CertificatePath, string KeyPath) WritePem(X509Certificate2 certificate, string folder)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        Directory.CreateDirectory(folder);
        var certificatePath = Path.Combine(folder, "cert.pem");
        var keyPath = Path.Combine(folder, "key.pem");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        return (certificatePath, keyPath);
    }
}
