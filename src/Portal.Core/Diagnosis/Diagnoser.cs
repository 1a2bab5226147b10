using System.Globalization;
using System.Text.Json;
using Portal.Core.Tls;

namespace Portal.Core.Diagnosis;

/// <summary>
/// The rules engine: pure functions from a run's results to findings. Each rule reads only the results, cites
/// the ones it rests on, and says what to change. Evaluated again whenever a result of the run arrives.
/// </summary>
public static class Diagnoser
{
    /// <summary>A socket that dies sooner than this after opening was killed, not timed out for idleness.</summary>
    public const double KilledWithinSeconds = 5;

    /// <summary>A client clock further off than this is wrong (2 minutes).</summary>
    public const double ClockSkewLimitMs = 120_000;

    /// <summary>Round trips above this median make a network slow.</summary>
    public const double SlowRttMs = 300;

    /// <summary>Loss above this percentage makes a network slow.</summary>
    public const double SlowLossPercent = 2;

    /// <summary>
    /// Loss through TURN at or above this is a finding of its own: around 1 % a video call's picture starts to break
    /// up and a voice call's concealment becomes audible (ITU-T G.1050/G.107 put the knee of the quality curves near it).
    /// </summary>
    public const double PacketLossPercent = 1;

    /// <summary>
    /// Round trip added by a transfer (median while loaded minus idle) from which it is bufferbloat. ITU-T G.114 keeps
    /// interactive speech under 150 ms one way and calls 400 ms the limit: 100 ms more round trip (50 ms each way) takes
    /// an ordinary 100 ms call path to the first; <see cref="BufferbloatCriticalMs"/> (200 ms each way) towards the second.
    /// </summary>
    public const double BufferbloatMs = 100;

    /// <summary>Added round trip from which bufferbloat is critical.</summary>
    public const double BufferbloatCriticalMs = 400;

    /// <summary>
    /// Throughput from which a grown round trip is not judged: a device moving data that fast delays every other
    /// message by itself (WebKitGTK over TLS on loopback: +122 ms at 320 Mbit/s, with no queue anywhere), while a queue
    /// adding 100 ms there would have to hold more than a megabyte.
    /// </summary>
    public const double BufferbloatMaxMbps = 100;

    /// <summary>Throughput below this makes a network slow.</summary>
    public const double SlowMbps = 1;

    /// <summary>The largest message the battery sends (1 MiB); anything smaller means large messages were dropped.</summary>
    public const double LargestMessageBytes = 1024 * 1024;

    private static readonly Func<IReadOnlyList<Observation>, Finding?>[] Rules =
    [
        WebSocketBlocked, WebSocketKilledAfterOpen, IdleTimeout, ProxyDetected, TlsInterceptionSuspected, UpgradeHeadersStripped,
        SniRequired, TlsHandshakeStalled, CertificateProblem, SseBuffered, LargeMessageDropped, CorsCredentialsBlocked, ClockSkew,
        SlowNetwork, PortalDeployment, PortalRefused, RequestBodyLimited, ProxyErrorPage, TlsObsolete, TlsLegacyOffered,
        UdpBlocked, TurnUnreachable, PacketLoss, Bufferbloat,
    ];

    /// <summary>
    /// The findings of a run, most serious first. <paramref name="completed"/> says the run has ended: only then
    /// can a run with nothing wrong be called <c>all-clear</c>.
    /// </summary>
    public static IReadOnlyList<Finding> Evaluate(IEnumerable<Observation> results, bool completed)
    {
        ArgumentNullException.ThrowIfNull(results);
        var list = results.ToList();
        var findings = Rules.Select(rule => rule(list)).OfType<Finding>().ToList();
        if (UnconfiguredFront(list) is { } front)
        {
            var caveat = $" The portal itself is reached through a proxy it is not configured for ({front.Text("peerAddress") ?? "its front proxy"}, see the deployment finding): this may be that proxy's doing rather than the customer's network.";
            findings = [.. findings.Select(f => PathCodes.Contains(f.Code) ? f with { Summary = f.Summary + caveat } : f)];
        }

        if (StepFailed(list, findings) is { } unexplained)
        {
            findings.Add(unexplained);
        }

        // A finding about the portal's own deployment says nothing about the customer's network: beside it, the
        // customer's side can still be all clear.
        // Results the portal refused are missing: a run it cut short is not all clear.
        if (findings.All(f => FindingCodes.IsAboutPortal(f.Code) || FindingCodes.IsRemark(f.Code)) && completed && !list.Any(r => r.Step == Results.KnownSteps.ServerRefusal)
            && AllClear(list) is { } clear)
        {
            findings.Add(clear);
        }

        return [.. findings.OrderBy(f => Severity.Rank(f.Severity))];
    }

    private static Observation? Latest(IReadOnlyList<Observation> results, string step) => results.LastOrDefault(r => r.Step == step);

    private static Evidence Cite(Observation result, params (string Name, object? Value)[] figures) =>
        new(result.Id, result.Step, figures.ToDictionary(f => f.Name, f => f.Value, StringComparer.Ordinal));

    private static readonly string[] FallbackTransports = ["serversentevents", "longpolling"];

    private static Finding? WebSocketBlocked(IReadOnlyList<Observation> results)
    {
        var echo = Latest(results, "ws.echo");
        var signalr = Latest(results, "signalr.transports");
        var echoNeverOpened = echo is { Failed: true } && echo.Number("openMs") is null;
        var hubNeverOpened = signalr is not null && signalr.Keys("errors").Contains("webSockets");
        if (!(echoNeverOpened || (echo is null && hubNeverOpened)) || UpgradeLostAtFront(results))
        {
            return null;
        }

        // A fallback that works: SignalR over SSE or long polling, the SSE or long-polling steps, or results that came that way.
        var fallbacks = new List<(string Name, Observation Result)>();
        foreach (var name in signalr?.Strings("working") ?? [])
        {
            if (name is "serverSentEvents" or "longPolling")
            {
                fallbacks.Add((name == "serverSentEvents" ? "Server-Sent Events" : "long polling", signalr!));
            }
        }

        if (Latest(results, "sse") is { Worked: true } sse)
        {
            fallbacks.Add(("Server-Sent Events", sse));
        }

        if (Latest(results, "longpoll") is { Worked: true } poll)
        {
            fallbacks.Add(("long polling", poll));
        }

        if (results.FirstOrDefault(r => FallbackTransports.Contains(r.Transport)) is { } carried)
        {
            fallbacks.Add((carried.Transport == "longpolling" ? "long polling" : "Server-Sent Events", carried));
        }

        var http = results.FirstOrDefault(r => r.Step is "http.ping" or "http.download" && r.Worked)
            ?? results.FirstOrDefault(r => r.Source == "client" && r.Transport is "http" or "beacon" or "serversentevents" or "longpolling");
        if (fallbacks.Count == 0 || http is null)
        {
            return null;
        }

        var evidence = new List<Evidence>();
        if (echo is not null)
        {
            evidence.Add(Cite(echo, ("opened", false), ("closeCode", echo.Number("closeCode"))));
        }

        if (hubNeverOpened)
        {
            evidence.Add(Cite(signalr!, ("webSockets", "failed"), ("working", signalr!.Number("working"))));
        }

        evidence.Add(Cite(http, ("status", http.Status)));
        // The other WebSocket steps could not open either: the same cause, not failures of their own.
        evidence.AddRange(results.Where(r => r.Step is "ws.messages" or "ws.close" or "ws.idle" && r.Failed && r.Number("survived") != 1 && r.Number("diedAfterSeconds") is null)
            .Select(r => Cite(r, ("status", r.Status), ("closeCode", r.Number("closeCode")))));
        evidence.AddRange(fallbacks.Select(f => f.Result).Distinct().Where(r => r != signalr || !hubNeverOpened).Select(r => Cite(r, ("status", r.Status), ("transport", r.Transport))));
        var code = echo?.Number("closeCode") is { } c ? $" (close code {Say.N(c)})" : "";
        // Behind a front proxy of the portal's, the portal cannot tell which of the two stops the upgrade.
        var where = results.Any(r => r.Step == Results.KnownSteps.ServerConnection && r.Number("frontProxy") == 1)
            ? "something between the customer and the portal (a proxy on the customer's network, or the portal's own front proxy)"
            : "something on the customer's network";
        return new Finding(
            FindingCodes.WebSocketBlocked, Severity.Critical,
            $"WebSockets never open{code} while plain HTTP and {Say.List(fallbacks.Select(f => f.Name).Distinct())} work: {where} blocks WebSocket upgrades. Real-time apps fall back to slower transports or fail.",
            evidence,
            "Allow WebSocket (HTTP Upgrade) traffic to the application's host in the firewall or proxy policy; on a TLS-inspecting proxy, exempt the host from inspection; on a reverse proxy, forward the Upgrade and Connection headers. Until then only the fallback transports (Server-Sent Events, long polling) work.");
    }

