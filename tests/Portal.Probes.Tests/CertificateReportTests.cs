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
        _root = TestCertificates.Authority("Lab Root");
        _intermediate = TestChain.Intermediate(_root, "Lab Issuing CA");
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
        using var strangerRoot = TestCertificates.Authority("Intercepting Proxy Root");
        using var stranger = TestChain.Intermediate(strangerRoot, "Intercepting Proxy CA");
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
        using var oldIntermediate = TestChain.Intermediate(_intermediate, "Old Issuing CA", sha1: true);
        using var leaf = Leaf(issuer: oldIntermediate);

        Judge([leaf, oldIntermediate, _intermediate]).Problems.ShouldBe([CertificateProblems.WeakSignature]);
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
        using var leaf = Leaf();
        await using var server = LoopbackServer.Tls(_ => leaf);

        var tls = await ProbeAsync(server.Port);

        ((IReadOnlyList<string>)tls.Detail["certificateProblems"]!).ShouldBe([CertificateProblems.IncompleteChain]);
    }

    [Fact]
    public async Task Probe_ServerSendingItsIntermediate_Valid()
    {
        using var leaf = Leaf();
        await using var server = LoopbackServer.Tls(_ => leaf, intermediates: [_intermediate]);

        var tls = await ProbeAsync(server.Port);

        tls.Status.ShouldBe("pass", (string?)tls.Detail["summary"]);
        ((Dictionary<string, object?>)tls.Detail["certificate"]!)["sent"].ShouldBe(2);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Probe_ServerWithOnlyCbcSuites_HandshakeCompletesAsInBrowsers()
    {
        using var leaf = Leaf();
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

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Probe_IntermediateNotSent_FetchesTheIssuerTheLeafNamesToSayWhetherBrowsersCompleteIt(bool served)
    {
        await using var issuerHost = await EchoServer.StartAsync(files: served ? new Dictionary<string, byte[]> { ["/issuing.crt"] = _intermediate.RawData } : null);
        using var leaf = TestChain.Leaf(_intermediate, new LeafSpec(Host, IssuerUrl: $"http://ca.lab.test:{issuerHost.Port}/issuing.crt"));
        await using var server = LoopbackServer.Tls(_ => leaf);

        var tls = await ProbeAsync(server.Port);

        ((IReadOnlyList<string>)tls.Detail["certificateProblems"]!).ShouldBe([CertificateProblems.IncompleteChain]);
        tls.Metrics["aiaRescues"].ShouldBe(served ? 1 : 0);
        ((Dictionary<string, object?>)tls.Detail["aia"]!)["url"].ShouldBe($"http://ca.lab.test:{issuerHost.Port}/issuing.crt");
    }

    [Fact]
    public async Task Probe_IntermediateNotSent_IssuerUrlTheProbeCannotReach_NoClaimEitherWay()
    {
        using var leaf = TestChain.Leaf(_intermediate, new LeafSpec(Host, IssuerUrl: "http://unresolvable.lab.test/issuing.crt"));
        await using var server = LoopbackServer.Tls(_ => leaf);

        var tls = await ProbeAsync(server.Port);

        ((IReadOnlyList<string>)tls.Detail["certificateProblems"]!).ShouldBe([CertificateProblems.IncompleteChain]);
        tls.Metrics["aiaRescues"].ShouldBeNull();
        ((string?)((Dictionary<string, object?>)tls.Detail["aia"]!)["error"]).ShouldNotBeNullOrEmpty();
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
            AddressGuardTests.Resolver((Host, "127.0.0.1"), ("ca.lab.test", "127.0.0.1")));
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

    private X509Certificate2 Leaf(
        X509Certificate2? issuer = null, int keySize = 2048, HashAlgorithmName? hash = null, string name = Host, bool aia = true, bool mustStaple = false,
        string eku = "1.3.6.1.5.5.7.3.1", X509KeyUsageFlags usage = X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment,
        DateTimeOffset? notAfter = null) =>
        TestChain.Leaf(issuer ?? _intermediate, new LeafSpec(name, keySize, hash == HashAlgorithmName.SHA1, aia ? "http://ca.lab.test/issuing.crt" : null, mustStaple, eku, usage, notAfter is { } end ? (int)Math.Round((end - _now).TotalDays) + 1 : 90));
}
