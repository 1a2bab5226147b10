using System.Globalization;
using System.Text.Json;

namespace Portal.Core.Diagnosis;

/// <summary>One result as the rules see it: a step's facts, wherever they came from.</summary>
/// <param name="Id">The result's id, cited as evidence.</param>
/// <param name="Step">The step's name, e.g. <c>ws.echo</c>.</param>
/// <param name="Status">pass, warn, fail, error, skipped or blocked.</param>
/// <param name="Source"><c>client</c> or <c>server</c>.</param>
/// <param name="Transport">How the result reached the portal (websockets, serversentevents, longpolling, http, beacon, probe…).</param>
/// <param name="Metrics">The step's numbers, a JSON object.</param>
/// <param name="Detail">Everything else the step said, a JSON object.</param>
public sealed record Observation(Guid Id, string Step, string Status, string Source, string Transport, JsonElement Metrics, JsonElement Detail)
{
    /// <summary>A number from the metrics, or null when it is missing, null or not a number.</summary>
    public double? Number(string name) =>
        Metrics.ValueKind == JsonValueKind.Object && Metrics.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    /// <summary>A string from the detail, or null.</summary>
    public string? Text(string name) =>
        Detail.ValueKind == JsonValueKind.Object && Detail.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>A boolean from the detail, or null.</summary>
    public bool? Flag(string name) =>
        Detail.ValueKind == JsonValueKind.Object && Detail.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

    /// <summary>The strings of an array in the detail (empty when there is none).</summary>
    public IReadOnlyList<string> Strings(string name) =>
        Detail.ValueKind == JsonValueKind.Object && Detail.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array
            ? [.. v.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!)]
            : [];

    /// <summary>The names of an object's properties in the detail (empty when there is none).</summary>
    public IReadOnlyList<string> Keys(string name) =>
        Detail.ValueKind == JsonValueKind.Object && Detail.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object
            ? [.. v.EnumerateObject().Select(p => p.Name)]
            : [];

    /// <summary>True when the step passed or only warned.</summary>
    public bool Worked => Status is "pass" or "warn";

    /// <summary>True when the step failed, erred or was blocked.</summary>
    public bool Failed => Status is "fail" or "error" or "blocked";
}

/// <summary>A result a finding rests on, and the figures of it that matter.</summary>
/// <param name="ResultId">The result's id.</param>
/// <param name="Step">The result's step, for readers.</param>
/// <param name="Figures">The numbers (or short facts) the finding rests on.</param>
public sealed record Evidence(Guid ResultId, string Step, IReadOnlyDictionary<string, object?> Figures);

/// <summary>A diagnosis in plain words: what is wrong, what it rests on, and how to fix it.</summary>
/// <param name="Code">A stable kebab-case code from <see cref="FindingCodes"/>.</param>
/// <param name="Severity">One of <see cref="Severity"/>.</param>
/// <param name="Summary">One or two sentences an engineer can read to a customer.</param>
/// <param name="Evidence">The results the finding rests on.</param>
/// <param name="Recommendation">The concrete fix.</param>
public sealed record Finding(string Code, string Severity, string Summary, IReadOnlyList<Evidence> Evidence, string Recommendation);

/// <summary>How bad a finding is.</summary>
public static class Severity
{
    /// <summary>Breaks real-time traffic outright.</summary>
    public const string Critical = "critical";

    /// <summary>Degrades it, or will break it in some situations.</summary>
    public const string Warning = "warning";

    /// <summary>Worth knowing; not a fault by itself.</summary>
    public const string Info = "info";

    /// <summary>Orders severities, most serious first.</summary>
    public static int Rank(string severity) => severity switch { Critical => 0, Warning => 1, Info => 2, _ => 3 };
}

/// <summary>The stable codes of findings. Codes are added, never renamed.</summary>
public static class FindingCodes
{
    public const string WebSocketBlocked = "websocket-blocked";
    public const string WebSocketKilledAfterOpen = "websocket-killed-after-open";
    public const string IdleTimeout = "idle-timeout";
    public const string ProxyDetected = "proxy-detected";
    public const string TlsInterceptionSuspected = "tls-interception-suspected";
    public const string UpgradeHeadersStripped = "upgrade-headers-stripped";
    public const string SniRequired = "sni-required";
    public const string TlsHandshakeStalled = "tls-handshake-stalled";
    public const string CertificateProblem = "certificate-problem";
    public const string SseBuffered = "sse-buffered";
    public const string LargeMessageDropped = "large-message-dropped";
    public const string CorsCredentialsBlocked = "cors-credentials-blocked";
    public const string ClockSkew = "clock-skew";
    public const string SlowNetwork = "slow-network";
    public const string StepFailed = "step-failed";
    public const string AllClear = "all-clear";
    public const string PortalDeployment = "portal-deployment";

    /// <summary>The portal itself refused messages of the run (its link budget, a size limit, an expired link): never the customer's network.</summary>
    public const string PortalRefused = "portal-refused";
    public const string RequestBodyLimited = "request-body-limited";
    public const string ProxyErrorPage = "proxy-error-page";

    /// <summary>A probed server speaks only protocol versions or cipher suites browsers refuse.</summary>
    public const string TlsObsolete = "tls-obsolete";

    /// <summary>A probed server still accepts obsolete protocols or suites beside good ones: worth fixing, not a fault.</summary>
    public const string TlsLegacyOffered = "tls-legacy-offered";

    /// <summary>Through TURN, UDP fails where TCP or TLS works: a firewall drops UDP; calls relay over TCP, worse.</summary>
    public const string UdpBlocked = "udp-blocked";

    /// <summary>The TURN server could not be reached over any transport tried.</summary>
    public const string TurnUnreachable = "turn-unreachable";

    /// <summary>Packets sent through TURN were lost on the way (the share measured over numbered packets).</summary>
    public const string PacketLoss = "packet-loss";

    /// <summary>A transfer fills a queue on the way: every round trip waits behind it (latency under load).</summary>
    public const string Bufferbloat = "bufferbloat";

    /// <summary>Whether a finding is a remark beside which a run can still be all clear.</summary>
    public static bool IsRemark(string code) => code is TlsLegacyOffered;

    /// <summary>Whether a finding is about the portal's own deployment rather than the customer's network: shown apart.</summary>
    public static bool IsAboutPortal(string code) => code is PortalDeployment or PortalRefused;

    /// <summary>Every code the rules can produce.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        WebSocketBlocked, WebSocketKilledAfterOpen, IdleTimeout, ProxyDetected, TlsInterceptionSuspected, UpgradeHeadersStripped,
        SniRequired, TlsHandshakeStalled, CertificateProblem, SseBuffered, LargeMessageDropped, CorsCredentialsBlocked, ClockSkew,
        SlowNetwork, StepFailed, AllClear, PortalDeployment, PortalRefused, RequestBodyLimited, ProxyErrorPage, TlsObsolete, TlsLegacyOffered,
        UdpBlocked, TurnUnreachable, PacketLoss, Bufferbloat,
    ];
}

/// <summary>Formats numbers for summaries the same way everywhere.</summary>
internal static class Say
{
    public static string N(double value) => Math.Round(value, value >= 100 ? 0 : 1).ToString("0.#", CultureInfo.InvariantCulture);

    public static string List(IEnumerable<string> items)
    {
        var list = items.ToList();
        return list.Count <= 1 ? string.Concat(list) : string.Join(", ", list.Take(list.Count - 1)) + " and " + list[^1];
    }
}
