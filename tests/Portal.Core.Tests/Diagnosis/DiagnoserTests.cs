using System.Text.Json;
using Portal.Core.Diagnosis;
using Portal.Core.Tls;

namespace Portal.Core.Tests.Diagnosis;

public class DiagnoserTests
{
    private static Observation R(string step, string status, object? metrics = null, object? detail = null, string source = "client", string transport = "websockets") =>
        new(Guid.NewGuid(), step, status, source, transport, JsonSerializer.SerializeToElement(metrics ?? new { }), JsonSerializer.SerializeToElement(detail ?? new { }));

    /// <summary>What a healthy path reports: every step passes with good numbers.</summary>
    private static List<Observation> Clean() =>
    [
        R("env", "pass", new { clockSkewMs = 40, clockUncertaintyMs = 2 }, new { userAgent = "Chrome" }),
        R("server.connection", "pass", new { foreignProxyHeaders = 0, tls = 1, fingerprintFitsBrowser = 1 }, new { foreignProxyHeaders = Array.Empty<string>(), fingerprintFitsBrowser = true }, "server", "websockets"),
        R("http.ping", "pass", new { samples = 10, rttMedianMs = 12.5 }),
        R("ws.echo", "pass", new { openMs = 8, samples = 20, rttMedianMs = 3.1, closeCode = 1000 }),
        R("ws.messages", "pass", new { largestTextBytes = 1048576, largestBinaryBytes = 1048576 }),
        R("ws.close", "pass", new { clientCloseCode = 1000, serverCloseCode = 4000 }),
        R("http.download", "pass", new { mbps = 480.2 }),
        R("http.upload", "pass", new { mbps = 310 }),
        R("sse", "pass", new { events = 10, expected = 10, maxLagMs = 12, bursts = 0 }),
        R("longpoll", "pass", new { cycles = 3, overheadMedianMs = 4 }),
        R("http.cors", "pass", new { plainOk = 1, credentialedOk = 1 }),
        R("signalr.transports", "pass", new { working = 3, webSocketsMs = 40, serverSentEventsMs = 50, longPollingMs = 60 }, new { working = new[] { "webSockets", "serverSentEvents", "longPolling" }, errors = new { } }),
        R("ws.idle", "pass", new { idleSeconds = 30, survived = 1 }),
        R("ws.variants", "skipped"),
    ];

    private static List<Observation> CleanWith(params Observation[] replacements)
    {
        var run = Clean();
        foreach (var replacement in replacements)
        {
            run.RemoveAll(r => r.Step == replacement.Step && r.Source == replacement.Source);
            run.Add(replacement);
        }

        return run;
    }

    private static string[] Codes(IEnumerable<Observation> run, bool completed = true) =>
        [.. Diagnoser.Evaluate(run, completed).Select(f => f.Code)];

    private static Finding Single(IEnumerable<Observation> run, string code) =>
        Diagnoser.Evaluate(run, completed: true).Single(f => f.Code == code);

    [Fact]
    public void Evaluate_CleanCompletedRun_AllClearOnly()
    {
        var findings = Diagnoser.Evaluate(Clean(), completed: true);

        findings.Select(f => f.Code).ShouldBe([FindingCodes.AllClear]);
        findings[0].Severity.ShouldBe(Severity.Info);
        findings[0].Summary.ShouldContain("WebSocket echo 3.1 ms");
        findings[0].Summary.ShouldContain("download 480 Mbit/s");
        findings[0].Summary.ShouldContain("a quiet WebSocket survived 30 s");
        findings[0].Evidence.ShouldNotBeEmpty();
    }

    [Fact]
    public void Evaluate_CleanProbeRun_AllClearNamesWhatTheProbesSaw()
    {
        List<Observation> probes =
        [
            R("probe.dns", "pass", new { a = 1 }, new { target = "wss://app.example/hub" }, "server", "probe"),
            R("probe.ws", "pass", new { status = 101, upgraded = 1, upgradeMs = 12.5, echoMs = 3.4 }, new { target = "wss://app.example/hub" }, "server", "probe"),
            R("probe.http", "pass", new { status = 200, ttfbMs = 40 }, new { target = "https://app.example/" }, "server", "probe"),
        ];

        var findings = Diagnoser.Evaluate(probes, completed: true);

        findings.Select(f => f.Code).ShouldBe([FindingCodes.AllClear]);
        findings[0].Summary.ShouldBe("Nothing wrong found in 3 checks: the WebSocket upgrade to wss://app.example/hub works (echo 3.4 ms) and https://app.example/ answers HTTP 200.");
        findings[0].Evidence.Select(e => e.Step).ShouldBe(["probe.ws", "probe.http"]);
    }

    [Fact]
    public void Evaluate_CleanRunStillRunning_NoFindingYet()
    {
        Codes(Clean(), completed: false).ShouldBeEmpty();
    }

    [Fact]
    public void Evaluate_NoResults_NoFindings()
    {
        Codes([], completed: true).ShouldBeEmpty();
    }

    [Fact]
    public void Evaluate_WarnWithoutRule_NoAllClear()
    {
        var run = CleanWith(R("ws.close", "warn", new { clientCloseCode = 1000, serverCloseCode = 1006 }));

        Codes(run).ShouldBeEmpty();
    }

    [Fact]
    public void All_DesignCatalogue_EveryCodeKnown()
    {
        string[] catalogue =
        [
            "websocket-blocked", "websocket-killed-after-open", "idle-timeout", "proxy-detected", "tls-interception-suspected",
            "upgrade-headers-stripped", "sni-required", "tls-handshake-stalled", "certificate-problem", "sse-buffered",
            "large-message-dropped", "cors-credentials-blocked", "clock-skew", "slow-network", "all-clear",
        ];

        catalogue.ShouldBeSubsetOf(FindingCodes.All);
    }

    // websocket-blocked

    private static Observation EchoNeverOpened(string transport = "longpolling") =>
        R("ws.echo", "fail", new { openMs = (double?)null, samples = 0, closeCode = 1006 }, new { error = "closed before it opened" }, transport: transport);

    private static Observation HubWithoutWebSockets() =>
        R("signalr.transports", "warn", new { working = 2, webSocketsMs = (double?)null }, new { working = new[] { "serverSentEvents", "longPolling" }, errors = new { webSockets = "WebSocket failed to connect." } }, transport: "longpolling");

    [Fact]
    public void Evaluate_WebSocketNeverOpensWhileFallbackWorks_WebSocketBlocked()
    {
        var run = CleanWith(EchoNeverOpened(), HubWithoutWebSockets(), R("ws.idle", "fail", new { idleSeconds = 30 }, transport: "longpolling"),
            R("ws.messages", "fail", new { largestTextBytes = 0, largestBinaryBytes = 0 }, transport: "longpolling"),
            R("ws.close", "fail", new { closeCode = 1006 }, transport: "longpolling"));

        var finding = Single(run, FindingCodes.WebSocketBlocked);

        finding.Severity.ShouldBe(Severity.Critical);
        finding.Summary.ShouldContain("close code 1006");
        finding.Evidence.Select(e => e.Step).ShouldContain("ws.echo");
        finding.Recommendation.ShouldContain("Upgrade");
        Codes(run).ShouldNotContain(FindingCodes.AllClear);
    }