    private static Finding? WebSocketKilledAfterOpen(IReadOnlyList<Observation> results)
    {
        var evidence = new List<Evidence>();
        var echo = Latest(results, "ws.echo");
        if (echo is { Failed: true } && echo.Number("openMs") is { } openMs)
        {
            evidence.Add(Cite(echo, ("openMs", openMs), ("echoes", echo.Number("samples") ?? 0), ("closeCode", echo.Number("closeCode"))));
        }

        var idle = Latest(results, "ws.idle");
        if (idle is not null && idle.Number("survived") == 0 && idle.Number("diedAfterSeconds") is { } died && died <= KilledWithinSeconds)
        {
            evidence.Add(Cite(idle, ("diedAfterSeconds", died), ("closeCode", idle.Number("closeCode"))));
        }

        if (evidence.Count == 0)
        {
            return null;
        }

        return new Finding(
            FindingCodes.WebSocketKilledAfterOpen, Severity.Critical,
            "WebSockets open, then die within seconds without a proper close (close code 1006 means the connection was cut): typical of a TLS-inspecting or content-scanning proxy that does not understand WebSocket frames.",
            evidence,
            "Exempt the application's host from TLS inspection and content scanning on the proxy or firewall, or enable WebSocket support in its policy. Check the proxy's logs for the connection being reset right after the upgrade.");
    }

    private static Finding? IdleTimeout(IReadOnlyList<Observation> results)
    {
        var cut = results
            .Where(r => r.Step is "ws.idle" or "probe.ws.idle" && r.Number("survived") == 0 && r.Number("diedAfterSeconds") is > KilledWithinSeconds)
            .GroupBy(r => r.Step)
            .Select(g => g.Last())
            .OrderBy(r => r.Source == "client" ? 0 : 1)
            .ToList();
        if (cut.Count == 0)
        {
            return null;
        }

        var seconds = (int)Math.Round(cut[0].Number("diedAfterSeconds")!.Value);
        var keepAlive = Math.Max(1, seconds / 2);
        var where = cut[0].Step == "probe.ws.idle" ? $" on the way to {cut[0].Text("target")}" : " between the customer and the portal";
        var code = cut[0].Number("closeCode") is { } c ? $", close code {Say.N(c)}" : "";
        return new Finding(
            FindingCodes.IdleTimeout, Severity.Warning,
            $"Something{where} closes a quiet WebSocket after about {seconds} s{code}: connections that carry no traffic for {seconds} s are cut, and the app sees a disconnect.",
            [.. cut.Select(r => Cite(r, ("diedAfterSeconds", r.Number("diedAfterSeconds")), ("idleSeconds", r.Number("idleSeconds")), ("closeCode", r.Number("closeCode"))))],
            $"Raise the idle time-out of the proxy or load balancer on the path above the longest quiet period: nginx proxy_read_timeout (and proxy_send_timeout), HAProxy timeout tunnel, Varnish pipe_timeout, or the load balancer's idle time-out. Also send a keep-alive (a ping or heartbeat message) every {keepAlive} s, below the measured {seconds} s.");
    }

    private static Finding? ProxyDetected(IReadOnlyList<Observation> results)
    {
        var seen = results.Where(r => r.Step == "server.connection" && r.Strings("foreignProxyHeaders").Count > 0).ToList();
        if (seen.Count == 0)
        {
            return null;
        }

        var headers = seen.SelectMany(r => r.Strings("foreignProxyHeaders")).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        return new Finding(
            FindingCodes.ProxyDetected, Severity.Info,
            $"A proxy on the customer's network handles their traffic: the portal received {Say.List(headers)}, which the portal's own proxies did not add.",
            [.. seen.Select(r => Cite(r, ("headers", string.Join(", ", r.Strings("foreignProxyHeaders"))), ("transport", r.Text("transport"))))],
            "Not a fault by itself, but the first suspect when WebSockets or streaming fail: ask the network team to allow WebSocket upgrades and streaming responses to the application's host through this proxy, or to bypass it for that host.");
    }

    private static Finding? TlsInterceptionSuspected(IReadOnlyList<Observation> results)
    {
        var misfits = results.Where(r => r.Step == "server.connection" && r.Flag("fingerprintFitsBrowser") == false).ToList();
        if (misfits.Count == 0)
        {
            return null;
        }

        var first = misfits[0];
        var host = first.Text("serverName") ?? "the portal";
        return new Finding(
            FindingCodes.TlsInterceptionSuspected, Severity.Warning,
            $"The TLS connection did not come from the customer's browser: {first.Text("browserFamily")}{(first.Text("expectedTlsStack") is { } expected ? $" uses {expected}, but" : " names the browser, but")} the handshake came from {first.Text("observedTlsStack")}. A proxy on the customer's network decrypts and re-encrypts their traffic.",
            [.. misfits.Select(r => Cite(r, ("ja4", r.Text("ja4")), ("browser", r.Text("browserFamily")), ("expected", r.Text("expectedTlsStack")), ("observed", r.Text("observedTlsStack"))))],
            $"Allow (exempt) {host} and the application's host in the proxy's TLS-inspection policy, the 'do not decrypt' list. WebSockets, certificate pinning and client certificates break when a proxy re-makes TLS.");
    }

