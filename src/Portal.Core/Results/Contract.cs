namespace Portal.Core.Results;

/// <summary>Who produces a step's results.</summary>
public enum StepSource
{
    /// <summary>The customer's browser (the test kit).</summary>
    Client,

    /// <summary>The portal observing the customer's own connection, or recording its own refusals.</summary>
    Server,

    /// <summary>The portal's server-side probes.</summary>
    Probe,
}

/// <summary>One step of the contract: its name, who produces it, and the metric and detail keys its results carry.</summary>
/// <param name="Name">The step name on the wire, e.g. <c>ws.echo</c>.</param>
/// <param name="Source">Who produces it.</param>
/// <param name="Metrics">The numbers its results carry (besides <see cref="Contract.CommonMetrics"/>).</param>
/// <param name="Meaning">What the step measures, in one sentence.</param>
/// <param name="Detail">The top-level detail keys its results carry (besides <see cref="Contract.CommonDetail"/>).</param>
public sealed record StepContract(string Name, StepSource Source, IReadOnlyList<string> Metrics, string Meaning, IReadOnlyList<string> Detail);

/// <summary>
/// The one catalogue of what crosses the wire between the test kit, the portal's probes and the rules: step names and
/// their metric keys, statuses, transports and hub methods. The kit's <c>wwwroot/src/contract.ts</c> and
/// <c>docs/contract.md</c> are generated from it (a test fails when they differ), so a key renamed on one side fails
/// the build of the other, not a customer's run.
/// </summary>
public static class Contract
{
    /// <summary>Metric keys every client result may carry: the runner's timing, and the HTTP status of an unexpected answer.</summary>
    public static readonly IReadOnlyList<string> CommonMetrics = ["durationMs", "answerStatus"];

    /// <summary>
    /// Detail keys every result may carry: the plain-words summary; the error text and the unexpected answer a step
    /// met; why a step was skipped (<c>reason</c>) or that the browser lacks what it needs (<c>unsupported</c>,
    /// <c>browser</c>); the target a probe aimed at.
    /// </summary>
    public static readonly IReadOnlyList<string> CommonDetail = ["summary", "error", "unexpected", "reason", "unsupported", "browser", "target"];

    /// <summary>
    /// Metric keys a rule reads that no step carries yet: <c>slow-network</c> reads <c>lossPercent</c>, which only a
    /// packet-loss measurement (through TURN, not built yet) can give. Listed so that the gap is written down, not hidden.
    /// </summary>
    public static readonly IReadOnlyList<string> PlannedMetrics = ["lossPercent"];