    [Fact]
    public void Evaluate_WebSocketNeverOpensAndNoFallbackWorks_NotWebSocketBlocked()
    {
        var run = new List<Observation>
        {
            EchoNeverOpened(transport: "http"),
            R("signalr.transports", "fail", new { working = 0 }, new { working = Array.Empty<string>(), errors = new { webSockets = "x", serverSentEvents = "y", longPolling = "z" } }, transport: "http"),
            R("sse", "fail", new { events = 0, expected = 10 }, transport: "http"),
            R("longpoll", "error", transport: "http"),
        };

        Codes(run).ShouldNotContain(FindingCodes.WebSocketBlocked);
        Codes(run).ShouldContain(FindingCodes.StepFailed);
    }

    [Fact]
    public void Evaluate_WebSocketOpenedThenFailed_NotWebSocketBlocked()
    {
        var run = CleanWith(R("ws.echo", "fail", new { openMs = 12, samples = 0, closeCode = 1006 }));

        Codes(run).ShouldNotContain(FindingCodes.WebSocketBlocked);
    }

    // websocket-killed-after-open

    [Fact]
    public void Evaluate_WebSocketOpensThenDies_KilledAfterOpen()
    {
        var run = CleanWith(R("ws.echo", "fail", new { openMs = 12, samples = 1, closeCode = 1006 }, new { error = "closed during the echo (code 1006)" }, transport: "longpolling"));

        var finding = Single(run, FindingCodes.WebSocketKilledAfterOpen);

        finding.Evidence.Single().Figures["closeCode"].ShouldBe(1006.0);
        finding.Recommendation.ShouldContain("TLS inspection");
    }

    [Fact]
    public void Evaluate_IdleSocketDiesWithinSeconds_KilledAfterOpenNotIdleTimeout()
    {
        var run = CleanWith(R("ws.idle", "fail", new { idleSeconds = 30, survived = 0, diedAfterSeconds = 2, closeCode = 1006 }));

        Codes(run).ShouldContain(FindingCodes.WebSocketKilledAfterOpen);
        Codes(run).ShouldNotContain(FindingCodes.IdleTimeout);
    }

    [Fact]
    public void Evaluate_EchoCompletedButCloseCodeOdd_NotKilledAfterOpen()
    {
        var run = CleanWith(R("ws.echo", "warn", new { openMs = 12, samples = 20, rttMedianMs = 3, closeCode = 1005 }));

        Codes(run).ShouldNotContain(FindingCodes.WebSocketKilledAfterOpen);
    }

    // idle-timeout

    [Theory]
    [InlineData(60.4, 60, 30)]
    [InlineData(6, 6, 3)]
    [InlineData(3.2 + 2, 5, 2)]
    public void Evaluate_QuietSocketCut_IdleTimeoutWithSecondsAndKeepAlive(double diedAfter, int reported, int keepAlive)
    {
        var run = CleanWith(R("ws.idle", "fail", new { idleSeconds = 90, survived = 0, diedAfterSeconds = diedAfter, closeCode = 1006 }));

        var finding = Single(run, FindingCodes.IdleTimeout);

        finding.Summary.ShouldContain($"after about {reported} s");
        finding.Recommendation.ShouldContain("proxy_read_timeout");
        finding.Recommendation.ShouldContain("timeout tunnel");
        finding.Recommendation.ShouldContain("pipe_timeout");
        finding.Recommendation.ShouldContain($"every {keepAlive} s, below the measured {reported} s");
    }

    [Fact]
    public void Evaluate_ProbeIdleCut_IdleTimeoutNamesTheTarget()
    {
        var run = CleanWith(R("probe.ws.idle", "fail", new { idleSeconds = 20, survived = 0, diedAfterSeconds = 3.0 + 8 }, new { target = "wss://app.example/ws" }, "server", "probe"));

        var finding = Single(run, FindingCodes.IdleTimeout);

        finding.Summary.ShouldContain("wss://app.example/ws");
        finding.Summary.ShouldContain("after about 11 s");
    }

    [Fact]
    public void Evaluate_QuietSocketSurvived_NoIdleTimeout()
    {
        Codes(Clean()).ShouldNotContain(FindingCodes.IdleTimeout);
    }

    [Fact]
    public void Evaluate_IdleStepNeverOpened_NoIdleTimeout()
    {
        var run = CleanWith(R("ws.idle", "fail", new { idleSeconds = 30, closeCode = 1006 }, new { error = "closed before it opened" }));

        Codes(run).ShouldNotContain(FindingCodes.IdleTimeout);
    }

    // proxy-detected

    [Fact]
    public void Evaluate_ForeignProxyHeaders_ProxyDetected()
    {
        var run = CleanWith(R("server.connection", "warn", new { foreignProxyHeaders = 2 }, new { foreignProxyHeaders = new[] { "Via", "X-Forwarded-For" }, transport = "websockets" }, "server"));

        var finding = Single(run, FindingCodes.ProxyDetected);

        finding.Summary.ShouldContain("Via and X-Forwarded-For");
        finding.Severity.ShouldBe(Severity.Info);
        Codes(run).ShouldNotContain(FindingCodes.AllClear);
    }

    [Fact]
    public void Evaluate_OnlyTrustedProxyHeaders_NoProxyDetected()
    {
        var run = CleanWith(R("server.connection", "pass", new { foreignProxyHeaders = 0 }, new { foreignProxyHeaders = Array.Empty<string>(), proxyHeaders = new Dictionary<string, string> { ["X-Forwarded-For"] = "203.0.113.9" }, viaTrustedProxy = true }, "server"));

        Codes(run).ShouldBe([FindingCodes.AllClear]);
    }

    // tls-interception-suspected

    [Fact]
    public void Evaluate_FingerprintDoesNotFitBrowser_TlsInterceptionSuspected()
    {
        var run = CleanWith(R("server.connection", "warn", new { fingerprintFitsBrowser = 0 }, new
        {
            foreignProxyHeaders = Array.Empty<string>(),
            fingerprintFitsBrowser = false,
            browserFamily = "Chromium",
            expectedTlsStack = "BoringSSL",
            observedTlsStack = (string?)null,
            ja4 = "t13d3112h2_e8f1e7e78f70_6bebaf5329ac",
            serverName = "portal.example",
        }, "server"));

        var finding = Single(run, FindingCodes.TlsInterceptionSuspected);

        finding.Summary.ShouldContain("BoringSSL");
        finding.Recommendation.ShouldContain("portal.example");
        finding.Recommendation.ShouldContain("TLS-inspection policy");
        finding.Evidence.Single().Figures["ja4"].ShouldBe("t13d3112h2_e8f1e7e78f70_6bebaf5329ac");
    }