    private static Finding? UpgradeHeadersStripped(IReadOnlyList<Observation> results)
    {
        // The portal's view of the page's own hub connection, or of the echo step's upgrade that arrived as plain HTTP.
        var stripped = UpgradeLostAtFront(results)
            ? []
            : results.Where(r => r.Step is "server.connection" or "ws.echo" && r.Number("upgradeHeadersPresent") == 0).ToList();
        var refused = results.Where(r => r.Step == "probe.ws" && r.Number("upgraded") == 0 && r.Number("status") is { } s && s != 101).ToList();
        if (stripped.Count == 0 && refused.Count == 0)
        {
            return null;
        }

        // Seen arriving without its headers, the upgrade was stripped on the way. A target that answers without 101
        // may sit behind such a proxy, or the URL may not be a WebSocket endpoint at all (a 3xx is often a login page).
        var sentences = new List<string>();
        if (stripped.Count > 0)
        {
            sentences.Add("A proxy on the way does not pass WebSocket upgrades: a WebSocket request reached the portal without its Upgrade/Connection headers.");
        }

        if (refused.Count > 0)
        {
            var status = refused[0].Number("status")!.Value;
            var redirect = status is >= 300 and < 400
                ? $", a redirect{(refused[0].Text("location") is { Length: > 0 } location ? $" to {location}" : "")}"
                : "";
            sentences.Add($"{refused[0].Text("target")} answered the WebSocket upgrade with HTTP {Say.N(status)} instead of 101{redirect}: a proxy in front of it does not pass the upgrade, or this URL is not a WebSocket endpoint.");
        }

        return new Finding(
            FindingCodes.UpgradeHeadersStripped, Severity.Critical,
            string.Join(" ", sentences),
            [.. stripped.Select(r => r.Step == "ws.echo"
                    ? Cite(r, ("upgrade", ArrivedAs(r, "upgrade")), ("connection", ArrivedAs(r, "connection")), ("httpProtocol", ArrivedAs(r, "httpProtocol")))
                    : Cite(r, ("upgrade", r.Text("upgradeHeader")), ("connection", r.Text("connectionHeader")))),
                .. refused.Select(r => Cite(r, ("status", r.Number("status")), ("target", r.Text("target"))))],
            "Forward the upgrade at the reverse proxy. nginx: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\";. Varnish: return (pipe) for requests with an Upgrade header and copy Upgrade and Connection to the backend request in vcl_pipe. HAProxy passes them unless a rule deletes them."
                + (refused.Count > 0 ? " If no proxy stands in front of the target, check the URL: it must be the application's WebSocket endpoint, reachable without a login redirect." : ""));
    }

    private static string? ArrivedAs(Observation echo, string name) =>
        echo.Detail.ValueKind == JsonValueKind.Object && echo.Detail.TryGetProperty("arrivedAs", out var arrived) && arrived.ValueKind == JsonValueKind.Object
            && arrived.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static Finding? SniRequired(IReadOnlyList<Observation> results)
    {
        var tls = results.Where(r => r.Step == "probe.tls" && r.Number("sniRequired") == 1).ToList();
        if (tls.Count == 0)
        {
            return null;
        }

        return new Finding(
            FindingCodes.SniRequired, Severity.Warning,
            $"{Say.List(tls.Select(r => r.Text("target") ?? "The target"))} completes TLS only when the client names the host (SNI); without SNI the handshake fails. Browsers send SNI, but old client libraries, scripts and devices that connect without it fail with errors like \"SSL_connect SYSCALL\".",
            [.. tls.Select(r => Cite(r, ("sniOk", r.Number("sniOk")), ("noSniOk", r.Number("noSniOk"))))],
            "Make every client send SNI: upgrade the client library or runtime (OpenSSL with -servername, Java 7 or later, Python 2.7.9 or later, .NET Framework 4.5 or later) and connect by host name, not by IP address. Or give the endpoint a default certificate (or a dedicated address) that serves clients without SNI.");
    }

    private static Finding? TlsHandshakeStalled(IReadOnlyList<Observation> results)
    {
        var tls = results.Where(r => r.Step == "probe.tls" && r.Number("stalled") == 1 && r.Number("sniOk") == 0).ToList();
        if (tls.Count == 0)
        {
            return null;
        }

        return new Finding(
            FindingCodes.TlsHandshakeStalled, Severity.Critical,
            $"{Say.List(tls.Select(r => r.Text("target") ?? "The target"))} accepts TCP connections but never completes the TLS handshake: clients time out. The portal's probe closed its connections cleanly.",
            [.. tls.Select(r => Cite(r, ("sniOk", r.Number("sniOk")), ("stalled", r.Number("stalled"))))],
            "Check the TLS server's handshake capacity: health checks or scanners that open TCP and never speak TLS can hold its handshake workers. Make such checks speak TLS (HAProxy check-ssl, an HTTPS health check) or use a plain TCP port, and give the server a handshake time-out. Also look for a firewall that drops the ClientHello.");
    }

    private static Finding? CertificateProblem(IReadOnlyList<Observation> results)
    {
        var bad = results.Where(r => r.Step == "probe.tls" && r.Strings("certificateProblems").Count > 0).ToList();
        if (bad.Count == 0)
        {
            return null;
        }

        // Per target: what is wrong with its certificate and who refuses it, in the words of the problem catalogue.
        var sentences = bad.GroupBy(r => r.Text("target") ?? "the target")
            .Select(g => (Target: g.Key, Result: g.Last(), Problems: g.Last().Strings("certificateProblems")))
            .Select(t => $"The certificate of {t.Target}: {string.Join("; ", t.Problems.Select(CertificateProblems.Meaning))}." + (t.Result.Number("aiaRescues") switch
            {
                1 => " The portal fetched the missing issuer from the URL the certificate names: browsers that fetch complete the chain, other clients still fail.",
                0 => " The URL the certificate names for its issuer does not give it either: no client completes the chain.",
                _ => "",
            }));
        var problems = bad.SelectMany(r => r.Strings("certificateProblems")).Distinct(StringComparer.Ordinal).ToList();
        var fixes = problems.Select(CertificateProblems.Fix).ToList();
        return new Finding(
            FindingCodes.CertificateProblem, Severity.Critical,
            string.Join(" ", sentences),
            [.. bad.Select(r => Cite(r, ("target", r.Text("target")), ("problems", string.Join(", ", r.Strings("certificateProblems"))), ("daysLeft", r.Number("certificateDaysLeft"))))],
            char.ToUpperInvariant(Say.List(fixes)[0]) + Say.List(fixes)[1..] + ".");
    }

