using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Portal.Core.Tls;
using Portal.Testing;

namespace Portal.E2E.Tests.Lab;

/// <summary>
/// Scenario 17: nginx servers broken the ways testssl.sh names (only CBC suites, only TLS 1.0/1.1, RSA 1024, SHA-1,
/// must-staple unstapled, no intermediate, a client-only EKU, only DHE suites), probed by the portal and checked by Debian's
/// testssl.sh, an independent referee, with the same root trusted by both. On every verdict both tools give — the
/// protocol versions offered, the key, the signature, must-staple, the chain, the name — they must agree.
/// </summary>
public sealed class TestsslLabTests() : LabTest("lab-testssl", Environment)
{
    private static readonly X509Certificate2 s_root = TestCertificates.Authority("Portal Lab Root CA");
    private static readonly string s_rootPath = WriteRoot();

    private static Dictionary<string, string> Environment => new()
    {
        ["Portal__Probes__AllowList__0"] = "127.0.0.0/8",
        ["Portal__Probes__AllowList__1"] = "localhost",
        ["Portal__Probes__TrustedRoots__0"] = s_rootPath,
        ["Portal__Probes__HandshakeTimeout"] = "00:00:03",
    };

    [Fact]
    public async Task Probe_BrokenTlsServers_AgreeWithTestssl()
    {
        using var intermediate = TestChain.Intermediate(s_root, "Portal Lab Issuing CA");
        var files = new Dictionary<string, string>();
        void Serve(string name, LeafSpec spec, bool withIntermediate = true)
        {
            using var leaf = TestChain.Leaf(intermediate, spec);
            var (certificate, key) = TestChain.Pem(leaf);
            files[name + ".pem"] = withIntermediate ? certificate + "\n" + intermediate.ExportCertificatePem() + "\n" : certificate + "\n";
            files[name + ".key"] = key;
        }

        Serve("good", new LeafSpec());
        Serve("rsa1024", new LeafSpec(KeySize: 1024));
        Serve("sha1", new LeafSpec(Sha1: true));
        Serve("staple", new LeafSpec(MustStaple: true));
        Serve("noint", new LeafSpec(), withIntermediate: false);
        Serve("eku", new LeafSpec(ExtendedKeyUsage: "1.3.6.1.5.5.7.3.2"));
        var dh = Path.Combine(TempFolder.Create("portal-testssl-dh"), "dh.pem");
        await LabProcess.RunAsync("openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "dh_param:ffdhe2048", "-out", dh);
        files["dh.pem"] = await File.ReadAllTextAsync(dh);

        (string Scenario, string Name, string Path, string[] Expected)[] servers =
        [
            ("17a", "cbc", "TLS 1.2 with only CBC-SHA suites, valid chain", ["all-clear"]),
            ("17b", "legacy", "only TLS 1.0 and 1.1", ["tls-obsolete"]),
            ("17c", "rsa1024", "leaf with an RSA 1024 key", ["certificate-problem"]),
            ("17d", "sha1", "leaf signed with SHA-1", ["certificate-problem"]),
            ("17e", "staple", "OCSP must-staple leaf, no stapling", ["certificate-problem"]),
            ("17f", "noint", "leaf sent without its intermediate (root trusted)", ["certificate-problem"]),
            ("17g", "eku", "leaf for TLS clients only (EKU clientAuth)", ["certificate-problem"]),
            ("17h", "dhe", "TLS 1.2 with only finite-field DHE suites", ["tls-obsolete"]),
            ("17i", "good", "done right", ["all-clear"]),
        ];
        var ports = servers.ToDictionary(s => s.Name, _ => PortalProcess.FreePort());
        await using var nginx = await LaunchNginxAsync(Config("nginx-tls-faults.conf", [.. ports.Select(p => (p.Key, (object)p.Value))]), ports["good"], files);

        // The referee first, on every server at once (it takes a while per server; one at a time would take minutes).
        var verdicts = await Task.WhenAll(servers.Select(s => TestsslAsync(s.Name, ports[s.Name])));
        var disagreements = new List<string>();
        for (var i = 0; i < servers.Length; i++)
        {
            var (scenario, name, path, expected) = servers[i];
            var testssl = verdicts[i];
            var target = $"https://localhost:{ports[name]}/";
            var (sessionId, _) = await CreateSessionAsync("Lab testssl " + scenario);
            using var api = Portal.CreateClient();
            using var accepted = await api.PostAsJsonAsync($"/api/v1/sessions/{sessionId}/probes", new { targets = new[] { target } });
            accepted.StatusCode.ShouldBe(System.Net.HttpStatusCode.Accepted, await accepted.Content.ReadAsStringAsync());
            await ExpectFindingsAsync(scenario, $"nginx: {path} (testssl.sh as referee)", (sessionId, null), expected, run =>
            {
                var (portalSays, differences) = Compare(run, testssl);
                disagreements.AddRange(differences.Select(d => $"{scenario} {name}: {d}"));
                return $"testssl: {testssl.Summary}; portal: {portalSays}{(differences.Count == 0 ? "; agree" : "; DISAGREE: " + string.Join("; ", differences))}";
            }, TimeSpan.FromSeconds(60), probeRun: true);
        }

        disagreements.ShouldBeEmpty();
    }

    /// <summary>What both tools say of one server, verdict by verdict; the differences.</summary>
    private static (string PortalSays, List<string> Differences) Compare(LabRun run, Verdicts testssl)
    {
        var tls = run.Result("probe.tls");
        var problems = tls.GetProperty("detail").TryGetProperty("certificateProblems", out var p) && p.ValueKind == JsonValueKind.Array
            ? p.EnumerateArray().Select(e => e.GetString()!).ToList() : [];
        var differences = new List<string>();
        void Same(string what, bool? referee, bool? portal)
        {
            if (referee is { } r && portal is { } q && r != q)
            {
                differences.Add($"{what}: testssl {r}, portal {q}");
            }
        }

        var offered = new List<string>();
        foreach (var (id, metric) in new[] { ("TLS1", "tls10"), ("TLS1_1", "tls11"), ("TLS1_2", "tls12"), ("TLS1_3", "tls13") })
        {
            var portal = run.Metric("probe.tls", metric) is { } m ? m == 1 : (bool?)null;
            Same(id + " offered", testssl.Offered(id), portal);
            if (portal == true)
            {
                offered.Add(id);
            }
        }

        var certificateSeen = testssl.Has("cert_chain_of_trust") && run.Metric("probe.tls", "certificateValid") is not null;
        if (certificateSeen)
        {
            Same("weak key", testssl.Flagged("cert_keySize"), problems.Contains(CertificateProblems.WeakKey));
            Same("weak signature", testssl.Flagged("cert_signatureAlgorithm"), problems.Contains(CertificateProblems.WeakSignature));
            Same("must-staple without stapling", testssl.Flagged("cert_mustStapleExtension"), problems.Contains(CertificateProblems.MustStapleNotStapled));
            Same("chain incomplete", testssl.Says("cert_chain_of_trust", "chain incomplete"), problems.Contains(CertificateProblems.IncompleteChain));
            // testssl.sh verifies for the purpose sslserver: a leaf not meant for servers fails its chain of trust, where
            // the portal names the key usage apart from a chain that validates.
            var unfitPurpose = testssl.Says("cert_chain_of_trust", "unsupported certificate purpose");
            Same("certificate not for servers", unfitPurpose, problems.Contains(CertificateProblems.ExtendedKeyUsage) || problems.Contains(CertificateProblems.KeyUsage));
            Same("chain of trust passed", unfitPurpose == true ? true : testssl.Ok("cert_chain_of_trust"),
                !problems.Intersect([CertificateProblems.IncompleteChain, CertificateProblems.UntrustedRoot, CertificateProblems.SelfSigned]).Any());
            Same("name matches", testssl.Ok("cert_trust"), !problems.Contains(CertificateProblems.NameMismatch));
        }
        else if (testssl.Has("cert_chain_of_trust") != (run.Metric("probe.tls", "certificateValid") is not null))
        {
            differences.Add($"certificate seen: testssl {testssl.Has("cert_chain_of_trust")}, portal {run.Metric("probe.tls", "certificateValid") is not null}");
        }

        var outcome = tls.GetProperty("detail").GetProperty("outcome").GetString();
        return ($"{string.Join(" ", offered)}, {outcome}{(problems.Count > 0 ? " (" + string.Join(", ", problems) + ")" : "")}", differences);
    }

    /// <summary>testssl.sh's protocol (-p) and certificate (-S) checks of one server, from its JSON file.</summary>
    private static async Task<Verdicts> TestsslAsync(string name, int port)
    {
        var folder = TempFolder.Create("portal-testssl");
        var json = Path.Combine(folder, "testssl.json");
        var info = new ProcessStartInfo(LabProcess.Find("testssl") ?? "testssl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "--quiet", "--color", "0", "--warnings", "off", "--add-ca", s_rootPath, "-p", "-S", "--jsonfile", json, $"localhost:{port}" })
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"testssl.sh on port {port} did not finish in 4 minutes:\n{await output}");
        }

        // What it printed, next to the test assembly, for reading after a disagreement.
        await File.WriteAllTextAsync(Path.Combine(AppContext.BaseDirectory, $"lab-testssl-{name}.log"), await output + await errors);
        File.Exists(json).ShouldBeTrue($"testssl.sh wrote no JSON (exit {process.ExitCode}):\n{await output}{await errors}");
        var entries = JsonSerializer.Deserialize<JsonElement>(await File.ReadAllTextAsync(json)).EnumerateArray()
            .GroupBy(e => e.GetProperty("id").GetString()!)
            .ToDictionary(g => g.Key, g => (Severity: g.First().GetProperty("severity").GetString()!, Finding: g.First().GetProperty("finding").GetString()!));
        return new Verdicts(entries);
    }