    [Fact]
    public void Evaluate_UnknownBrowser_NoTlsInterceptionSuspected()
    {
        var run = CleanWith(R("server.connection", "pass", new { fingerprintFitsBrowser = (int?)null }, new { foreignProxyHeaders = Array.Empty<string>(), fingerprintFitsBrowser = (bool?)null }, "server"));

        Codes(run).ShouldNotContain(FindingCodes.TlsInterceptionSuspected);
    }

    // upgrade-headers-stripped

    [Fact]
    public void Evaluate_UpgradeArrivedWithoutHeaders_UpgradeHeadersStripped()
    {
        var run = CleanWith(R("server.connection", "pass", new { upgradeHeadersPresent = 0 }, new { foreignProxyHeaders = Array.Empty<string>(), upgradeHeader = "", connectionHeader = "close" }, "server"));

        var finding = Single(run, FindingCodes.UpgradeHeadersStripped);

        finding.Severity.ShouldBe(Severity.Critical);
        finding.Recommendation.ShouldContain("proxy_set_header Upgrade $http_upgrade");
        finding.Recommendation.ShouldContain("vcl_pipe");
    }

    [Fact]
    public void Evaluate_EchoUpgradeArrivedAsPlainHttp_UpgradeHeadersStrippedAndWebSocketBlocked()
    {
        var run = CleanWith(
            R("ws.echo", "fail", new { openMs = (double?)null, closeCode = 1006, upgradeHeadersPresent = 0 }, new { arrivedAs = new { upgrade = "", connection = "close", httpProtocol = "HTTP/1.0" } }),
            R("signalr.transports", "warn", new { working = 2 }, new { working = new[] { "serverSentEvents", "longPolling" }, errors = new { webSockets = "failed" } }));

        var finding = Single(run, FindingCodes.UpgradeHeadersStripped);

        finding.Evidence.ShouldContain(e => e.Step == "ws.echo" && (string?)e.Figures["httpProtocol"] == "HTTP/1.0" && (string?)e.Figures["connection"] == "close");
        Codes(run).ShouldContain(FindingCodes.WebSocketBlocked);
    }

    [Fact]
    public void Evaluate_EchoNeverOpenedNoRecordOfItArriving_NoUpgradeHeadersStripped()
    {
        // Blocked before the portal (a firewall): nothing arrived, so nothing says the headers were stripped.
        var run = CleanWith(R("ws.echo", "fail", new { openMs = (double?)null, closeCode = 1006, upgradeHeadersPresent = (double?)null }));

        Codes(run).ShouldNotContain(FindingCodes.UpgradeHeadersStripped);
        Codes(run).ShouldContain(FindingCodes.WebSocketBlocked);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(426)]
    [InlineData(200)]
    public void Evaluate_TargetAnswersWithout101_UpgradeHeadersStripped(int status)
    {
        var run = CleanWith(R("probe.ws", "fail", new { status, upgraded = 0 }, new { target = "wss://app.example/hub" }, "server", "probe"));

        var finding = Single(run, FindingCodes.UpgradeHeadersStripped);

        finding.Summary.ShouldContain($"HTTP {status} instead of 101");
    }

    [Fact]
    public void Evaluate_TargetRedirectsTheUpgrade_SaysItMayNotBeAWebSocketEndpoint()
    {
        var run = CleanWith(R("probe.ws", "fail", new { status = 302, upgraded = 0 }, new { target = "wss://app.example/hub", location = "https://app.example/login" }, "server", "probe"));

        var finding = Single(run, FindingCodes.UpgradeHeadersStripped);

        finding.Summary.ShouldBe("wss://app.example/hub answered the WebSocket upgrade with HTTP 302 instead of 101, a redirect to https://app.example/login: a proxy in front of it does not pass the upgrade, or this URL is not a WebSocket endpoint.");
        finding.Recommendation.ShouldContain("without a login redirect");
    }

    [Fact]
    public void Evaluate_UpgradeSeenStrippedAtThePortal_BlamesAProxyOnly()
    {
        var run = CleanWith(R("server.connection", "pass", new { upgradeHeadersPresent = 0 }, new { foreignProxyHeaders = Array.Empty<string>(), upgradeHeader = "", connectionHeader = "close" }, "server"));

        var finding = Single(run, FindingCodes.UpgradeHeadersStripped);

        finding.Summary.ShouldStartWith("A proxy on the way does not pass WebSocket upgrades");
        finding.Summary.ShouldNotContain("not a WebSocket endpoint");
        finding.Recommendation.ShouldNotContain("login redirect");
    }

    [Fact]
    public void Evaluate_TargetUpgradesOrIsUnreachable_NoUpgradeHeadersStripped()
    {
        var run = CleanWith(
            R("probe.ws", "pass", new { status = 101, upgraded = 1 }, new { target = "wss://a.example" }, "server", "probe"),
            R("server.connection", "pass", new { upgradeHeadersPresent = 1 }, new { foreignProxyHeaders = Array.Empty<string>() }, "server"));
        var unreachable = CleanWith(R("probe.ws", "fail", new { upgraded = 0 }, new { target = "wss://b.example", error = "connection refused" }, "server", "probe"));

        Codes(run).ShouldBe([FindingCodes.AllClear]);
        Codes(unreachable).ShouldNotContain(FindingCodes.UpgradeHeadersStripped);
        Codes(unreachable).ShouldContain(FindingCodes.StepFailed);
    }

    // sni-required, tls-handshake-stalled, certificate-problem

    private static Observation Tls(object metrics, string[]? problems = null) =>
        R("probe.tls", problems is { Length: > 0 } || metrics.GetType().GetProperty("sniOk")!.GetValue(metrics) is 0 ? "fail" : "pass", metrics,
            new { target = "https://app.example", certificateProblems = problems ?? [] }, "server", "probe");

    [Fact]
    public void Evaluate_TlsWorksOnlyWithSni_SniRequired()
    {
        var run = CleanWith(Tls(new { sniOk = 1, noSniOk = 0, sniRequired = 1, stalled = 0 }));

        var finding = Single(run, FindingCodes.SniRequired);

        finding.Summary.ShouldContain("https://app.example");
        finding.Recommendation.ShouldContain("send SNI");
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(0, 0)]
    public void Evaluate_TlsSameWithAndWithoutSni_NoSniRequired(int sniOk, int noSniOk)
    {
        var run = CleanWith(Tls(new { sniOk, noSniOk, sniRequired = 0, stalled = 0 }));

        Codes(run).ShouldNotContain(FindingCodes.SniRequired);
    }

