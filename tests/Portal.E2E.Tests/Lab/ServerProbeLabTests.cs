using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using Portal.Testing;

namespace Portal.E2E.Tests.Lab;

/// <summary>
/// Scenario 9, the server's side: the portal probes real TLS endpoints in the lab (nginx and HAProxy from
/// <c>docker/lab/</c>): one that demands SNI, one that never answers the ClientHello, one self-signed and one
/// expired, and reports each in plain words. The lab CA is the portal's trusted root, as a company CA would be.
/// </summary>
public sealed class ServerProbeLabTests() : LabTest("lab-probes", Environment)
{
    private static readonly X509Certificate2 s_authority = TestCertificates.Authority("Portal Lab Root CA");

    private static Dictionary<string, string> Environment
    {
        get
        {
            var folder = TempFolder.Create("portal-lab-root");
            var (root, _) = TestCertificates.WritePem(s_authority, folder);
            return new()
            {
                ["Portal__Probes__AllowList__0"] = "127.0.0.0/8",
                // The lab servers answer to localhost, which the guard refuses unless it is named here.
                ["Portal__Probes__AllowList__1"] = "localhost",
                ["Portal__Probes__TrustedRoots__0"] = root,
                ["Portal__Probes__HandshakeTimeout"] = "00:00:03",
            };
        }
    }

    [Fact]
    public async Task Probe_LabTlsServers_EachProblemNamed()
    {
        int sni = PortalProcess.FreePort(), selfSigned = PortalProcess.FreePort(), expired = PortalProcess.FreePort(), stall = PortalProcess.FreePort();
        var files = new Dictionary<string, string>();
        Pem(files, "good", TestCertificates.Signed(s_authority, "localhost", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(90)));
        Pem(files, "selfsigned", TestCertificates.SelfSigned(["localhost"]));
        Pem(files, "expired", TestCertificates.Signed(s_authority, "localhost", DateTimeOffset.UtcNow.AddDays(-90), DateTimeOffset.UtcNow.AddDays(-2)));
        await using var nginx = await LaunchNginxAsync(Config("nginx-tls-servers.conf", ("sni", sni), ("selfsigned", selfSigned), ("expired", expired)), sni, files);
        await using var haproxy = await LabProcess.StartAsync("haproxy", Config("haproxy-stall.cfg", ("listen", stall)), ["-f", "{config}", "-db"], stall);

        await ProbeAsync("09a", "nginx demanding SNI (ssl_reject_handshake)", $"https://localhost:{sni}/", ["sni-required"],
            r => $"with SNI: handshake {N(r.Metric("probe.tls", "handshakeMs"))} ms; without: refused");
        await ProbeAsync("09b", "HAProxy holding the ClientHello (inspect-delay)", $"https://localhost:{stall}/", ["tls-handshake-stalled"],
            r => $"TCP connected in {N(r.Metric("probe.tcp", "ipv4ConnectMs"))} ms, no TLS answer within the 3 s handshake time-out");
        await ProbeAsync("09c", "nginx with a self-signed certificate", $"https://localhost:{selfSigned}/", ["certificate-problem"], Problems);
        await ProbeAsync("09d", "nginx with an expired certificate", $"https://localhost:{expired}/", ["certificate-problem"], Problems);
    }

    [Fact]
    public async Task Probe_LabTlsServerDoneRight_AllClear()
    {
        var port = PortalProcess.FreePort();
        var files = new Dictionary<string, string>();
        Pem(files, "good", TestCertificates.Signed(s_authority, "localhost", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(90)));
        // The same server block with the good certificate on every port: a healthy endpoint that also serves clients without SNI.
        Pem(files, "selfsigned", TestCertificates.Signed(s_authority, "localhost", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(90)));
        Pem(files, "expired", TestCertificates.Signed(s_authority, "localhost", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(90)));
        int sni = PortalProcess.FreePort(), expired = PortalProcess.FreePort();
        await using var nginx = await LaunchNginxAsync(Config("nginx-tls-servers.conf", ("sni", sni), ("selfsigned", port), ("expired", expired)), port, files);

        await ProbeAsync("09e", "nginx with a valid certificate, SNI optional", $"https://localhost:{port}/", ["all-clear"], Problems);
    }

    private async Task ProbeAsync(string scenario, string path, string target, string[] expected, Func<LabRun, string> figures)
    {
        var (sessionId, _) = await CreateSessionAsync("Lab probes " + scenario);
        using var api = Portal.CreateClient();
        using var accepted = await api.PostAsJsonAsync($"/api/v1/sessions/{sessionId}/probes", new { targets = new[] { target } });
        accepted.StatusCode.ShouldBe(System.Net.HttpStatusCode.Accepted, await accepted.Content.ReadAsStringAsync());
        await ExpectFindingsAsync(scenario, path + $" (probe of {target.Replace(PortText(target), ":port", StringComparison.Ordinal)})", (sessionId, null), expected, figures, TimeSpan.FromSeconds(30), probeRun: true);
    }

    private static string PortText(string target) => ":" + new Uri(target).Port.ToString(CultureInfo.InvariantCulture);

    private static string Problems(LabRun run)
    {
        var tls = run.Result("probe.tls").GetProperty("detail");
        var problems = tls.TryGetProperty("certificateProblems", out var p) ? string.Join(", ", p.EnumerateArray().Select(e => e.GetString())) : "";
        return problems.Length == 0 ? $"handshake {N(run.Metric("probe.tls", "handshakeMs"))} ms, certificate fine" : $"certificate: {problems}";
    }

    private static void Pem(Dictionary<string, string> files, string name, X509Certificate2 certificate)
    {
        using (certificate)
        {
            files[name + ".pem"] = certificate.ExportCertificatePem();
            files[name + ".key"] = certificate.GetECDsaPrivateKey() is { } ec ? ec.ExportPkcs8PrivateKeyPem() : certificate.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem();
        }
    }
}