    private static Finding? TlsObsolete(IReadOnlyList<Observation> results)
    {
        var old = results.Where(r => r.Step == "probe.tls" && r.Text("outcome") is "tls-obsolete-protocol" or "tls-no-browser-cipher").ToList();
        if (old.Count == 0)
        {
            return null;
        }

        var sentences = old.Select(r => r.Text("outcome") == "tls-obsolete-protocol"
            ? $"{r.Text("target") ?? "The target"} speaks only {Say.List(r.Strings("protocols"))}: Chrome, Firefox, Edge and Safari refuse it, as do current Java, .NET, Python and curl builds (TLS 1.2 is the oldest version they accept)."
            : $"{r.Text("target") ?? "The target"} speaks {Say.List(r.Strings("protocols"))} only with cipher suites browsers no longer offer ({Say.List(r.Strings("cipherFamilies"))}): Chrome, Firefox, Edge and Safari cannot connect.");
        return new Finding(
            FindingCodes.TlsObsolete, Severity.Critical,
            string.Join(" ", sentences),
            [.. old.Select(r => Cite(r, ("target", r.Text("target")), ("protocols", string.Join(", ", r.Strings("protocols"))), ("cipherFamilies", string.Join(", ", r.Strings("cipherFamilies")))))],
            "Enable TLS 1.2 and 1.3 with ECDHE and AES-GCM or ChaCha20 suites on the server (nginx: ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers with ECDHE+AESGCM first; Apache: SSLProtocol -all +TLSv1.2 +TLSv1.3). Old devices that need TLS 1.0 should get their own endpoint, not hold back the one browsers use.");
    }

    private static Finding? TlsLegacyOffered(IReadOnlyList<Observation> results)
    {
        var legacy = results.Where(r => r.Step == "probe.tls" && r.Number("obsoleteOffered") > 0 && r.Number("browsersConnect") == 1
            && r.Text("outcome") is not ("tls-obsolete-protocol" or "tls-no-browser-cipher")).ToList();
        if (legacy.Count == 0)
        {
            return null;
        }

        return new Finding(
            FindingCodes.TlsLegacyOffered, Severity.Info,
            string.Join(" ", legacy.Select(r => $"{r.Text("target") ?? "The target"} still accepts {Say.List(r.Strings("obsolete"))} beside what browsers use; browsers connect with something better, so customers are not affected.")),
            [.. legacy.Select(r => Cite(r, ("target", r.Text("target")), ("obsolete", string.Join(", ", r.Strings("obsolete")))))],
            "When convenient, turn off what is obsolete (nginx: ssl_protocols TLSv1.2 TLSv1.3; and no 3DES or RC4 in ssl_ciphers): security scanners and compliance audits (PCI DSS) flag it.");
    }

    private static Finding? SseBuffered(IReadOnlyList<Observation> results)
    {
        // The customer's SSE step, or the deployment check's probe of the portal's own public origin (same metrics).
        var sse = Latest(results, "sse") ?? Latest(results, "probe.sse");
        if (sse is null || sse.Number("events") is not { } events || events < 1)
        {
            return null;
        }

        var bursts = sse.Number("bursts") ?? 0;
        var lag = sse.Number("maxLagMs") ?? 0;
        if (bursts < 3 && lag <= 500)
        {
            return null;
        }

        return new Finding(
            FindingCodes.SseBuffered, Severity.Warning,
            $"Server-Sent Events arrive late or in bursts (up to {Say.N(lag)} ms late, {Say.N(bursts)} bursts): something on the way buffers the stream, so live updates are delayed.",
            [Cite(sse, ("maxLagMs", lag), ("bursts", bursts), ("events", events))],
            "Turn off response buffering for text/event-stream on the proxy: nginx proxy_buffering off (or have the app send X-Accel-Buffering: no), and exclude the stream from content scanning and compression on security proxies.");
    }

    private static Finding? LargeMessageDropped(IReadOnlyList<Observation> results)
    {
        var messages = Latest(results, "ws.messages");
        if (messages is null || messages.Number("largestTextBytes") is not { } text || messages.Number("largestBinaryBytes") is not { } binary)
        {
            return null;
        }

        var smallest = Math.Min(text, binary);
        if (Math.Max(text, binary) < 1024 || smallest >= LargestMessageBytes)
        {
            return null;
        }

        var limit = Say.N(smallest / 1024);
        return new Finding(
            FindingCodes.LargeMessageDropped, Severity.Warning,
            $"Small WebSocket messages get through, large ones do not: the largest that came back was {Say.N(text / 1024)} KiB of text and {Say.N(binary / 1024)} KiB of binary (1 MiB was sent).",
            [Cite(messages, ("largestTextBytes", text), ("largestBinaryBytes", binary))],
            $"Raise the message, frame or body size limit of the proxy, WAF or scanner on the path (something stops messages above {limit} KiB), or have the application split large messages into pieces below that size.");
    }

    private static Finding? CorsCredentialsBlocked(IReadOnlyList<Observation> results)
    {
        var cors = Latest(results, "http.cors");
        if (cors is null || cors.Number("plainOk") != 1 || cors.Number("credentialedOk") != 0)
        {
            return null;
        }

        return new Finding(
            FindingCodes.CorsCredentialsBlocked, Severity.Warning,
            $"Cross-origin requests work, but not with credentials (cookies): {cors.Text("credentialedError") ?? "the credentialed request failed"}.",
            [Cite(cors, ("plainOk", 1), ("credentialedOk", 0), ("origin", cors.Text("origin")))],
            "Answer credentialed requests with Access-Control-Allow-Credentials: true and an explicit Access-Control-Allow-Origin (never *), and mark cross-site cookies SameSite=None; Secure. Check that no proxy strips Access-Control-* headers and that the browser does not block third-party cookies.");
    }

    private static Finding? ClockSkew(IReadOnlyList<Observation> results)
    {
        var env = Latest(results, "env");
        if (env?.Number("clockSkewMs") is not { } skew || Math.Abs(skew) <= ClockSkewLimitMs)
        {
            return null;
        }

        var seconds = Math.Round(Math.Abs(skew) / 1000);
        return new Finding(
            FindingCodes.ClockSkew, Severity.Warning,
            $"The customer's clock is {Say.N(seconds)} s {(skew > 0 ? "ahead" : "behind")}: sign-in tokens, certificates and cookies fail when a clock is minutes off.",
            [Cite(env, ("clockSkewMs", skew), ("uncertaintyMs", env.Number("clockUncertaintyMs")))],
            "Turn on automatic time (NTP) on the customer's device, or point it at the company's time server.");
    }

    private static readonly string[] TurnTransports = ["udp", "tcp", "tls"];

    private static Finding? UdpBlocked(IReadOnlyList<Observation> results)
    {
        var turn = Latest(results, "webrtc.turn");
        // Blocked means no answer at all over UDP: a TURN server that answered but could not carry a connection is a
        // lossy path (PacketLoss), not a firewall.
        if (turn?.Number("udpReachable") != 0 || turn.Number("udpAnswered") == 1 || !TurnTransports.Any(t => t != "udp" && turn.Number($"{t}Reachable") == 1))
        {
            return null;
        }

        var working = TurnTransports.Where(t => turn.Number($"{t}Reachable") == 1).Select(t => t.ToUpperInvariant()).ToList();
        return new Finding(
            FindingCodes.UdpBlocked, Severity.Warning,
            $"UDP does not get through from the customer's network: the TURN server answered over {Say.List(working)} but not over UDP ({TurnError(turn, "udp")}). Calls and video will relay over TCP, with more delay and stutter under loss.",
            [Cite(turn, ("udpReachable", 0), ("working", string.Join(", ", working)), ("udpError", TurnError(turn, "udp")))],
            "Allow outbound UDP to the TURN server's port (3478, and its relay ports 49152–65535) on the customer's firewall. If no customer reaches it over UDP, check that the TURN server listens on UDP.");
    }

