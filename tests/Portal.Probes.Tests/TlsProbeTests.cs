using System.Security.Cryptography.X509Certificates;
using Portal.Testing;

namespace Portal.Probes.Tests;

/// <summary>The TLS probe against real TLS servers on loopback, with certificates made in the test.</summary>
public sealed class TlsProbeTests : IDisposable
{
    private const string Name = "service.lab.test";
    private readonly X509Certificate2 _authority = TestCertificates.Authority("Portal Lab CA");
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "portal-probe-ca-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        _authority.Dispose();
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    [Fact]
    public async Task Probe_ServerThatDemandsSni_WithSniSucceedsWithoutFails()
    {
        using var certificate = Leaf(Name, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        await using var server = LoopbackServer.Tls(name => name is null ? null : certificate);

        var tls = await ProbeTlsAsync($"https://{Name}:{server.Port}/");

        tls.Metrics["sniOk"].ShouldBe(1);
        tls.Metrics["noSniOk"].ShouldBe(0);
        tls.Metrics["sniRequired"].ShouldBe(1);
        tls.Detail["outcome"].ShouldBe("sni-required");
        ((string)tls.Detail["summary"]!).ShouldContain("only with SNI");
        tls.Detail["protocol"].ShouldBe("Tls13");
    }

    [Fact]
    public async Task Probe_ValidChain_PassesWithBothHandshakes()
    {
        using var certificate = Leaf(Name, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        await using var server = LoopbackServer.Tls(_ => certificate);

        var tls = await ProbeTlsAsync($"https://{Name}:{server.Port}/");

        tls.Status.ShouldBe("pass", (string?)tls.Detail["summary"]);
        tls.Metrics["noSniOk"].ShouldBe(1);
        tls.Metrics["certificateValid"].ShouldBe(1);
        ((IReadOnlyList<string>)tls.Detail["certificateProblems"]!).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("self-signed")]
    [InlineData("expired")]
    [InlineData("not-yet-valid")]
    [InlineData("name-mismatch")]
    [InlineData("untrusted-root")]
    public async Task Probe_FlawedCertificate_ReportsExactlyThatProblem(string problem)
    {
        var now = DateTimeOffset.UtcNow;
        using var stranger = TestCertificates.Authority("Somebody Else's CA");
        using var certificate = problem switch
        {
            "self-signed" => TestCertificates.SelfSigned([Name]),
            "expired" => Leaf(Name, now.AddDays(-30), now.AddDays(-1)),
            "not-yet-valid" => Leaf(Name, now.AddDays(2), now.AddDays(30)),
            "name-mismatch" => Leaf("other.lab.test", now.AddDays(-1), now.AddDays(30)),
            _ => TestCertificates.Signed(stranger, Name, now.AddDays(-1), now.AddDays(30)),
        };
        await using var server = LoopbackServer.Tls(_ => certificate);

        var tls = await ProbeTlsAsync($"https://{Name}:{server.Port}/");

        tls.Status.ShouldBe("warn");
        tls.Detail["outcome"].ShouldBe("certificate-problem");
        ((IReadOnlyList<string>)tls.Detail["certificateProblems"]!).ShouldBe([problem]);
        tls.Metrics["certificateValid"].ShouldBe(0);
    }

    [Fact]
    public async Task Probe_ServerThatNeverAnswersClientHello_ReportsStallAndReleasesConnection()
    {
        await using var server = LoopbackServer.Silent();
        var started = DateTime.UtcNow;

        var tls = await ProbeTlsAsync($"https://{Name}:{server.Port}/");

        tls.Status.ShouldBe("fail");
        tls.Metrics["stalled"].ShouldBe(1);
        tls.Detail["outcome"].ShouldBe("tls-handshake-stalled");
        ((string)tls.Detail["summary"]!).ShouldContain("did not complete");
        // Every connection the probe opened (TCP check, TLS with and without SNI) is closed again: the server is free.
        await Eventually.TrueAsync(() => Task.FromResult(server.Closed == server.Accepted), "the server saw every probe connection closed", TimeSpan.FromSeconds(5));
        server.Accepted.ShouldBe(3);
        (DateTime.UtcNow - started).ShouldBeLessThan(TimeSpan.FromSeconds(20));
    }

    private X509Certificate2 Leaf(string name, DateTimeOffset notBefore, DateTimeOffset notAfter) =>
        TestCertificates.Signed(_authority, name, notBefore, notAfter);

    private async Task<ProbeResult> ProbeTlsAsync(string target)
    {
        Directory.CreateDirectory(_folder);
        var caPath = Path.Combine(_folder, "ca.pem");
        await File.WriteAllTextAsync(caPath, _authority.ExportCertificatePem());
        var prober = new Prober(
            new ProbeOptions { AllowList = ["127.0.0.1/32"], HandshakeTimeout = TimeSpan.FromSeconds(2), RequestTimeout = TimeSpan.FromSeconds(2), TrustedRoots = [caPath] },
            AddressGuardTests.Resolver((Name, "127.0.0.1")));
        ProbeTarget.TryParse(target, out var parsed, out _).ShouldBeTrue();
        var results = new List<ProbeResult>();
        await foreach (var result in prober.ProbeAsync(parsed))
        {
            results.Add(result);
        }

        results.Select(r => r.Step).ShouldContain("probe.tls");
        return results.Single(r => r.Step == "probe.tls");
    }
}