    [Fact]
    public void Evaluate_TcpConnectsButTlsNeverCompletes_TlsHandshakeStalled()
    {
        var run = CleanWith(Tls(new { sniOk = 0, noSniOk = 0, sniRequired = 0, stalled = 1 }));

        var finding = Single(run, FindingCodes.TlsHandshakeStalled);

        finding.Severity.ShouldBe(Severity.Critical);
        finding.Recommendation.ShouldContain("health checks");
    }

    [Fact]
    public void Evaluate_TlsRefusedQuickly_NotStalled()
    {
        var run = CleanWith(Tls(new { sniOk = 0, noSniOk = 0, sniRequired = 0, stalled = 0 }));

        Codes(run).ShouldNotContain(FindingCodes.TlsHandshakeStalled);
        Codes(run).ShouldContain(FindingCodes.StepFailed);
    }

    [Theory]
    [InlineData("expired", "has expired", "renew the certificate")]
    [InlineData("self-signed", "self-signed", "CA the clients trust")]
    [InlineData("untrusted-root", "root certificate the portal does not trust", "install the private root")]
    [InlineData("incomplete-chain", "without its intermediate", "send the intermediate")]
    [InlineData("name-mismatch", "not issued for the host name", "subject alternative names")]
    [InlineData("not-yet-valid", "not valid yet", "start date")]
    [InlineData("weak-key", "RSA below 2048 bits", "2048 bits or more")]
    [InlineData("weak-signature", "SHA-1", "SHA-256")]
    [InlineData("must-staple-not-stapled", "Firefox refuses", "ssl_stapling on")]
    [InlineData("key-usage", "key usage does not allow", "digitalSignature")]
    [InlineData("extended-key-usage", "TLS server authentication", "serverAuth")]
    [InlineData("validity-too-long", "398 days", "at most 398 days")]
    public void Evaluate_CertificateProblem_NamesTargetProblemAndFix(string problem, string meaning, string fix)
    {
        var run = CleanWith(Tls(new { sniOk = 1, noSniOk = 1, sniRequired = 0, stalled = 0, certificateValid = 0 }, [problem]));

        var finding = Single(run, FindingCodes.CertificateProblem);

        finding.Summary.ShouldStartWith("The certificate of https://app.example: ");
        finding.Summary.ShouldContain(meaning);
        finding.Recommendation.ShouldContain(fix);
        Codes(run).ShouldNotContain(FindingCodes.StepFailed);
    }

    [Theory]
    [InlineData(1, "browsers that fetch complete the chain")]
    [InlineData(0, "no client completes the chain")]
    public void Evaluate_IncompleteChain_SaysWhetherFetchingTheIssuerRescuesIt(int aiaRescues, string words)
    {
        var run = CleanWith(R("probe.tls", "warn", new { sniOk = 1, noSniOk = 1, sniRequired = 0, stalled = 0, certificateValid = 0, aiaRescues },
            new { target = "https://app.example", certificateProblems = new[] { "incomplete-chain" } }, "server", "probe"));

        Single(run, FindingCodes.CertificateProblem).Summary.ShouldContain(words);
    }

    [Fact]
    public void Evaluate_EveryCertificateProblem_HasItsOwnMeaningAndFix()
    {
        CertificateProblems.All.Select(CertificateProblems.Meaning).Distinct().Count().ShouldBe(CertificateProblems.All.Count);
        CertificateProblems.All.Select(CertificateProblems.Fix).Distinct().Count().ShouldBe(CertificateProblems.All.Count);
    }

    // tls-obsolete, tls-legacy-offered

    [Fact]
    public void Evaluate_ServerSpeaksOnlyTls10And11_TlsObsoleteNamesTargetAndBrowsers()
    {
        var run = CleanWith(R("probe.tls", "fail", new { sniOk = 0, noSniOk = 0, stalled = 0, tls10 = 1, tls11 = 1, tls12 = 0, tls13 = 0, browsersConnect = 0, obsoleteOffered = 2 },
            new { target = "https://legacy.example", outcome = "tls-obsolete-protocol", protocols = new[] { "TLSv1.0", "TLSv1.1" }, obsolete = new[] { "TLSv1.0", "TLSv1.1" }, certificateProblems = Array.Empty<string>() }, "server", "probe"));

        var finding = Single(run, FindingCodes.TlsObsolete);

        finding.Severity.ShouldBe(Severity.Critical);
        finding.Summary.ShouldBe("https://legacy.example speaks only TLSv1.0 and TLSv1.1: Chrome, Firefox, Edge and Safari refuse it, as do current Java, .NET, Python and curl builds (TLS 1.2 is the oldest version they accept).");
        finding.Recommendation.ShouldContain("ssl_protocols TLSv1.2 TLSv1.3");
        Codes(run).ShouldNotContain(FindingCodes.StepFailed);
        Codes(run).ShouldNotContain(FindingCodes.TlsLegacyOffered);
    }

    [Fact]
    public void Evaluate_ServerAlsoAcceptsTls10ButBrowsersConnect_RemarkBesideAllClear()
    {
        var run = CleanWith(R("probe.tls", "pass", new { sniOk = 1, noSniOk = 1, stalled = 0, sniRequired = 0, certificateValid = 1, handshakeMs = 20, tls10 = 1, tls12 = 1, browsersConnect = 1, obsoleteOffered = 2 },
            new { target = "https://app.example", outcome = "ok", obsolete = new[] { "TLSv1.0", "3des" }, certificateProblems = Array.Empty<string>() }, "server", "probe"));

        var findings = Diagnoser.Evaluate(run, completed: true);

        findings.Select(f => f.Code).ShouldBe([FindingCodes.TlsLegacyOffered, FindingCodes.AllClear], ignoreOrder: true);
        findings.Single(f => f.Code == FindingCodes.TlsLegacyOffered).Summary.ShouldBe(
            "https://app.example still accepts TLSv1.0 and 3des beside what browsers use; browsers connect with something better, so customers are not affected.");
    }

    [Fact]
    public void Evaluate_UnexplainedProbeFailures_StepFailedNamesEachTarget()
    {
        var run = Clean();
        run.AddRange([
            R("probe.tls", "fail", new { sniOk = 0, noSniOk = 0, stalled = 0 }, new { target = "https://a.example", outcome = "tls-failed", summary = "The TLS handshake failed." }, "server", "probe"),
            R("probe.tls", "fail", new { sniOk = 0, noSniOk = 0, stalled = 0 }, new { target = "https://b.example", outcome = "tls-failed", summary = "The TLS handshake failed." }, "server", "probe")]);

        Single(run, FindingCodes.StepFailed).Summary.ShouldStartWith("probe.tls of https://a.example and probe.tls of https://b.example failed");
    }