    private static Finding? TurnUnreachable(IReadOnlyList<Observation> results)
    {
        var turn = Latest(results, "webrtc.turn");
        if (turn is null || turn.Number("tried") is not > 0 || turn.Number("reachable") != 0)
        {
            return null;
        }

        var tried = TurnTransports.Where(t => turn.Number($"{t}Reachable") is not null).ToList();
        return new Finding(
            FindingCodes.TurnUnreachable, Severity.Warning,
            $"The customer's browser could not reach the TURN server over {Say.List(tried.Select(t => t.ToUpperInvariant()))} ({string.Join("; ", tried.Select(t => $"{t}: {TurnError(turn, t)}"))}). Calls and video that need a relay will not connect from this network.",
            [Cite(turn, ("tried", string.Join(", ", tried)), ("errors", string.Join("; ", tried.Select(t => TurnError(turn, t)))))],
            "Allow outbound connections to the TURN server (UDP and TCP 3478, TLS 443) on the customer's firewall or proxy. If other customers cannot reach it either, the TURN server itself is down or not reachable from the internet.");
    }

    private static Finding? PacketLoss(IReadOnlyList<Observation> results)
    {
        var turn = Latest(results, "webrtc.turn");
        if (turn is not null && turn.Number("udpReachable") == 0 && turn.Number("udpAnswered") == 1)
        {
            return new Finding(
                FindingCodes.PacketLoss, Severity.Critical,
                $"The TURN server answered over UDP, but no connection could be held through it ({TurnError(turn, "udp")}): so much is lost that calls and video over UDP will break up or fail; they fall back to TCP where it works.",
                [Cite(turn, ("udpAnswered", 1), ("udpReachable", 0), ("udpError", TurnError(turn, "udp")))],
                "Heavy loss is usually on the customer's last mile: Wi-Fi interference or range, an overloaded uplink, or a faulty cable. It can also be a firewall that lets only some UDP through (rate limits on UDP). Try a wired connection or another network.");
        }

        if (turn?.Number("lossPercent") is not { } loss || loss < PacketLossPercent)
        {
            return null;
        }

        // The step reports UDP's loss only (over TCP nothing is lost on the customer's side; it shows as delay).
        const string over = "udp";
        var packets = turn.Number($"{over}Packets");
        return new Finding(
            FindingCodes.PacketLoss, loss >= 5 ? Severity.Critical : Severity.Warning,
            $"{Say.N(loss)} % of the packets sent through the TURN server over {over.ToUpperInvariant()} were lost{(packets is { } n ? $" ({Say.N(Math.Round(n * loss / 100))} of {Say.N(n)})" : "")}: calls and video will stutter{(loss >= 5 ? " and may drop" : "")}.",
            [Cite(turn, ("lossPercent", loss), ("transport", over), ("packets", packets))],
            "Loss is usually on the customer's last mile: Wi-Fi interference or range, an overloaded uplink, or a faulty cable. Try a wired connection or another network; if the loss stays, the customer's ISP or IT team should look at the line.");
    }

    private static Finding? Bufferbloat(IReadOnlyList<Observation> results)
    {
        var bloated = new[] { ("http.download", "download"), ("http.upload", "upload") }
            .Select(d => (Direction: d.Item2, Result: Latest(results, d.Item1)))
            .Where(d => d.Result?.Number("idleRttMs") is not null && d.Result.Number("loadedRttP50Ms") is not null
                && d.Result.Number("mbps") is not >= BufferbloatMaxMbps)
            .Select(d => (d.Direction, d.Result!, Idle: d.Result!.Number("idleRttMs")!.Value, Loaded: d.Result!.Number("loadedRttP50Ms")!.Value))
            .Where(d => d.Loaded - d.Idle >= BufferbloatMs)
            .ToList();
        if (bloated.Count == 0)
        {
            return null;
        }

        var worst = bloated.Max(d => d.Loaded - d.Idle);
        return new Finding(
            FindingCodes.Bufferbloat, worst >= BufferbloatCriticalMs ? Severity.Critical : Severity.Warning,
            $"While the line is busy, every round trip waits in a queue: {string.Join("; ", bloated.Select(d => $"during the {d.Direction}, {Say.N(d.Loaded)} ms instead of {Say.N(d.Idle)} ms idle (+{Say.N(d.Loaded - d.Idle)} ms)"))}. Calls and games lag whenever someone on this network downloads or uploads.",
            [.. bloated.Select(d => Cite(d.Item2, ("idleRttMs", d.Idle), ("loadedRttP50Ms", d.Loaded), ("loadedRttP90Ms", d.Item2.Number("loadedRttP90Ms"))))],
            "Turn on smart queue management on the customer's router (fq_codel or CAKE, often called SQM or QoS), set a little below the line's real speed; or keep large uploads and downloads off the line during calls.");
    }

    /// <summary>The error the browser reported for one TURN transport (its ICE errors), or "no answer".</summary>
    private static string TurnError(Observation turn, string transport) =>
        turn.Detail.ValueKind == System.Text.Json.JsonValueKind.Object && turn.Detail.TryGetProperty("transports", out var list) && list.ValueKind == System.Text.Json.JsonValueKind.Array
            ? list.EnumerateArray().Where(t => t.ValueKind == System.Text.Json.JsonValueKind.Object && t.TryGetProperty("transport", out var name) && name.ValueKind == System.Text.Json.JsonValueKind.String && name.GetString() == transport)
                .Select(t => t.TryGetProperty("error", out var e) && e.ValueKind == System.Text.Json.JsonValueKind.String ? e.GetString() : null).FirstOrDefault() ?? "no answer"
            : "no answer";

    private static Finding? SlowNetwork(IReadOnlyList<Observation> results)
    {
        var reasons = new List<string>();
        var evidence = new List<Evidence>();
        foreach (var step in new[] { "http.ping", "ws.echo" })
        {
            if (Latest(results, step) is { } r && r.Number("rttMedianMs") is { } rtt && rtt > SlowRttMs)
            {
                reasons.Add($"round trip {Say.N(rtt)} ms ({step}, above {Say.N(SlowRttMs)} ms)");
                evidence.Add(Cite(r, ("rttMedianMs", rtt)));
            }
        }

        foreach (var r in results.Where(r => r.Number("lossPercent") is > SlowLossPercent).GroupBy(r => r.Step).Select(g => g.Last()))
        {
            reasons.Add($"{Say.N(r.Number("lossPercent")!.Value)} % loss ({r.Step}, above {Say.N(SlowLossPercent)} %)");
            evidence.Add(Cite(r, ("lossPercent", r.Number("lossPercent"))));
        }

        foreach (var step in new[] { "http.download", "http.upload" })
        {
            if (Latest(results, step) is { Worked: true } r && r.Number("mbps") is { } mbps && mbps < SlowMbps)
            {
                reasons.Add($"{(step == "http.download" ? "download" : "upload")} {Say.N(mbps)} Mbit/s (below {Say.N(SlowMbps)} Mbit/s)");
                evidence.Add(Cite(r, ("mbps", mbps)));
            }
        }

        if (reasons.Count == 0)
        {
            return null;
        }

        return new Finding(
            FindingCodes.SlowNetwork, Severity.Warning,
            $"The customer's network is slow: {Say.List(reasons)}. Real-time apps work but feel sluggish, and time-outs come sooner.",
            evidence,
            "Test again from another network (wired, another provider, or a phone's 4G) to tell the local link from the path; look for a saturated uplink, weak Wi-Fi or a VPN that sends traffic the long way round.");
    }

