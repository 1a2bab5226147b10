using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Core.Diagnosis;
using Portal.Probes;
using Portal.Web.Features.Diagnostics;
using Portal.Web.Features.Probes;
using Portal.Web.Features.Sessions;

namespace Portal.Web.Features.Admin;

/// <summary>How customers reached the portal through one path, learned from their pages' connections.</summary>
/// <param name="PageOrigin">The origin the customers' pages were loaded from (what the browser asked for).</param>
/// <param name="Host">The Host the portal received.</param>
/// <param name="Peer">The address that connected to the portal (the front proxy, when there is one).</param>
/// <param name="PeerTrusted">Whether that peer is in <c>Portal:TrustedProxies</c>.</param>
/// <param name="FrontProxy">Whether a proxy of the deployment stands in front of the portal on this path.</param>
/// <param name="Problems">The deployment problems seen on this path (<see cref="DeploymentProblems"/>).</param>
/// <param name="Connections">How many page connections came this way.</param>
/// <param name="UpgradesWithoutHeaders">WebSocket upgrades that arrived without their Upgrade/Connection headers.</param>
/// <param name="LastSeen">When the latest came.</param>
public sealed record DeploymentPath(
    string? PageOrigin, string? Host, string? Peer, bool PeerTrusted, bool FrontProxy, IReadOnlyList<string> Problems,
    long Connections, long UpgradesWithoutHeaders, DateTimeOffset LastSeen);

/// <summary>One problem of the deployment, in plain words, with its fix and how often it was seen.</summary>
public sealed record DeploymentIssue(string Code, string What, string Fix, long Connections);

/// <summary>What the portal knows of its own deployment: configuration, the paths customers came by, and the problems.</summary>
/// <param name="PublicOrigin">The configured public origin, if any.</param>
/// <param name="TrustedProxies">The configured trusted proxies.</param>
/// <param name="Since">The start of the period the paths were learned over.</param>
/// <param name="Paths">The paths customers came by, the most recent first.</param>
/// <param name="Issues">The problems seen on them, with fixes.</param>
public sealed record DeploymentView(string? PublicOrigin, IReadOnlyList<string> TrustedProxies, DateTimeOffset Since, IReadOnlyList<DeploymentPath> Paths, IReadOnlyList<DeploymentIssue> Issues);

/// <summary>The session an admin's deployment check runs in, and the targets it probes.</summary>
public sealed record DeploymentCheckStarted(Guid SessionId, Guid RunId, IReadOnlyList<string> Targets);

