namespace Portal.Probes;

/// <summary>One outcome of a server-side probe: a result the portal stores like any other (<c>source: server</c>).</summary>
/// <param name="Step">The step name, e.g. <c>probe.tls</c>.</param>
/// <param name="Status">pass, warn, fail, error or blocked.</param>
/// <param name="Metrics">Numbers (or null where not measured).</param>
/// <param name="Detail">Everything else, including the target and a plain-words <c>summary</c>.</param>
public sealed record ProbeResult(string Step, string Status, IReadOnlyDictionary<string, double?> Metrics, IReadOnlyDictionary<string, object?> Detail);

/// <summary>Limits and settings of server-side probes.</summary>
public sealed class ProbeOptions
{
    /// <summary>CIDRs and host names probes may reach although the guard forbids them (metadata addresses never).</summary>
    public List<string> AllowList { get; set; } = [];

    /// <summary>How long a TCP connect may take.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a TLS handshake may take before it counts as stalled.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long an HTTP request or WebSocket upgrade may take, per hop.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How many redirects the HTTP probe follows (each hop checked by the guard again).</summary>
    public int MaxRedirects { get; set; } = 5;

    /// <summary>How long the idle-survival probe holds an upgraded WebSocket quiet; 0 leaves it out.</summary>
    public int IdleSeconds { get; set; }

    /// <summary>PEM files of extra root certificates to trust (a customer's internal CA), besides the system's.</summary>
    public List<string> TrustedRoots { get; set; } = [];
}