    private static string WriteRoot()
    {
        var path = Path.Combine(TempFolder.Create("portal-testssl-root"), "root.pem");
        // With its final newline: testssl.sh concatenates this file with its CA bundles, and a PEM block without one
        // spoils the bundle (openssl verify then cannot load it, and testssl.sh reads the silence as "Chain of trust Ok").
        File.WriteAllText(path, s_root.ExportCertificatePem() + "\n");
        return path;
    }

    /// <summary>testssl.sh's findings by id.</summary>
    private sealed record Verdicts(Dictionary<string, (string Severity, string Finding)> Entries)
    {
        public bool Has(string id) => Entries.ContainsKey(id);

        /// <summary>Whether a protocol is offered; null when testssl.sh did not say.</summary>
        public bool? Offered(string id) => Entries.TryGetValue(id, out var e)
            ? e.Finding.StartsWith("offered", StringComparison.Ordinal) ? true : e.Finding.StartsWith("not offered", StringComparison.Ordinal) ? false : null
            : null;

        /// <summary>Flagged as a weakness (MEDIUM or worse).</summary>
        public bool? Flagged(string id) => Entries.TryGetValue(id, out var e) ? e.Severity is "MEDIUM" or "HIGH" or "CRITICAL" : null;

        public bool? Ok(string id) => Entries.TryGetValue(id, out var e) ? e.Severity is "OK" or "INFO" : null;

        public bool? Says(string id, string words) => Entries.TryGetValue(id, out var e) ? e.Finding.Contains(words, StringComparison.Ordinal) : null;

        public string Summary
        {
            get
            {
                var protocols = new[] { "TLS1", "TLS1_1", "TLS1_2", "TLS1_3" }.Where(id => Offered(id) == true);
                var flagged = new[] { "cert_keySize", "cert_signatureAlgorithm", "cert_mustStapleExtension", "cert_chain_of_trust", "cert_trust", "cert_expirationStatus" }
                    .Where(id => Entries.TryGetValue(id, out var e) && e.Severity is not ("OK" or "INFO"))
                    .Select(id => $"{id} {Entries[id].Severity} \"{Entries[id].Finding.TrimEnd('.', ' ')}\"");
                return string.Join(" ", protocols) + (flagged.Any() ? ", " + string.Join(", ", flagged) : Has("cert_chain_of_trust") ? ", certificate OK" : ", no certificate");
            }
        }
    }
}