    /// <summary>
    /// What a deployment problem (<see cref="DeploymentProblems"/>) means and how to fix it, with the peer's address and
    /// the page's origin filled in; null for a code the rules do not know.
    /// </summary>
    public static (string What, string Fix)? DeploymentAdvice(string code, string? peer, string? pageOrigin)
    {
        if (!DeploymentAdviceText.TryGetValue(code, out var text))
        {
            return null;
        }

        string Fill(string t) => string.Format(CultureInfo.InvariantCulture, t, peer ?? "the proxy's address", pageOrigin ?? "the page's address");
        return (Fill(text.What), Fill(text.Fix));
    }

    private static readonly Dictionary<string, (string What, string Fix)> DeploymentAdviceText = new(StringComparer.Ordinal)
    {
        [DeploymentProblems.UntrustedProxy] = (
            "a proxy in front of the portal sends forwarding headers, but is not listed as trusted, so the portal cannot tell the customer's address from the proxy's",
            "list that proxy's address in Portal__TrustedProxies__N (e.g. Portal__TrustedProxies__0={0})"),
        [DeploymentProblems.HostRewritten] = (
            "the proxy in front of the portal replaces the Host the browser asked for ({1}), so links the portal builds and the Origin check of the engineers' console see the wrong address",
            "pass the browser's Host on unchanged (nginx: proxy_set_header Host $http_host; not $host, which drops the port), or set Portal__PublicOrigin to the address customers use"),
        [DeploymentProblems.SchemeNotForwarded] = (
            "TLS ends in front of the portal and no trusted X-Forwarded-Proto says so, so the portal believes it is reached over plain http",
            "have the proxy send X-Forwarded-Proto (nginx: proxy_set_header X-Forwarded-Proto $scheme;) and list it in Portal__TrustedProxies__N, or set Portal__PublicOrigin to the https address (stunnel cannot add headers); or let Kestrel terminate TLS, which also keeps the ClientHello evidence"),
        [DeploymentProblems.ClientAddressHidden] = (
            "the proxy in front of the portal does not say whose request it passes on (no X-Forwarded-For), so every customer appears to come from {0} and the portal's per-address limits count them all as one",
            "have that proxy add X-Forwarded-For (nginx: proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; HAProxy: option forwardfor; Varnish adds it) and list it in Portal__TrustedProxies__N (e.g. Portal__TrustedProxies__0={0})"),
        [DeploymentProblems.UpgradeNotForwarded] = (
            "the proxy in front of the portal does not pass WebSocket upgrades on: the test's upgrade reached the portal without its Upgrade header, so the customer's network could not be tested for WebSockets at all",
            "forward the upgrade at that proxy (nginx: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\"; Varnish: return (pipe) for requests with an Upgrade header and copy Upgrade and Connection in vcl_pipe; HAProxy passes them unless a rule removes them), then run the test again"),
    };

    /// <summary>
    /// The portal's view of the page's connection when it came through a front proxy the portal is not configured
    /// for (any deployment problem): what happens on the path may then be that proxy's doing.
    /// </summary>
    private static Observation? UnconfiguredFront(IReadOnlyList<Observation> results) =>
        results.LastOrDefault(r => r.Step == Results.KnownSteps.ServerConnection && r.Number("frontProxy") == 1 && r.Strings("deploymentProblems").Count > 0);

    /// <summary>
    /// A WebSocket upgrade reached the portal without its headers through that unconfigured front proxy: the
    /// portal's own proxy is the first suspect, before anything on the customer's network.
    /// </summary>
    private static bool UpgradeLostAtFront(IReadOnlyList<Observation> results) =>
        UnconfiguredFront(results) is not null && results.Any(r => r.Step is "ws.echo" or Results.KnownSteps.ServerConnection && r.Number("upgradeHeadersPresent") == 0);

    /// <summary>Findings about the path that the portal's own unconfigured front proxy may cause as well as the customer's network.</summary>
    private static readonly HashSet<string> PathCodes = new(StringComparer.Ordinal)
    {
        FindingCodes.SseBuffered, FindingCodes.RequestBodyLimited, FindingCodes.IdleTimeout, FindingCodes.LargeMessageDropped,
        FindingCodes.WebSocketKilledAfterOpen, FindingCodes.ProxyErrorPage,
    };

    private static Finding? PortalDeployment(IReadOnlyList<Observation> results)
    {
        var seen = results.Where(r => r.Step == Results.KnownSteps.ServerConnection && r.Strings("deploymentProblems").Count > 0).ToList();
        if (seen.Count == 0)
        {
            return null;
        }

        var first = seen[0];
        var problems = seen.SelectMany(r => r.Strings("deploymentProblems")).Distinct(StringComparer.Ordinal).Where(DeploymentAdviceText.ContainsKey).ToList();
        var evidence = seen.Select(r => Cite(r, ("problems", string.Join(", ", r.Strings("deploymentProblems"))), ("pageOrigin", r.Text("pageOrigin")), ("host", r.Text("host")), ("peer", r.Text("peerAddress")), ("frontProxyHeaders", string.Join(", ", r.Strings("frontProxyHeaders"))))).ToList();
        if (UpgradeLostAtFront(results))
        {
            // Every WebSocket step failed for this one reason: they are explained, not failures of the customer's network.
            problems.Insert(0, DeploymentProblems.UpgradeNotForwarded);
            evidence.AddRange(results.Where(r => r.Source == Results.ResultSource.Client && r.Step.StartsWith("ws.", StringComparison.Ordinal) && r.Failed)
                .Select(r => Cite(r, ("status", r.Status), ("upgradeHeadersPresent", r.Number("upgradeHeadersPresent")), ("httpProtocol", ArrivedAs(r, "httpProtocol")))));
        }

        if (problems.Count == 0)
        {
            return null;
        }

        var advice = problems.Select(p => DeploymentAdvice(p, first.Text("peerAddress"), first.Text("pageOrigin"))!.Value).ToList();
        var fixes = string.Join("; ", advice.Select(a => a.Fix));
        return new Finding(
            FindingCodes.PortalDeployment, Severity.Warning,
            $"About the portal's own deployment, not the customer's network: {Say.List(advice.Select(a => a.What))}. Nothing here is the customer's fault.",
            evidence,
            char.ToUpperInvariant(fixes[0]) + fixes[1..] + ".");
    }