    [Fact]
    public void Evaluate_ValidCertificate_NoCertificateProblem()
    {
        var run = CleanWith(Tls(new { sniOk = 1, noSniOk = 1, sniRequired = 0, stalled = 0, certificateValid = 1, handshakeMs = 20, certificateDaysLeft = 80 }));

        Codes(run).ShouldBe([FindingCodes.AllClear]);
    }

    // sse-buffered

    [Theory]
    [InlineData(40, 3)]
    [InlineData(900, 0)]
    public void Evaluate_SseLateOrBursty_SseBuffered(double maxLagMs, int bursts)
    {
        var run = CleanWith(R("sse", "warn", new { events = 10, expected = 10, maxLagMs, bursts }));

        Codes(run).ShouldContain(FindingCodes.SseBuffered);
        Single(run, FindingCodes.SseBuffered).Recommendation.ShouldContain("proxy_buffering off");
    }

    [Theory]
    [InlineData(500, 2)]
    [InlineData(20, 0)]
    public void Evaluate_SseSteady_NoSseBuffered(double maxLagMs, int bursts)
    {
        var run = CleanWith(R("sse", "pass", new { events = 10, expected = 10, maxLagMs, bursts }));

        Codes(run).ShouldNotContain(FindingCodes.SseBuffered);
    }

    // large-message-dropped

    [Theory]
    [InlineData(1024, 1024, "1 KiB")]
    [InlineData(65536, 1048576, "64 KiB")]
    public void Evaluate_LargeMessagesLost_LargeMessageDropped(int text, int binary, string limit)
    {
        var run = CleanWith(R("ws.messages", "warn", new { largestTextBytes = text, largestBinaryBytes = binary }));

        var finding = Single(run, FindingCodes.LargeMessageDropped);

        finding.Recommendation.ShouldContain($"above {limit}");
    }

    [Theory]
    [InlineData(1048576, 1048576)]
    [InlineData(0, 0)]
    public void Evaluate_AllSizesOrNone_NoLargeMessageDropped(int text, int binary)
    {
        var run = CleanWith(R("ws.messages", text == 0 ? "fail" : "pass", new { largestTextBytes = text, largestBinaryBytes = binary }));

        Codes(run).ShouldNotContain(FindingCodes.LargeMessageDropped);
    }

    // cors-credentials-blocked

    [Fact]
    public void Evaluate_CredentialedCorsFails_CorsCredentialsBlocked()
    {
        var run = CleanWith(R("http.cors", "fail", new { plainOk = 1, credentialedOk = 0 }, new { origin = "http://127.0.0.2:5000", credentialedError = "Failed to fetch" }));

        var finding = Single(run, FindingCodes.CorsCredentialsBlocked);

        finding.Recommendation.ShouldContain("Access-Control-Allow-Credentials: true");
        Codes(run).ShouldNotContain(FindingCodes.StepFailed);
    }

    [Fact]
    public void Evaluate_AllCorsFails_NoCorsCredentialsBlocked()
    {
        var run = CleanWith(R("http.cors", "fail", new { plainOk = 0, credentialedOk = 0 }));

        Codes(run).ShouldNotContain(FindingCodes.CorsCredentialsBlocked);
    }

    // clock-skew

    [Theory]
    [InlineData(121_000, "121 s ahead")]
    [InlineData(-3_600_000, "3600 s behind")]
    public void Evaluate_ClockOffByMinutes_ClockSkew(double skewMs, string text)
    {
        var run = CleanWith(R("env", "warn", new { clockSkewMs = skewMs, clockUncertaintyMs = 3 }));

        Single(run, FindingCodes.ClockSkew).Summary.ShouldContain(text);
    }

    [Theory]
    [InlineData(119_000)]
    [InlineData(-120_000)]
    public void Evaluate_ClockWithinTwoMinutes_NoClockSkew(double skewMs)
    {
        var run = CleanWith(R("env", "pass", new { clockSkewMs = skewMs }));

        Codes(run).ShouldNotContain(FindingCodes.ClockSkew);
    }

    // slow-network

    [Fact]
    public void Evaluate_HighRoundTrip_SlowNetwork()
    {
        var run = CleanWith(R("http.ping", "pass", new { rttMedianMs = 450 }));

        Single(run, FindingCodes.SlowNetwork).Summary.ShouldContain("round trip 450 ms");
    }

    [Fact]
    public void Evaluate_LowThroughput_SlowNetwork()
    {
        var run = CleanWith(R("http.download", "pass", new { mbps = 0.6 }));

        Single(run, FindingCodes.SlowNetwork).Summary.ShouldContain("download 0.6 Mbit/s");
    }

    [Fact]
    public void Evaluate_Loss_SlowNetwork()
    {
        var run = CleanWith(R("http.ping", "pass", new { rttMedianMs = 20, lossPercent = 5 }));

        Single(run, FindingCodes.SlowNetwork).Summary.ShouldContain("5 % loss");
    }

    [Fact]
    public void Evaluate_JustInsideTheLimits_NoSlowNetwork()
    {
        var run = CleanWith(
            R("http.ping", "pass", new { rttMedianMs = 299, lossPercent = 2 }),
            R("ws.echo", "pass", new { openMs = 300, samples = 20, rttMedianMs = 300, closeCode = 1000 }),
            R("http.download", "pass", new { mbps = 1.0 }),
            R("http.upload", "pass", new { mbps = 1.1 }));

        Codes(run).ShouldBe([FindingCodes.AllClear]);
    }

    // step-failed and order

    [Fact]
    public void Evaluate_BlockedProbeTarget_StepFailedNamesIt()
    {
        var run = CleanWith(R("probe.target", "blocked", new { blocked = 1 }, new { target = "http://10.0.0.1", summary = "10.0.0.1 is a private address." }, "server", "probe"));

        var finding = Single(run, FindingCodes.StepFailed);

        finding.Summary.ShouldContain("private address");
    }

    [Fact]
    public void Evaluate_SeveralFindings_MostSeriousFirst()
    {
        var run = CleanWith(
            R("env", "warn", new { clockSkewMs = 600_000 }),
            R("server.connection", "warn", new { foreignProxyHeaders = 1 }, new { foreignProxyHeaders = new[] { "Via" } }, "server"),
            EchoNeverOpened(),
            HubWithoutWebSockets());

        var severities = Diagnoser.Evaluate(run, completed: true).Select(f => Severity.Rank(f.Severity)).ToList();

        severities.ShouldBe(severities.Order().ToList());
        severities[0].ShouldBe(0);
    }

    private static Observation Connection(string[] problems, string[]? foreign = null) =>
        R("server.connection", foreign is { Length: > 0 } ? "warn" : "pass", new { foreignProxyHeaders = foreign?.Length ?? 0, frontProxy = 1 },
            new { foreignProxyHeaders = foreign ?? [], frontProxy = true, deploymentProblems = problems, pageOrigin = "http://127.0.0.1:8081", host = "127.0.0.1", peerAddress = "127.0.0.1", frontProxyHeaders = new[] { "X-Forwarded-For" } }, "server");