    /// <summary>Every step, customer and server.</summary>
    public static readonly IReadOnlyList<StepContract> Steps =
    [
        new("env", StepSource.Client, ["clockSkewMs", "clockUncertaintyMs", "screenWidth", "screenHeight", "devicePixelRatio", "downlinkMbps", "effectiveRttMs", "timerResolutionMs"],
            "The browser, its clock against the portal's, what it says of its network, and the language the page was shown in.", ["userAgent", "platform", "languages", "timeZone", "cookiesEnabled", "effectiveType", "online", "crossOriginIsolated", "pageLanguage"]),
        new("http.ping", StepSource.Client, ["samples", "rttMinMs", "rttMedianMs", "rttP90Ms", "rttMaxMs", "jitterMs"],
            "HTTP round trips to the portal.", ["protocol"]),
        new("http.download", StepSource.Client, ["mbps", "bytes", "ms", "totalBytes", "idleRttMs", "loadedRttP50Ms", "loadedRttP90Ms"], "Download throughput.", []),
        new("http.upload", StepSource.Client, ["mbps", "bytes", "ms", "totalBytes", "bodyLimitPassedBytes", "bodyLimitRefusedBytes", "refusedStatus", "idleRttMs", "loadedRttP50Ms", "loadedRttP90Ms"],
            "Upload throughput, and the request-body limit on the way when uploads are refused.", []),
        new(KnownSteps.WebSocketEcho, StepSource.Client, ["openMs", "samples", "rttMinMs", "rttMedianMs", "rttP90Ms", "rttMaxMs", "jitterMs", "closeCode", "upgradeHeadersPresent"],
            "A WebSocket to the portal's echo endpoint: open time and echo round trips.", ["url", "arrivedAs"]),
        new("ws.messages", StepSource.Client, ["largestTextBytes", "largestBinaryBytes", "closeCode"], "The largest text and binary messages that echo.", ["url", "failed"]),
        new("ws.close", StepSource.Client, ["clientCloseCode", "serverCloseCode", "closeCode"], "Close codes in both directions.", ["url", "expected"]),
        new("ws.variants", StepSource.Client, ["variants", "tried", "working", "wsOk", "wssOk", "closeCode"], "WebSockets on the portal's other schemes and ports.", ["variants"]),
        new("ws.idle", StepSource.Client, ["idleSeconds", "survived", "diedAfterSeconds", "closeCode", "serverLivedSeconds", "openMs"], "Whether a quiet WebSocket survives the session's idle period.", ["url", "serverSaw"]),
        new("http.cors", StepSource.Client, ["plainOk", "credentialedOk"], "Plain and credentialed cross-origin requests.", ["origin", "plainError", "credentialedError"]),
        new("sse", StepSource.Client, ["events", "expected", "firstEventMs", "maxLagMs", "bursts", "heldByPage", "attempts", "reconnectMs"], "Server-Sent Events: delay, bursts and reconnection.", []),
        new("longpoll", StepSource.Client, ["cycles", "heldMs", "overheadMedianMs", "overheadMaxMs"], "Long polling cycles.", []),
        new("signalr.transports", StepSource.Client, ["working", "webSocketsMs", "serverSentEventsMs", "longPollingMs"], "Which SignalR transports connect.", ["working", "errors", "unsupported"]),
        new("webrtc.turn", StepSource.Client,
            ["tried", "reachable", "lossPercent", "udpReachable", "udpAnswered", "udpRttMs", "udpJitterMs", "udpLossPercent", "udpPackets", "tcpReachable", "tcpAnswered", "tcpRttMs", "tcpJitterMs", "tcpLossPercent", "tcpPackets", "tlsReachable", "tlsAnswered", "tlsRttMs", "tlsJitterMs", "tlsLossPercent", "tlsPackets"],
            "UDP reachability, round trip, jitter and one-way loss through TURN (relay only, unordered, no retransmits), per transport.", ["transports", "reason"]),
        new("targets", StepSource.Client, ["targets", "reachable"], "The session's own targets, from the browser.", ["rows"]),
        new(KnownSteps.ServerConnection, StepSource.Server, ["httpVersion", "foreignProxyHeaders", "frontProxy", "tls", "sniSent", "fingerprintFitsBrowser", "upgradeHeadersPresent"],
            "What the portal saw of the page's own connection.", ["clientAddress", "pageOrigin", "originHeader", "host", "localPort", "frontProxy", "frontProxyEvidence", "frontProxyHeaders", "deploymentProblems", "peerAddress", "viaTrustedProxy", "httpProtocol", "transport", "proxyHeaders", "foreignProxyHeaders", "upgradeHeader", "connectionHeader", "webSocketOverHttp2", "tlsProtocol", "tlsCipher", "alpn", "sniSent", "serverName", "alpnOffered", "ja4", "browserFamily", "expectedTlsStack", "observedTlsStack", "fingerprintFitsBrowser", "fingerprintNote", "userAgent"]),
        new(KnownSteps.ServerRefusal, StepSource.Server, [RefusalReasons.StatusMetric], "A refusal of the portal's own on the run's path.", ["transport"]),
        new("probe.target", StepSource.Probe, ["blocked"], "A target the address guard did not let the portal probe.", []),
        new("probe.dns", StepSource.Probe, ["a", "aaaa", "aMs", "aaaaMs"], "DNS of the target.", ["ipv4", "ipv6", "literal"]),
        new("probe.tcp", StepSource.Probe, ["ipv4ConnectMs", "ipv6ConnectMs", "connected", "attempted"], "TCP connects to the target's addresses.", ["attempts"]),
        new("probe.tls", StepSource.Probe, ["sniOk", "noSniOk", "sniRequired", "stalled", "handshakeMs", "certificateValid", "certificateDaysLeft", "tls10", "tls11", "tls12", "tls13", "browsersConnect", "obsoleteOffered", "aiaRescues"],
            "TLS with and without SNI, the certificate judged as browsers judge it, and the protocol versions and cipher families the server accepts.",
            ["address", "withSni", "withoutSni", "protocol", "cipher", "alpn", "certificate", "certificateProblems", "protocols", "cipherFamilies", "obsolete", "hellos", "aia", "outcome"]),
        new("probe.http", StepSource.Probe, ["status", "ttfbMs", "redirects", "hsts"], "An HTTP GET, redirects followed by hand.", ["hops", "headers", "blockedReason"]),
        new("probe.ws", StepSource.Probe, ["status", "upgraded", "acceptValid", "upgradeMs", "echoMs", "upgradeHeadersInReply"], "The WebSocket upgrade and an echo.", ["statusLine", "upgradeHeader", "connectionHeader", "acceptValid", "server", "via", "location", "echoed"]),
        new("probe.ws.idle", StepSource.Probe, ["idleSeconds", "survived", "diedAfterSeconds"], "Whether an upgraded WebSocket survives the idle period.", ["cutBy"]),
        new(KnownSteps.ProbeDeadline, StepSource.Probe, ["seconds"], "The portal stopped a target's probes that had not finished in time (the job's deadline, or the target's own).", []),
        new("probe.sse", StepSource.Probe, ["status", "firstEventMs", "maxLagMs", "events", "expected", "bursts"], "Server-Sent Events through the portal's public origin (deployment check).", ["url", "contentType", "headers"]),
        new("probe.upload", StepSource.Probe, ["status", "bytes", "ms", "mbps"], "A 2 MiB upload through the portal's public origin (deployment check).", ["url", "contentType", "headers", "body"]),
    ];

    /// <summary>How a result reached the portal, as stored in its <c>transport</c>.</summary>
    public static readonly IReadOnlyList<string> Transports = ["websockets", "serversentevents", "longpolling", "http", "beacon", "probe", "report-code"];

    /// <summary>The hub's methods the page calls (<c>/hubs/run</c>).</summary>
    public static readonly IReadOnlyList<string> HubMethods = ["Report", "Observe", "Complete", "Ping"];

    /// <summary>The methods the hub calls on the page.</summary>
    public static readonly IReadOnlyList<string> ClientMethods = ["RunAgain"];

    /// <summary>A step of the catalogue by name, or null.</summary>
    public static StepContract? Step(string name) => Steps.FirstOrDefault(s => s.Name == name);
}