    private static readonly Dictionary<string, string> RefusalFix = new(StringComparer.Ordinal)
    {
        [Results.RefusalReasons.LinkBudget] = "If an ordinary run reaches this limit, raise Portal__Limits__MessagesPerMinutePerLink; otherwise a page resends in a loop: report it with this session's id. The page keeps what was refused and sends it again after a minute",
        [Results.RefusalReasons.TooLarge] = "A step sent more than the portal accepts in one message: report it with this session's id (a fault of the test kit, not of the customer's network)",
        [Results.RefusalReasons.Invalid] = "The test kit sent a message the portal could not accept: report it with this session's id (a fault of the test kit, or a page of an older version, not of the customer's network)",
        [Results.RefusalReasons.TestBudget] = "An ordinary run stays well inside the test endpoints' budget; several runs at once from one link, or a page in a loop, do not. Ask the customer to run the test once more after a minute, or raise Portal__Limits__DiagBytesPerMinutePerLink or Portal__Limits__DiagConnectionsPerLink",
        [Results.RefusalReasons.LinkExpired] = "Send the customer a new link from the session's link card, and keep the session open until they have run the test",
    };

    private static Finding? PortalRefused(IReadOnlyList<Observation> results)
    {
        var refusals = results.Where(r => r.Step == Results.KnownSteps.ServerRefusal).ToList();
        if (refusals.Count == 0)
        {
            return null;
        }

        const string Prefix = "The portal refused: ";
        var what = refusals.Select(r => r.Text("summary") is { } s && s.StartsWith(Prefix, StringComparison.Ordinal) ? s[Prefix.Length..] : r.Text("reason") ?? "a message")
            .Distinct(StringComparer.Ordinal).ToList();
        // Steps that failed on the portal's own answer (its errors are problem+json) were refused by the portal too.
        var own = results.Where(r => r.Source == Results.ResultSource.Client && r.Failed && Unexpected(r) is { } answer && FromPortal(answer)).ToList();
        var reasons = refusals.Select(r => r.Text("reason") ?? Results.RefusalReasons.Invalid).Distinct(StringComparer.Ordinal).Where(RefusalFix.ContainsKey).ToList();
        return new Finding(
            FindingCodes.PortalRefused, Severity.Warning,
            $"The portal itself refused part of this run: {Say.List(what)}. Results of this run may be missing; none of this is the customer's network.",
            [.. refusals.Select(r => Cite(r, ("reason", r.Text("reason")), ("status", r.Number(Results.RefusalReasons.StatusMetric)), ("transport", r.Text("transport")))),
                .. own.Select(r => Cite(r, ("status", Unexpected(r) is { } a ? NumberField(a, "status") : null)))],
            string.Join(". ", reasons.Select(r => RefusalFix[r])) + ".");
    }

    /// <summary>The answer a step met instead of the portal's, when it recorded one.</summary>
    private static JsonElement? Unexpected(Observation r) =>
        r.Detail.ValueKind == JsonValueKind.Object && r.Detail.TryGetProperty("unexpected", out var u) && u.ValueKind == JsonValueKind.Object ? u : null;