    [Fact]
    public void Evaluate_HostRewrittenByTheFrontProxy_PortalDeploymentNamesTheFixAndCustomerStillAllClear()
    {
        var run = CleanWith(Connection([DeploymentProblems.HostRewritten, DeploymentProblems.UntrustedProxy]));

        var findings = Diagnoser.Evaluate(run, completed: true);

        findings.Select(f => f.Code).ShouldBe([FindingCodes.PortalDeployment, FindingCodes.AllClear], ignoreOrder: true);
        var deployment = findings.Single(f => f.Code == FindingCodes.PortalDeployment);
        deployment.Summary.ShouldContain("not the customer's network");
        deployment.Recommendation.ShouldContain("proxy_set_header Host $http_host");
        deployment.Recommendation.ShouldContain("Portal__TrustedProxies__0=127.0.0.1");
        FindingCodes.IsAboutPortal(deployment.Code).ShouldBeTrue();
    }

    private static Observation Refusal(string reason, int status, string what) =>
        R("server.refusal", "fail", new { status }, new { reason, summary = "The portal refused: " + what, transport = "http" }, "server", "http");

    [Fact]
    public void Evaluate_PortalRefusedMessagesOfACompletedRun_PortalRefusedAboutThePortalAndNotAllClear()
    {
        var run = CleanWith(Refusal(Portal.Core.Results.RefusalReasons.LinkBudget, 429, "too many messages for this link (the limit is 300 a minute)"));

        var findings = Diagnoser.Evaluate(run, completed: true);

        // Results are missing: the customer's side cannot be called all clear, and nothing is blamed on their network.
        findings.Select(f => f.Code).ShouldBe([FindingCodes.PortalRefused]);
        FindingCodes.IsAboutPortal(findings[0].Code).ShouldBeTrue();
        findings[0].Summary.ShouldContain("too many messages for this link");
        findings[0].Summary.ShouldContain("none of this is the customer's network");
        findings[0].Recommendation.ShouldContain("Portal__Limits__MessagesPerMinutePerLink");
    }

    [Fact]
    public void Evaluate_StepFailedOnThePortalsOwnRefusal_ExplainedByPortalRefusedNotStepFailed()
    {
        var upload = R("http.upload", "fail", new { mbps = 0 }, new { error = "TypeError: Failed to fetch", unexpected = new { status = 429, contentType = "application/problem+json", body = "{\"title\":\"Too many messages for this link.\"}" } });
        var run = CleanWith(upload, Refusal(Portal.Core.Results.RefusalReasons.LinkBudget, 429, "too many messages for this link"));

        var findings = Diagnoser.Evaluate(run, completed: true);

        findings.Select(f => f.Code).ShouldBe([FindingCodes.PortalRefused]);
        findings[0].Evidence.Select(e => e.Step).ShouldBe(["server.refusal", "http.upload"]);
    }

    [Fact]
    public void Evaluate_ExpiredLinkAndTooLargeRefusals_EachReasonsFixOnce()
    {
        List<Observation> run =
        [
            .. Clean(),
            Refusal(Portal.Core.Results.RefusalReasons.LinkExpired, 401, "the link expired while the customer's page was open"),
            R("server.refusal", "fail", new { status = 413 }, new { reason = Portal.Core.Results.RefusalReasons.TooLarge, summary = "The portal refused: a message larger than 65536 bytes", transport = "hub" }, "server", "hub"),
        ];

        var finding = Single(run, FindingCodes.PortalRefused);

        finding.Summary.ShouldContain("the link expired while the customer's page was open");
        finding.Summary.ShouldContain("a message larger than 65536 bytes");
        finding.Recommendation.ShouldContain("Send the customer a new link");
        finding.Recommendation.ShouldContain("a fault of the test kit");
    }

    [Fact]
    public void Evaluate_EchoBelowTheBrowsersClockResolution_AllClearSaysUnderNotZero()
    {
        // Firefox and WebKit coarsen the page's clock to 1 ms: a loopback echo reads 0 there.
        var run = CleanWith(
            R("env", "pass", new { clockSkewMs = 40, clockUncertaintyMs = 2, timerResolutionMs = 1 }, new { userAgent = "Firefox" }),
            R("ws.echo", "pass", new { openMs = 2, samples = 20, rttMedianMs = 0, closeCode = 1000 }));

        var summary = Single(run, FindingCodes.AllClear).Summary;

        summary.ShouldContain("WebSocket echo under 1 ms");
        summary.ShouldNotContain("echo 0 ms");
    }

    [Fact]
    public void Evaluate_DeploymentCheckUploadRefusedByNginx_RequestBodyLimitedNamingIt()
    {
        List<Observation> run =
        [
            R("probe.http", "pass", new { status = 200 }, new { target = "http://portal.example/" }, "server", "probe"),
            R("probe.upload", "fail", new { status = 413, bytes = 2097152 }, new { target = "http://portal.example/", headers = new { Server = "nginx/1.22.1" }, body = "<html><head><title>413 Request Entity Too Large</title>" }, "server", "probe"),
        ];

        var findings = Diagnoser.Evaluate(run, completed: true);

        findings.Select(f => f.Code).ShouldBe([FindingCodes.RequestBodyLimited]);
        findings[0].Summary.ShouldContain("2 MiB upload through the portal's public origin was refused (HTTP 413, answered by nginx");
        findings[0].Recommendation.ShouldContain("client_max_body_size");
    }

    [Fact]
    public void Evaluate_DeploymentCheckAllFine_AllClearNamesTheSseAndUploadPaths()
    {
        List<Observation> run =
        [
            R("probe.sse", "pass", new { status = 200, firstEventMs = 15.2, maxLagMs = 20.5, events = 10, expected = 10, bursts = 0 }, new { target = "http://portal.example/" }, "server", "probe"),
            R("probe.upload", "pass", new { status = 200, bytes = 2097152, ms = 16 }, new { target = "http://portal.example/" }, "server", "probe"),
        ];

        var summary = Single(run, FindingCodes.AllClear).Summary;

        summary.ShouldContain("Server-Sent Events arrive unbuffered (first after 15.2 ms)");
        summary.ShouldContain("a 2 MiB upload passes");
    }

    [Fact]
    public void Evaluate_DeploymentCheckSseLate_SseBuffered()
    {
        List<Observation> run =
        [
            R("probe.sse", "warn", new { status = 200, firstEventMs = 950, maxLagMs = 950, events = 10, expected = 10, bursts = 9 }, new { target = "http://portal.example/" }, "server", "probe"),
            R("probe.upload", "pass", new { status = 200, bytes = 2097152 }, new { target = "http://portal.example/" }, "server", "probe"),
        ];

        Codes(run).ShouldBe([FindingCodes.SseBuffered]);
    }

