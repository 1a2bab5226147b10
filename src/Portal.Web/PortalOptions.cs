namespace Portal.Web;

/// <summary>The portal's settings, bound from the <c>Portal</c> configuration section.</summary>
public sealed class PortalOptions
{
    public const string Section = "Portal";

    /// <summary>Accounts and keys ensured at start-up.</summary>
    public BootstrapOptions Bootstrap { get; set; } = new();

    /// <summary>Customer links.</summary>
    public LinkOptions Links { get; set; } = new();

    /// <summary>
    /// The origin customers and engineers reach the portal on when a proxy stands in front of it, for example
    /// <c>https://portal.example.com</c>: customer and share links are built on it, and it counts as the portal's own.
    /// Unset, links use the scheme and Host each request arrived with.
    /// </summary>
    public string? PublicOrigin { get; set; }

    /// <summary>How often an open console (a Blazor circuit) is checked against its account (<c>Portal:ConsoleRevalidation</c>).</summary>
    public TimeSpan ConsoleRevalidation { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Origins, besides the portal's own, from which browsers may open WebSockets to the portal,
    /// for example <c>https://portal.example.com</c> when a proxy changes the host name.
    /// </summary>
    public List<string> AllowedOrigins { get; set; } = [];

    /// <summary>
    /// More origins (http or https) of this same portal than the addresses it listens on, for example
    /// <c>https://portal.example.com:8443</c> reached through a proxy: the battery tests cross-origin requests and the
    /// WebSocket variants (<c>ws://</c> versus <c>wss://</c>, another port) against them.
    /// </summary>
    public List<string> AlternateOrigins { get; set; } = [];

    /// <summary>
    /// Addresses of the reverse proxies in front of the portal whose forwarding headers are believed. From anyone
    /// else such headers are evidence of a proxy on the customer's side, not an address.
    /// </summary>
    public List<string> TrustedProxies { get; set; } = [];

    /// <summary>Rate limits.</summary>
    public LimitOptions Limits { get; set; } = new();

    /// <summary>Where the embedded PostgreSQL keeps its data when no connection string is set.</summary>
    public string DataDirectory { get; set; } = ".portal-data";
}

/// <summary>Settings that make an admin account and an API key exist.</summary>
public sealed class BootstrapOptions
{
    public string? AdminEmail { get; set; }

    public string? AdminPassword { get; set; }

    public string? ApiKey { get; set; }
}

/// <summary>Settings of customer links.</summary>
public sealed class LinkOptions
{
    /// <summary>How long a new link stays valid.</summary>
    public TimeSpan Lifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How long the idle-survival step stays quiet unless the session says otherwise.</summary>
    public int DefaultIdleSeconds { get; set; } = 75;
}

/// <summary>Rate limits, per customer link.</summary>
public sealed class LimitOptions
{
    /// <summary>How many messages one link may send per minute, hub and HTTP together; beyond it, refusals (429 over HTTP).</summary>
    public int MessagesPerMinutePerLink { get; set; } = 300;

    /// <summary>How many unknown link tokens one client address may try within <see cref="LinkMissWindow"/> before it gets 429.</summary>
    public int LinkMissesPerAddress { get; set; } = 10;

    /// <summary>The window of <see cref="LinkMissesPerAddress"/>; a blocked address waits for it to end.</summary>
    public TimeSpan LinkMissWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Bytes one link may download from and upload to the test endpoints a minute (2 GiB: a run at loopback speed
    /// moves about 250 MiB; an attacker with a link gets 2 GiB a minute, not a machine's whole bandwidth).
    /// </summary>
    public long DiagBytesPerMinutePerLink { get; set; } = 2L * 1024 * 1024 * 1024;

    /// <summary>Connections one link may hold open on the test endpoints at once: echo sockets, event streams, long polls.</summary>
    public int DiagConnectionsPerLink { get; set; } = 24;

    /// <summary>Names one link may give echo connections in the registry the idle step reads (kept for 30 minutes).</summary>
    public int EchoNamesPerLink { get; set; } = 64;

    /// <summary>How long an echo socket may leave a message unfinished (its next frame not come) before it is cut.</summary>
    public TimeSpan EchoUnfinishedMessage { get; set; } = TimeSpan.FromSeconds(30);
}