    private static string? Field(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static double? NumberField(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    /// <summary>An answer the portal itself gave (its errors are problem+json): a refusal of the portal's, never a proxy's.</summary>
    private static bool FromPortal(JsonElement answer) =>
        Field(answer, "contentType")?.StartsWith("application/problem+json", StringComparison.OrdinalIgnoreCase) == true;

    private static Finding? RequestBodyLimited(IReadOnlyList<Observation> results)
    {
        var upload = Latest(results, "http.upload");
        if (upload is null && Latest(results, "probe.upload") is { Failed: true } probe && probe.Number("status") is 413 or 400 or 403)
        {
            // The deployment check's 2 MiB upload to the portal's own public origin (the portal itself takes far more).
            var server = probe.Detail.TryGetProperty("headers", out var h) && h.ValueKind == JsonValueKind.Object && h.TryGetProperty("Server", out var sv) ? sv.GetString() : null;
            var answeredBy = AnswerIdentity.Name(server, null, probe.Text("body")) ?? "the proxy in front of the portal";
            return new Finding(
                FindingCodes.RequestBodyLimited, Severity.Warning,
                $"A {Bytes(probe.Number("bytes") ?? 0)} upload through the portal's public origin was refused (HTTP {Say.N(probe.Number("status")!.Value)}, answered by {answeredBy}): customers' upload tests and larger reports fail before they reach the portal.",
                [Cite(probe, ("status", probe.Number("status")), ("bytes", probe.Number("bytes")), ("server", server))],
                "Raise the request-body limit of the proxy in front of the portal to at least 32 MiB for /diag/upload and /api/runs: nginx client_max_body_size 32m; HAProxy http-request deny rules on req.body_size; Squid request_body_max_size.");
        }

        if (upload?.Number("bodyLimitRefusedBytes") is not { } refused || upload.Number("bodyLimitPassedBytes") is not { } passed
            || Unexpected(upload) is not { } answer || FromPortal(answer))
        {
            return null;
        }

        var who = AnswerIdentity.Name(Field(answer, "server"), Field(answer, "via"), Field(answer, "bodyStart"));
        var how = upload.Number("refusedStatus") is { } status ? $"HTTP {Say.N(status)}" : "a closed connection";
        var speed = upload.Number("mbps") is { } mbps ? $" Below the limit, uploads run at {Say.N(mbps)} Mbit/s." : "";
        return new Finding(
            FindingCodes.RequestBodyLimited, Severity.Warning,
            $"Uploads larger than about {Bytes(passed)} are refused ({how} at {Bytes(refused)}, answered by {who ?? "a proxy on the way"}): the limit lies between {Bytes(passed)} and {Bytes(refused)}. Apps that send larger requests (file uploads, large posts, long-polling batches) fail.{speed}",
            [Cite(upload, ("passedBytes", passed), ("refusedBytes", refused), ("status", upload.Number("refusedStatus")), ("server", Field(answer, "server")))],
            "Raise the request-body limit of the proxy that refused it above the largest request the application sends: nginx client_max_body_size (1m by default), HAProxy http-request deny rules on req.body_size or tune.bufsize, Squid request_body_max_size, or the WAF's request-size rule. If the proxy belongs to the customer's network, their network team must raise it.");
    }

    private static string Bytes(double bytes) =>
        bytes >= 1024 * 1024 ? $"{Say.N(bytes / 1024 / 1024)} MiB" : $"{Say.N(bytes / 1024)} KiB";

    private static Finding? ProxyErrorPage(IReadOnlyList<Observation> results)
    {
        var pages = new List<(Observation Result, JsonElement Answer)>();
        foreach (var r in results.GroupBy(r => (r.Step, Target: r.Text("target"))).Select(g => g.Last()))
        {
            if (Unexpected(r) is not { } answer || FromPortal(answer) || r.Number("bodyLimitRefusedBytes") is not null)
            {
                continue;
            }

            var status = NumberField(answer, "status");
            var html = Field(answer, "contentType")?.StartsWith("text/html", StringComparison.OrdinalIgnoreCase) == true;
            if (status is 502 or 503 or 504 || (status is not null && html))
            {
                pages.Add((r, answer));
            }
        }

        if (pages.Count == 0)
        {
            return null;
        }

        var names = pages.Select(p => AnswerIdentity.Name(Field(p.Answer, "server"), Field(p.Answer, "via"), Field(p.Answer, "bodyStart"))).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        var paths = pages.Select(p => $"{Field(p.Answer, "path")} (HTTP {Say.N(NumberField(p.Answer, "status") ?? 0)})").Distinct(StringComparer.Ordinal).ToList();
        var who = names.Count > 0 ? Say.List(names) : "a proxy that does not name itself";
        return new Finding(
            FindingCodes.ProxyErrorPage, Severity.Critical,
            $"A proxy answered instead of the portal: {who} returned an error page on {Say.List(paths)}. The requests never reached the portal, or its answer was replaced on the way.",
            [.. pages.Select(p => Cite(p.Result, ("path", Field(p.Answer, "path")), ("status", NumberField(p.Answer, "status")), ("server", Field(p.Answer, "server")), ("via", Field(p.Answer, "via")), ("body", Field(p.Answer, "bodyStart"))))],
            "Find that proxy's log entry for these paths: a 502/504 means it could not reach (or timed out waiting for) the portal — check its upstream address and time-outs; a 403 or HTML block page means a security policy (WAF, URL filter) refused the path — allow the application's host and paths. If the proxy is the portal's own, fix its configuration; if it is the customer's, their network team must.");
    }

    private static Finding? StepFailed(IReadOnlyList<Observation> results, IReadOnlyList<Finding> findings)
    {
        var explained = findings.SelectMany(f => f.Evidence).Select(e => e.ResultId).ToHashSet();
        var unexplained = results
            .Where(r => r.Failed && !explained.Contains(r.Id))
            .GroupBy(r => (r.Step, Target: r.Text("target")))
            .Select(g => g.Last())
            .ToList();
        if (unexplained.Count == 0)
        {
            return null;
        }

        return new Finding(
            FindingCodes.StepFailed, Severity.Warning,
            $"{Say.List(unexplained.Select(r => r.Text("target") is { } target ? $"{r.Step} of {target}" : r.Step))} failed, and no rule explains why: {string.Join(" ", unexplained.Select(r => r.Text("summary") ?? r.Text("error") ?? r.Status).Distinct().Take(3))}",
            [.. unexplained.Select(r => Cite(r, ("status", r.Status), ("target", r.Text("target"))))],
            "Read the failed steps' details in the timeline; run again to see whether the failure repeats.");
    }

    private static Finding? AllClear(IReadOnlyList<Observation> results)
    {
        // A step measured again in the same run counts by its latest result.
        var counted = results.GroupBy(r => (r.Step, Target: r.Text("target"))).Select(g => g.Last()).Where(r => r.Status != "skipped").ToList();
        if (counted.Count == 0 || counted.Any(r => r.Status != "pass"))
        {
            return null;
        }

        var facts = new List<string>();
        var evidence = new List<Evidence>();
        // Timings are only as fine as the browser's clock (Firefox and WebKit: 1 ms unless cross-origin isolated).
        var resolution = Latest(results, "env")?.Number("timerResolutionMs");
        string Ms(double ms) => resolution is { } r && ms < r ? $"under {Say.N(r)} ms" : $"{Say.N(ms)} ms";
        if (Latest(results, "ws.echo") is { } echo && echo.Number("rttMedianMs") is { } echoMs)
        {
            facts.Add($"WebSocket echo {Ms(echoMs)}");
            evidence.Add(Cite(echo, ("rttMedianMs", echoMs)));
        }

        if (Latest(results, "http.ping") is { } ping && ping.Number("rttMedianMs") is { } pingMs)
        {
            facts.Add($"HTTP round trip {Ms(pingMs)}");
            evidence.Add(Cite(ping, ("rttMedianMs", pingMs)));
        }

        foreach (var step in new[] { "http.download", "http.upload" })
        {
            if (Latest(results, step) is { } r && r.Number("mbps") is { } mbps)
            {
                facts.Add($"{(step == "http.download" ? "download" : "upload")} {Say.N(mbps)} Mbit/s");
                evidence.Add(Cite(r, ("mbps", mbps)));
            }
        }

        foreach (var idle in results.Where(r => r.Step is "ws.idle" or "probe.ws.idle" && r.Number("survived") == 1))
        {
            facts.Add($"a quiet WebSocket survived {Say.N(idle.Number("idleSeconds") ?? 0)} s{(idle.Step == "probe.ws.idle" ? $" to {idle.Text("target")}" : "")}");
            evidence.Add(Cite(idle, ("idleSeconds", idle.Number("idleSeconds"))));
        }

        if (Latest(results, "signalr.transports") is { } hub)
        {
            facts.Add($"{Say.N(hub.Number("working") ?? 0)} real-time transports work");
            evidence.Add(Cite(hub, ("working", hub.Number("working"))));
        }

        foreach (var ws in results.Where(r => r.Step == "probe.ws" && r.Number("upgraded") == 1))
        {
            facts.Add($"the WebSocket upgrade to {ws.Text("target")} works" + (ws.Number("echoMs") is { } echoMsProbe ? $" (echo {Say.N(echoMsProbe)} ms)" : ""));
            evidence.Add(Cite(ws, ("upgradeMs", ws.Number("upgradeMs")), ("echoMs", ws.Number("echoMs"))));
        }

        foreach (var http in results.Where(r => r.Step == "probe.http" && r.Worked && r.Number("status") is not null))
        {
            facts.Add($"{http.Text("target")} answers HTTP {Say.N(http.Number("status")!.Value)}");
            evidence.Add(Cite(http, ("status", http.Number("status")), ("ttfbMs", http.Number("ttfbMs"))));
        }

        // The deployment check's own paths through the portal's public origin.
        if (Latest(results, "probe.sse") is { Worked: true } sseProbe && sseProbe.Number("firstEventMs") is { } firstEvent)
        {
            facts.Add($"Server-Sent Events arrive unbuffered (first after {Ms(firstEvent)})");
            evidence.Add(Cite(sseProbe, ("firstEventMs", firstEvent), ("maxLagMs", sseProbe.Number("maxLagMs"))));
        }

        if (Latest(results, "probe.upload") is { Worked: true } uploadProbe && uploadProbe.Number("bytes") is { } uploaded)
        {
            facts.Add($"a {Bytes(uploaded)} upload passes");
            evidence.Add(Cite(uploadProbe, ("bytes", uploaded), ("ms", uploadProbe.Number("ms"))));
        }

        if (results.Any(r => r.Step == "probe.tls"))
        {
            facts.Add("TLS and certificates of the probed targets are in order");
            evidence.AddRange(results.Where(r => r.Step == "probe.tls").Select(r => Cite(r, ("handshakeMs", r.Number("handshakeMs")), ("daysLeft", r.Number("certificateDaysLeft")))));
        }

        return new Finding(
            FindingCodes.AllClear, Severity.Info,
            $"Nothing wrong found in {counted.Count} checks" + (facts.Count > 0 ? $": {Say.List(facts)}." : "."),
            evidence.Count > 0 ? evidence : [.. counted.Take(5).Select(r => Cite(r, ("status", r.Status)))],
            "No change needed. If the customer still sees a problem, ask them to run the test again when it happens, from the same network, or probe their own endpoints.");
    }
}