    /// <summary>What nginx as Debian installs it (proxy_pass only: HTTP/1.0, no Upgrade) does to every WebSocket step.</summary>
    private static Observation[] UpgradeStripped() =>
    [
        R("ws.echo", "fail", new { closeCode = 1006, samples = 0, upgradeHeadersPresent = 0 }, new { error = "closed before it opened", arrivedAs = new { upgrade = "", connection = "close", httpProtocol = "HTTP/1.0" } }),
        R("ws.messages", "fail", new { largestTextBytes = 0, largestBinaryBytes = 0 }, new { failed = new[] { "text 1 KiB: closed before it opened" } }),
        R("ws.close", "fail", new { closeCode = 1006 }, new { error = "closed before it opened" }),
        R("ws.idle", "fail", new { closeCode = 1006, idleSeconds = 8 }, new { error = "closed before it opened" }),
        R("signalr.transports", "warn", new { working = 2 }, new { working = new[] { "serverSentEvents", "longPolling" }, errors = new { webSockets = "failed" } }),
    ];

    [Fact]
    public void Evaluate_UpgradeStrippedByAnUnconfiguredFrontProxy_PortalDeploymentOnlyNothingOnTheCustomer()
    {
        var run = CleanWith([Connection([DeploymentProblems.HostRewritten, DeploymentProblems.ClientAddressHidden]), .. UpgradeStripped()]);

        var findings = Diagnoser.Evaluate(run, completed: true);

        // Not websocket-blocked ("the customer's network blocks"), not upgrade-headers-stripped, not step-failed.
        findings.Select(f => f.Code).ShouldBe([FindingCodes.PortalDeployment]);
        var deployment = findings[0];
        deployment.Summary.ShouldContain("does not pass WebSocket upgrades");
        deployment.Summary.ShouldContain("every customer appears to come from 127.0.0.1");
        deployment.Recommendation.ShouldStartWith("Forward the upgrade at that proxy (nginx: proxy_http_version 1.1;");
        deployment.Recommendation.ShouldContain("option forwardfor");
        deployment.Evidence.Select(e => e.Step).ShouldBe(["server.connection", "ws.echo", "ws.messages", "ws.close", "ws.idle"], ignoreOrder: true);
    }

    [Fact]
    public void Evaluate_UpgradeStrippedBehindATrustedFrontProxy_WebSocketBlockedSaysEitherSide()
    {
        // An admin listed the proxy as trusted: the portal cannot tell its own proxy from the customer's.
        var run = CleanWith([Connection([]), .. UpgradeStripped()]);

        var codes = Codes(run);
        var blocked = Single(run, FindingCodes.WebSocketBlocked);

        codes.ShouldBe([FindingCodes.WebSocketBlocked, FindingCodes.UpgradeHeadersStripped], ignoreOrder: true);
        blocked.Summary.ShouldContain("a proxy on the customer's network, or the portal's own front proxy");
    }

    [Fact]
    public void Evaluate_SseBufferedThroughAnUnconfiguredFrontProxy_SaysItMayBeThePortalsProxy()
    {
        var run = CleanWith(Connection([DeploymentProblems.ClientAddressHidden]), R("sse", "warn", new { events = 10, expected = 10, maxLagMs = 1, bursts = 6, firstEventMs = 227 }));

        var findings = Diagnoser.Evaluate(run, completed: true);

        findings.Select(f => f.Code).ShouldBe([FindingCodes.SseBuffered, FindingCodes.PortalDeployment], ignoreOrder: true);
        findings.Single(f => f.Code == FindingCodes.SseBuffered).Summary.ShouldEndWith("this may be that proxy's doing rather than the customer's network.");
    }

    [Fact]
    public void Evaluate_FrontProxyWithoutProblems_NoPortalDeploymentNoProxyDetected()
    {
        var codes = Codes(CleanWith(Connection([])));

        codes.ShouldBe([FindingCodes.AllClear]);
    }

    [Fact]
    public void Evaluate_UploadRefusedAbove1MiBByNginx_RequestBodyLimitedBracketedNoStepFailed()
    {
        var run = CleanWith(R("http.upload", "warn",
            new { mbps = 250.6, bytes = 1_000_000, bodyLimitPassedBytes = 1_000_000, bodyLimitRefusedBytes = 1_100_000, refusedStatus = 413 },
            new { unexpected = new { path = "/diag/upload", status = 413, contentType = "text/html", server = "nginx/1.22.1", bodyStart = "413 Request Entity Too Large nginx/1.22.1" } }));

        var finding = Diagnoser.Evaluate(run, completed: true).Single();

        finding.Code.ShouldBe(FindingCodes.RequestBodyLimited);
        finding.Summary.ShouldContain("between 977 KiB and 1 MiB");
        finding.Summary.ShouldContain("nginx (Server: nginx/1.22.1)");
        finding.Summary.ShouldContain("251 Mbit/s");
        finding.Recommendation.ShouldContain("client_max_body_size");
    }

    [Fact]
    public void Evaluate_UploadRefusedByThePortalItself_NotBlamedOnAProxy()
    {
        var run = CleanWith(R("http.upload", "warn",
            new { bodyLimitPassedBytes = 1_000_000, bodyLimitRefusedBytes = 30_000_000, refusedStatus = 413 },
            new { unexpected = new { path = "/diag/upload", status = 413, contentType = "application/problem+json", server = "Kestrel" } }));

        Codes(run).ShouldNotContain(FindingCodes.RequestBodyLimited);
        Codes(run).ShouldNotContain(FindingCodes.ProxyErrorPage);
    }

    [Theory]
    [InlineData(502, "text/html", "nginx/1.22.1", "502 Bad Gateway nginx/1.22.1", "nginx (Server: nginx/1.22.1)")]
    [InlineData(503, "text/html", null, "503 Service Unavailable No server is available to handle this request.", "HAProxy (by its error page)")]
    [InlineData(503, "text/html; charset=utf-8", "Varnish", "Error 503 Backend fetch failed Guru Meditation: XID: 3", "Varnish (Server: Varnish)")]
    [InlineData(403, "text/html", "squid/5.7", "ERROR The requested URL could not be retrieved ERR_ACCESS_DENIED", "Squid (Server: squid/5.7)")]
    [InlineData(504, "text/plain", null, "", "a proxy that does not name itself")]
    public void Evaluate_DownloadAnsweredByAProxysErrorPage_ProxyErrorPageNamesWhoAndWhereNoStepFailed(int status, string type, string? server, string body, string who)
    {
        var run = CleanWith(R("http.download", "fail", new { answerStatus = status },
            new { error = $"HTTP {status}", unexpected = new { path = "/diag/download", status, contentType = type, server, bodyStart = body } }));

        var codes = Codes(run);

        codes.ShouldBe([FindingCodes.ProxyErrorPage]);
        var finding = Single(run, FindingCodes.ProxyErrorPage);
        finding.Summary.ShouldContain(who);
        finding.Summary.ShouldContain($"/diag/download (HTTP {status})");
    }

