using System.Formats.Asn1;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Portal.Core.Tls;
using Portal.Testing;

namespace Portal.Probes.Tests;

/// <summary>
/// Certificates judged as browsers judge them, from what a server sends: each fault testssl.sh names gets its own
/// problem, and a chain sent without its intermediate is told apart from an unknown root.
/// </summary>
public sealed class CertificateReportTests : IDisposable
{
    private const string Host = "service.lab.test";
    private readonly DateTimeOffset _now = DateTimeOffset.UtcNow;
    private readonly X509Certificate2 _root;
    private readonly X509Certificate2 _intermediate;

    public CertificateReportTests()
    {
        _root = Ca("Lab Root", null, HashAlgorithmName.SHA256);
        _intermediate = Ca("Lab Issuing CA", _root, HashAlgorithmName.SHA256);
    }

    public void Dispose()
    {
        _root.Dispose();
        _intermediate.Dispose();
    }

    [Fact]
    public void From_FullChainSent_NoProblem()
    {
        using var leaf = Leaf();

        var report = Judge([leaf, _intermediate]);

        report.Problems.ShouldBeEmpty(report.ChainStatus);
        report.Chain.Count.ShouldBe(3);
        report.Key.ShouldBe("RSA 2048");
    }

    [Fact]
    public void From_IntermediateNotSent_IncompleteChainWithWhereToFetchIt()
    {
        using var leaf = Leaf();

        var report = Judge([leaf]);

        report.Problems.ShouldBe([CertificateProblems.IncompleteChain]);
        report.IssuerUrl.ShouldBe("http://ca.lab.test/issuing.crt");
    }

    [Fact]
    public void From_LeafOfAnUnknownRootThatSignsLeavesItself_UntrustedRoot()
    {
        using var stranger = Ca("Intercepting Proxy CA", null, HashAlgorithmName.SHA256);
        using var leaf = Leaf(issuer: stranger, aia: false);

        Judge([leaf]).Problems.ShouldBe([CertificateProblems.UntrustedRoot]);
    }

    [Fact]
    public void From_Rsa1024Leaf_WeakKey()
    {
        using var leaf = Leaf(keySize: 1024);

        var report = Judge([leaf, _intermediate]);

        report.Problems.ShouldBe([CertificateProblems.WeakKey]);
        report.Key.ShouldBe("RSA 1024");
    }

    [Fact]
    public void From_LeafSignedWithSha1_WeakSignature()
    {
        using var leaf = Leaf(hash: HashAlgorithmName.SHA1);

        var report = Judge([leaf, _intermediate]);

        report.Problems.ShouldBe([CertificateProblems.WeakSignature]);
        report.Signatures[0].ShouldContain("sha1", Case.Insensitive);
    }

    [Fact]
    public void From_IntermediateSignedWithSha1_WeakSignature()
    {
        using var oldIntermediate = Ca("Old Issuing CA", _root, HashAlgorithmName.SHA1);
        using var leaf = Leaf(issuer: oldIntermediate);

        Judge([leaf, oldIntermediate]).Problems.ShouldBe([CertificateProblems.WeakSignature]);
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(null, false)]
    public void From_MustStaple_ProblemOnlyWhenSeenNotStapled(bool? stapled, bool problem)
    {
        using var leaf = Leaf(mustStaple: true);

        var report = Judge([leaf, _intermediate], stapled);

        report.MustStaple.ShouldBeTrue();
        report.Problems.Contains(CertificateProblems.MustStapleNotStapled).ShouldBe(problem);
        report.Problems.Count.ShouldBe(problem ? 1 : 0);
    }

    [Fact]
    public void From_ClientAuthOnly_ExtendedKeyUsage()
    {
        using var leaf = Leaf(eku: "1.3.6.1.5.5.7.3.2");

        Judge([leaf, _intermediate]).Problems.ShouldBe([CertificateProblems.ExtendedKeyUsage]);
    }

    [Fact]
    public void From_KeyUsageWithoutSignatureOrEncipherment_KeyUsage()
    {
        using var leaf = Leaf(usage: X509KeyUsageFlags.DataEncipherment);

        Judge([leaf, _intermediate]).Problems.ShouldBe([CertificateProblems.KeyUsage]);
    }

    [Theory]
    [InlineData(true, 500, true)]
    [InlineData(true, 397, false)]
    [InlineData(false, 500, false)]
    public void From_LongValidity_ProblemOnlyUnderAPublicRoot(bool publicRoot, int days, bool problem)
    {
        using var leaf = Leaf(notAfter: _now.AddDays(days - 1));

        var report = Judge([leaf, _intermediate], isPublicRoot: publicRoot);

        report.PubliclyTrusted.ShouldBe(publicRoot);
        report.Problems.ShouldBe(problem ? [CertificateProblems.ValidityTooLong] : []);
    }

    [Fact]
    public void From_SeveralFaults_EachNamedGravestFirst()
    {
        using var leaf = Leaf(keySize: 1024, hash: HashAlgorithmName.SHA1, name: "other.lab.test");

        Judge([leaf]).Problems.ShouldBe([CertificateProblems.IncompleteChain, CertificateProblems.NameMismatch, CertificateProblems.WeakKey, CertificateProblems.WeakSignature]);
    }