/// <summary>
/// The admin's view of the portal's own deployment: how customers reach it (from the <c>server.connection</c>
/// observations of real pages) and a check that probes the portal through its public origin with the same probes and
/// rules as a customer's path.
/// </summary>
public sealed partial class DeploymentCheck(
    NpgsqlDataSource dataSource, SessionService sessions, ProbeService probes, PortalOrigins origins, DiagKeys diagKeys,
    IOptionsMonitor<PortalOptions> options, TimeProvider time, ILogger<DeploymentCheck> logger)
{
    /// <summary>How far back the paths are learned from.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromDays(7);

    /// <summary>The name the check's sessions carry, so the sessions list tells them from customers'.</summary>
    public const string SessionName = "Deployment check";

    /// <summary>The paths customers came by over <see cref="Period"/>, and the problems seen on them.</summary>
    public async Task<DeploymentView> ViewAsync(CancellationToken cancellationToken)
    {
        var since = time.GetUtcNow() - Period;
        const string Sql = """
            SELECT coalesce(detail->>'pageOrigin', ''), coalesce(detail->>'host', ''), coalesce(detail->>'peerAddress', ''), coalesce((detail->>'viaTrustedProxy')::boolean, false),
                   coalesce((detail->>'frontProxy')::boolean, false), coalesce(detail->'deploymentProblems', '[]'::jsonb)::text,
                   count(*), count(*) FILTER (WHERE metrics->>'upgradeHeadersPresent' = '0'), max(received_at)
            FROM results
            WHERE step = 'server.connection' AND received_at >= $1
            GROUP BY 1, 2, 3, 4, 5, 6
            ORDER BY max(received_at) DESC
            LIMIT 50
            """;
        var paths = new List<DeploymentPath>();
        await using (var command = dataSource.CreateCommand(Sql))
        {
            command.Parameters.AddWithValue(since);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                string? Text(int i) => reader.GetString(i) is { Length: > 0 } t ? t : null;
                paths.Add(new DeploymentPath(
                    Text(0), Text(1), Text(2), reader.GetBoolean(3), reader.GetBoolean(4), JsonSerializer.Deserialize<List<string>>(reader.GetString(5)) ?? [],
                    reader.GetInt64(6), reader.GetInt64(7), await reader.GetFieldValueAsync<DateTimeOffset>(8, cancellationToken)));
            }
        }

        var issues = paths
            .SelectMany(p => p.Problems.Select(code => (Code: code, Path: p)))
            .Concat(paths.Where(p => p.FrontProxy && p.UpgradesWithoutHeaders > 0).Select(p => (Code: DeploymentProblems.UpgradeNotForwarded, Path: p)))
            .GroupBy(x => x.Code, StringComparer.Ordinal)
            .Select(g => Diagnoser.DeploymentAdvice(g.Key, g.First().Path.Peer, g.First().Path.PageOrigin) is { } advice
                ? new DeploymentIssue(g.Key, advice.What, advice.Fix, g.Sum(x => g.Key == DeploymentProblems.UpgradeNotForwarded ? x.Path.UpgradesWithoutHeaders : x.Path.Connections))
                : null)
            .OfType<DeploymentIssue>()
            .OrderByDescending(i => i.Connections)
            .ToList();
        var settings = options.CurrentValue;
        return new DeploymentView(settings.PublicOrigin, settings.TrustedProxies, since, paths, issues);
    }

    /// <summary>
    /// Probes the portal through <paramref name="publicOrigin"/> (its configured public origin, else the one the admin
    /// reached it on) in a new session: the WebSocket upgrade and echo, a quiet WebSocket held for the sessions' default
    /// idle period, the first Server-Sent Event's delay and a 2 MiB POST. The findings are the same rules' as a customer's.
    /// </summary>
    /// <returns>The check's session, or null when the public origin is not an http(s) origin (a misconfigured <c>Portal__PublicOrigin</c>).</returns>
    public async Task<DeploymentCheckStarted?> StartAsync(string publicOrigin, string? userId, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(origins.LinkBase(publicOrigin), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            return null;
        }

        var origin = uri.GetLeftPart(UriPartial.Authority);
        var idle = options.CurrentValue.Links.DefaultIdleSeconds;
        var created = await sessions.CreateAsync(new NewSession(SessionName, TicketRef: null, Targets: [origin], IdleSeconds: idle), userId, cancellationToken);
        // The test endpoints serve holders of a live link's key: the check holds its own session's, like a customer page.
        var key = diagKeys.Mint(created.Session.Id);
        var socket = $"{(uri.Scheme == "https" ? "wss://" : "ws://")}{uri.Authority}{EchoEndpoint.Path}?{DiagKeys.Parameter}={key}";
        var runId = Guid.NewGuid();
        var targets = new List<ProbeTarget>();
        foreach (var text in (string[])[socket, origin])
        {
            if (ProbeTarget.TryParse(text, out var target, out _))
            {
                targets.Add(target);
            }
        }

        // The portal's own public host is allowed for this check even where the guard forbids it (a portal on a
        // private network); metadata addresses stay forbidden, and every other target keeps the usual guard.
        var guard = targets.Count > 0 ? probes.Prober.Guard.AlsoAllowing(targets[0].Host) : probes.Prober.Guard;
        probes.Enqueue(new ProbeJob(created.Session.Id, runId, targets, idle, CompleteRun: true, guard, PortalDiagKey: key));
        Log.Started(logger, origin);
        return new DeploymentCheckStarted(created.Session.Id, runId, [.. targets.Select(t => t.ToString())]);
    }

    /// <summary>Logs one line per deployment problem seen recently, with its fix: called once at start-up.</summary>
    public async Task LogProblemsAsync(CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        if (settings.PublicOrigin is { Length: > 0 } configured && !(Uri.TryCreate(configured, UriKind.Absolute, out var u) && u.Scheme is "http" or "https" && u.AbsolutePath == "/"))
        {
            Log.BadPublicOrigin(logger, configured);
        }

        var view = await ViewAsync(cancellationToken);
        foreach (var issue in view.Issues)
        {
            Log.Problem(logger, issue.Code, issue.Connections, issue.What, issue.Fix);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Deployment: {Code} on {Connections} customer connection(s) in the last 7 days: {What}. Fix: {Fix}")]
        public static partial void Problem(ILogger logger, string code, long connections, string what, string fix);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Deployment: Portal__PublicOrigin '{Origin}' is not an origin (http(s)://host[:port], no path); links are built on it as written")]
        public static partial void BadPublicOrigin(ILogger logger, string origin);

        [LoggerMessage(Level = LogLevel.Information, Message = "Deployment check of {Origin} started")]
        public static partial void Started(ILogger logger, string origin);
    }
}

/// <summary>Logs the deployment problems the portal can see, once, when it has started.</summary>
public sealed partial class DeploymentStartupCheck(DeploymentCheck check, ILogger<DeploymentStartupCheck> logger) : BackgroundService
{
    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await check.LogProblemsAsync(stoppingToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
        {
            NotChecked(logger, ex.GetType().Name);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Deployment: the problems of the portal's deployment could not be read at start-up ({Error})")]
    private static partial void NotChecked(ILogger logger, string error);
}