    [Fact]
    public void Evaluate_PortalsOwnProblemAnswer_NoProxyErrorPage()
    {
        var run = CleanWith(R("http.download", "fail", new { answerStatus = 400 },
            new { unexpected = new { path = "/diag/download", status = 400, contentType = "application/problem+json", server = "Kestrel" } }));

        Codes(run).ShouldBe([FindingCodes.StepFailed]);
    }

    // udp-blocked, turn-unreachable, packet-loss

    private static Observation Turn(string status, object metrics, params object[] transports) =>
        R("webrtc.turn", status, metrics, new { transports });

    [Fact]
    public void Evaluate_TurnOverTcpOnly_UdpBlockedNamingTheIceError()
    {
        var run = CleanWith(Turn("warn",
            new { tried = 2, reachable = 1, lossPercent = (double?)null, udpReachable = 0, tcpReachable = 1, tcpLossPercent = 0.0, tcpPackets = 1000 },
            new { transport = "udp", reachable = false, error = "701 STUN host lookup received error." },
            new { transport = "tcp", reachable = true, error = (string?)null }));

        Codes(run).ShouldBe([FindingCodes.UdpBlocked]);
        var finding = Single(run, FindingCodes.UdpBlocked);
        finding.Summary.ShouldContain("over TCP but not over UDP (701 STUN host lookup received error.)");
        finding.Recommendation.ShouldContain("UDP");
    }

    [Fact]
    public void Evaluate_TurnReachableOverNothing_TurnUnreachableNotUdpBlocked()
    {
        var run = CleanWith(Turn("fail",
            new { tried = 2, reachable = 0, udpReachable = 0, tcpReachable = 0 },
            new { transport = "udp", reachable = false, error = "no answer from the TURN server" },
            new { transport = "tcp", reachable = false, error = "701 TURN allocate request timed out." }));

        Codes(run).ShouldBe([FindingCodes.TurnUnreachable]);
        Single(run, FindingCodes.TurnUnreachable).Summary.ShouldContain("tcp: 701 TURN allocate request timed out.");
    }

    [Theory]
    [InlineData(1.2, "warning")]
    [InlineData(7.5, "critical")]
    public void Evaluate_LossThroughTurn_PacketLossWithTheShareAndCount(double loss, string severity)
    {
        var run = CleanWith(Turn(loss >= 1 ? "warn" : "pass",
            new { tried = 2, reachable = 2, lossPercent = loss, udpReachable = 1, udpLossPercent = loss, udpPackets = 1000, tcpReachable = 1, tcpLossPercent = 0.0, tcpPackets = 1000 }));

        Codes(run).ShouldContain(FindingCodes.PacketLoss);
        var finding = Single(run, FindingCodes.PacketLoss);
        finding.Severity.ShouldBe(severity);
        finding.Summary.ShouldStartWith($"{loss.ToString(System.Globalization.CultureInfo.InvariantCulture)} % of the packets sent through the TURN server over UDP were lost ({Math.Round(loss * 10)} of 1000)");
        // Above slow-network's threshold the same measured loss makes the network slow too; below it, not.
        Codes(run).Contains(FindingCodes.SlowNetwork).ShouldBe(loss > Diagnoser.SlowLossPercent);
    }

    [Fact]
    public void Evaluate_TurnCleanOrSkipped_NoTurnFinding()
    {
        Codes(CleanWith(Turn("pass", new { tried = 2, reachable = 2, lossPercent = 0.4, udpReachable = 1, udpLossPercent = 0.4, tcpReachable = 1 }))).ShouldBe([FindingCodes.AllClear]);
        Codes(CleanWith(R("webrtc.turn", "skipped", new { }, new { reason = "No TURN server is configured" }))).ShouldBe([FindingCodes.AllClear]);
    }

    [Fact]
    public void Evaluate_TurnAnsweredOverUdpButNoConnectionCame_PacketLossNotUdpBlocked()
    {
        // Heavy loss, not a firewall: the server answered over UDP (a relay address was allocated).
        var run = CleanWith(Turn("warn",
            new { tried = 2, reachable = 1, udpReachable = 0, udpAnswered = 1, tcpReachable = 1, tcpAnswered = 1, lossPercent = (double?)null, tcpLossPercent = 0.0 },
            new { transport = "udp", reachable = false, answered = true, error = "the TURN server answered, but no connection came through it within 15 s" },
            new { transport = "tcp", reachable = true, answered = true, error = (string?)null }));

        Codes(run).ShouldBe([FindingCodes.PacketLoss]);
        Single(run, FindingCodes.PacketLoss).Severity.ShouldBe(Severity.Critical);
        Single(run, FindingCodes.PacketLoss).Summary.ShouldContain("answered over UDP, but no connection could be held");
    }

    // bufferbloat

    [Theory]
    [InlineData(12, 180, "warning")]
    [InlineData(12, 450, "critical")]
    public void Evaluate_RoundTripGrowsUnderLoad_BufferbloatWithBothFigures(double idle, double loaded, string severity)
    {
        var run = CleanWith(R("http.download", "pass", new { mbps = 18.0, idleRttMs = idle, loadedRttP50Ms = loaded, loadedRttP90Ms = loaded + 40 }));

        Codes(run).ShouldBe([FindingCodes.Bufferbloat]);
        var finding = Single(run, FindingCodes.Bufferbloat);
        finding.Severity.ShouldBe(severity);
        finding.Summary.ShouldContain($"during the download, {loaded.ToString(System.Globalization.CultureInfo.InvariantCulture)} ms instead of 12 ms idle");
        finding.Recommendation.ShouldContain("fq_codel or CAKE");
    }

    [Fact]
    public void Evaluate_RoundTripGrowsAtAFastTransfer_NoBufferbloat()
    {
        // WebKitGTK over TLS on loopback, nothing in between: the device itself was busy moving 320 Mbit/s.
        var run = CleanWith(R("http.download", "pass", new { mbps = 320.6, idleRttMs = 4.7, loadedRttP50Ms = 126.2, loadedRttP90Ms = 230.8 }));

        Codes(run).ShouldBe([FindingCodes.AllClear]);
    }

    [Theory]
    [InlineData(12, 95)]
    [InlineData(150, 240)]
    public void Evaluate_RoundTripBarelyGrowsUnderLoad_NoBufferbloat(double idle, double loaded)
    {
        // Under 100 ms added is what any loaded line shows; a long path's own delay is not a queue.
        var run = CleanWith(R("http.upload", "pass", new { mbps = 18.0, idleRttMs = idle, loadedRttP50Ms = loaded, loadedRttP90Ms = loaded + 300 }));

        Codes(run).ShouldNotContain(FindingCodes.Bufferbloat);
    }
}