    [Fact]
    public async Task Probe_ServerSendingLeafWithoutIntermediate_IncompleteChainNotUntrustedRoot()
    {
        using var leaf = Leaf(keyed: true);
        await using var server = LoopbackServer.Tls(_ => leaf);

        var tls = await ProbeAsync(server.Port);

        ((IReadOnlyList<string>)tls.Detail["certificateProblems"]!).ShouldBe([CertificateProblems.IncompleteChain]);
    }

    [Fact]
    public async Task Probe_ServerSendingItsIntermediate_Valid()
    {
        using var leaf = Leaf(keyed: true);
        await using var server = LoopbackServer.Tls(_ => leaf, intermediates: [_intermediate]);

        var tls = await ProbeAsync(server.Port);

        tls.Status.ShouldBe("pass", (string?)tls.Detail["summary"]);
        ((Dictionary<string, object?>)tls.Detail["certificate"]!)["sent"].ShouldBe(2);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Probe_ServerWithOnlyCbcSuites_HandshakeCompletesAsInBrowsers()
    {
        using var leaf = Leaf(keyed: true);
        await using var server = LoopbackServer.Tls(_ => leaf, o =>
        {
            o.EnabledSslProtocols = SslProtocols.Tls12;
            o.CipherSuitesPolicy = new CipherSuitesPolicy([TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA]);
        }, [_intermediate]);

        var tls = await ProbeAsync(server.Port);

        tls.Status.ShouldBe("pass", (string?)tls.Detail["summary"]);
        tls.Detail["cipher"].ShouldBe("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA");
        tls.Metrics["tls12"].ShouldBe(1);
        tls.Metrics["tls13"].ShouldBe(0);
        tls.Metrics["browsersConnect"].ShouldBe(1);
        ((IReadOnlyList<string>)tls.Detail["cipherFamilies"]!).ShouldBe(["cbc"]);
    }

    private CertificateReport Judge(X509Certificate2[] sent, bool? stapled = true, bool isPublicRoot = false) =>
        CertificateReport.From(sent, Host, [_root], stapled, _ => isPublicRoot);

    private async Task<ProbeResult> ProbeAsync(int port)
    {
        var folder = TempFolder.Create("portal-cert-report");
        var root = Path.Combine(folder, "root.pem");
        await File.WriteAllTextAsync(root, _root.ExportCertificatePem());
        var prober = new Prober(
            new ProbeOptions { AllowList = ["127.0.0.1/32"], HandshakeTimeout = TimeSpan.FromSeconds(2), RequestTimeout = TimeSpan.FromSeconds(2), TrustedRoots = [root] },
            AddressGuardTests.Resolver((Host, "127.0.0.1")));
        ProbeTarget.TryParse($"https://{Host}:{port}/", out var target, out _).ShouldBeTrue();
        await foreach (var result in prober.ProbeAsync(target))
        {
            if (result.Step == "probe.tls")
            {
                return result;
            }
        }

        throw new InvalidOperationException("no probe.tls result");
    }

    private X509Certificate2 Ca(string name, X509Certificate2? issuer, HashAlgorithmName hash)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, hash, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        if (issuer is null)
        {
            return request.CreateSelfSigned(_now.AddDays(-30), _now.AddYears(5));
        }

        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        using var signer = issuer.GetRSAPrivateKey()!;
        using var plain = request.Create(issuer.SubjectName, Signer(signer), _now.AddDays(-20), _now.AddYears(4), RandomNumberGenerator.GetBytes(16));
        return plain.CopyWithPrivateKey(key);
    }

    // .NET refuses to make SHA-1 signatures itself; the old CAs that did are what the probe must recognise.
    private static X509SignatureGenerator Signer(RSA key) => new Sha1AwareSigner(key);

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

    private X509Certificate2 Leaf(
        X509Certificate2? issuer = null, int keySize = 2048, HashAlgorithmName? hash = null, string name = Host, bool aia = true, bool mustStaple = false,
        string eku = "1.3.6.1.5.5.7.3.1", X509KeyUsageFlags usage = X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment,
        DateTimeOffset? notAfter = null, bool keyed = false)
    {
        issuer ??= _intermediate;
        using var key = RSA.Create(keySize);
        var request = new CertificateRequest($"CN={name}", key, hash ?? HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(usage, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(eku)], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        if (aia)
        {
            request.CertificateExtensions.Add(new X509AuthorityInformationAccessExtension(null, ["http://ca.lab.test/issuing.crt"]));
        }

        if (mustStaple)
        {
            // The TLS feature extension (RFC 7633) listing status_request (5).
            var writer = new AsnWriter(AsnEncodingRules.DER);
            using (writer.PushSequence())
            {
                writer.WriteInteger(5);
            }

            request.CertificateExtensions.Add(new X509Extension("1.3.6.1.5.5.7.1.24", writer.Encode(), false));
        }

        using var signer = issuer.GetRSAPrivateKey()!;
        using var plain = request.Create(issuer.SubjectName, Signer(signer), _now.AddDays(-1), notAfter ?? _now.AddDays(90), RandomNumberGenerator.GetBytes(16));
        var withKey = plain.CopyWithPrivateKey(key);
        // A server needs its key in a form the TLS stack can use on every platform.
        return keyed ? X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null) : withKey;
    }
}
