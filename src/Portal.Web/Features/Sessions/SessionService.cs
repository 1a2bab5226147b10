using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Portal.Core.Diagnosis;
using Portal.Core.Sessions;
using Portal.Data;
using Portal.Data.Events;

using Portal.Core.Results;

namespace Portal.Web.Features.Sessions;

/// <summary>What an engineer or a helpdesk system asks for when opening a session.</summary>
/// <param name="CustomerName">Who the session is for.</param>
/// <param name="TicketRef">The helpdesk ticket it belongs to.</param>
/// <param name="Targets">The customer's own endpoints to test too.</param>
/// <param name="IdleSeconds">How long the idle-survival step stays quiet.</param>
/// <param name="Language">The customer page's language (<c>de</c>, <c>ja</c>…); null lets the customer's browser decide.</param>
public sealed record NewSession(string? CustomerName = null, string? TicketRef = null, List<string>? Targets = null, int? IdleSeconds = null, string? Language = null);

/// <summary>A session just created, with the only copy of its link's token.</summary>
public sealed record CreatedSession(DiagnosticSession Session, string Token);

/// <summary>
/// A row of the sessions list. <paramref name="Findings"/> are the findings of the session's newest run that has
/// any, most serious first: where the case stands now, not every code it ever had.
/// </summary>
public sealed record SessionSummary(
    Guid Id, string? CustomerName, string? TicketRef, string Status, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, int Runs,
    DateTimeOffset? LastResultAt, string? Engineer, IReadOnlyList<FindingTag> Findings);

/// <summary>A finding as the sessions list shows it: its code and severity.</summary>
public sealed record FindingTag(string Code, string Severity);

/// <summary>A console account, as the sessions list's engineer filter names it.</summary>
public sealed record Person(string Id, string Email);

/// <summary>What the sessions list is filtered by; every field is optional.</summary>
/// <param name="Search">Text in the customer's name or the ticket reference.</param>
/// <param name="Customer">Text in the customer's name.</param>
/// <param name="Ticket">Text in the ticket reference.</param>
/// <param name="EngineerId">The user who created the session.</param>
/// <param name="Status">open or closed.</param>
/// <param name="FindingCode">A finding code some run of the session has.</param>
/// <param name="From">Created at or after.</param>
/// <param name="To">Created before.</param>
public sealed record SessionQuery(
    string? Search = null, string? Customer = null, string? Ticket = null, string? EngineerId = null, string? Status = null,
    string? FindingCode = null, DateTimeOffset? From = null, DateTimeOffset? To = null);

/// <summary>Creates, lists and reads sessions.</summary>
public sealed class SessionService(IDbContextFactory<PortalDbContext> contexts, TimeProvider time, IOptions<PortalOptions> options)
{
    public const int MaxCustomerName = 200;
    public const int MaxTicketRef = 100;
    public const int MaxTargets = 20;
    public const int MaxTargetLength = 2048;
    public const int MinIdleSeconds = 5;
    public const int MaxIdleSeconds = 900;

    /// <summary>Checks a request; returns the problems by field, empty when it is acceptable.</summary>
    public static Dictionary<string, string[]> Validate(NewSession input, Portal.Probes.AddressGuard guard)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(guard);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (input.CustomerName?.Length > MaxCustomerName)
        {
            errors["customerName"] = [$"At most {MaxCustomerName} characters."];
        }
        else if (StoredText.Problem(input.CustomerName) is { } name)
        {
            errors["customerName"] = [$"The customer name {name}."];
        }

        if (input.TicketRef?.Length > MaxTicketRef)
        {
            errors["ticketRef"] = [$"At most {MaxTicketRef} characters."];
        }
        else if (StoredText.Problem(input.TicketRef) is { } ticket)
        {
            errors["ticketRef"] = [$"The ticket reference {ticket}."];
        }

        if (input.Language is { } language && !CustomerLink.CustomerStrings.IsSupported(language))
        {
            errors["language"] = [$"One of {string.Join(", ", CustomerLink.CustomerStrings.Supported)}, or none to follow the customer's browser."];
        }

        if (input.IdleSeconds is { } idle && (idle < MinIdleSeconds || idle > MaxIdleSeconds))
        {
            errors["idleSeconds"] = [$"Between {MinIdleSeconds} and {MaxIdleSeconds} seconds."];
        }

        if (input.Targets is { } targets)
        {
            var problems = new List<string>();
            if (targets.Count > MaxTargets)
            {
                problems.Add($"At most {MaxTargets} targets.");
            }

            foreach (var target in targets)
            {
                if (target is not null && target.Length <= MaxTargetLength && !guard.TryAccept(target, out _, out var refused))
                {
                    // The portal probes a session's targets when its customer run starts: the address guard decides now
                    // (and names a control character, a space or a forbidden address precisely).
                    problems.Add(refused);
                }
                else if (target is null || target.Length > MaxTargetLength || !Uri.TryCreate(target, UriKind.Absolute, out var uri)
                    || uri.Scheme is not ("http" or "https" or "ws" or "wss"))
                {
                    problems.Add($"'{Shorten(target)}' is not an absolute http, https, ws or wss URL of at most {MaxTargetLength} characters.");
                }
            }

            if (problems.Count > 0)
            {
                errors["targets"] = [.. problems];
            }
        }

        return errors;
    }

    /// <summary>Creates a session and its link. The token is returned here once and never stored.</summary>
    public async Task<CreatedSession> CreateAsync(NewSession input, string? userId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        var now = time.GetUtcNow();
        var token = CapabilityToken.Create();
        var session = new DiagnosticSession
        {
            Id = Guid.CreateVersion7(now),
            CustomerName = Clean(input.CustomerName),
            TicketRef = Clean(input.TicketRef),
            CreatedById = userId,
            CreatedAt = now,
            TokenHash = CapabilityToken.Hash(token),
            ExpiresAt = now + options.Value.Links.Lifetime,
            Status = SessionStatus.Open,
            IdleSeconds = input.IdleSeconds ?? options.Value.Links.DefaultIdleSeconds,
            Targets = input.Targets?.Select(t => t.Trim()).ToList() ?? [],
            Language = input.Language,
        };
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        db.Sessions.Add(session);
        await db.SaveChangesAsync(cancellationToken);
        return new CreatedSession(session, token);
    }

    /// <summary>Replaces a session's link with a new one; the old link stops working at once.</summary>
    public async Task<string?> RenewLinkAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var session = await db.Sessions.FirstOrDefaultAsync(s => s.Id == id, cancellationToken);
        if (session is null)
        {
            return null;
        }

        var token = CapabilityToken.Create();
        session.TokenHash = CapabilityToken.Hash(token);
        session.ExpiresAt = time.GetUtcNow() + options.Value.Links.Lifetime;
        session.LinkRevokedAt = null;
        await db.SaveChangesAsync(cancellationToken);
        await NotifyAsync(db, id, cancellationToken);
        return token;
    }

    /// <summary>The newest sessions first that match the query, a page at a time, and how many match in all.</summary>
    public async Task<(IReadOnlyList<SessionSummary> Rows, int Total)> ListAsync(SessionQuery query, int skip, int take, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var sessions = db.Sessions.AsNoTracking();
        if (Like(query.Search) is { } search)
        {
            sessions = sessions.Where(s => EF.Functions.ILike(s.CustomerName ?? "", search, "\\") || EF.Functions.ILike(s.TicketRef ?? "", search, "\\"));
        }

        if (Like(query.Customer) is { } customer)
        {
            sessions = sessions.Where(s => EF.Functions.ILike(s.CustomerName ?? "", customer, "\\"));
        }

        if (Like(query.Ticket) is { } ticket)
        {
            sessions = sessions.Where(s => EF.Functions.ILike(s.TicketRef ?? "", ticket, "\\"));
        }

        if (!string.IsNullOrEmpty(query.EngineerId))
        {
            sessions = sessions.Where(s => s.CreatedById == query.EngineerId);
        }

        if (!string.IsNullOrEmpty(query.Status))
        {
            sessions = sessions.Where(s => s.Status == query.Status);
        }

        if (!string.IsNullOrEmpty(query.FindingCode))
        {
            sessions = sessions.Where(s => db.Findings.Any(f => f.SessionId == s.Id && f.Code == query.FindingCode));
        }

        if (query.From is { } from)
        {
            sessions = sessions.Where(s => s.CreatedAt >= from);
        }

        if (query.To is { } to)
        {
            sessions = sessions.Where(s => s.CreatedAt < to);
        }

        var total = await sessions.CountAsync(cancellationToken);
        var rows = await sessions
            .OrderByDescending(s => s.CreatedAt)
            .Skip(Math.Max(0, skip))
            .Take(Math.Clamp(take, 1, 200))
            .Select(s => new SessionSummary(
                s.Id, s.CustomerName, s.TicketRef, s.Status, s.CreatedAt, s.ExpiresAt,
                s.Runs.Count,
                db.Results.Where(r => r.SessionId == s.Id).Max(r => (DateTimeOffset?)r.ReceivedAt),
                db.Users.Where(u => u.Id == s.CreatedById).Select(u => u.Email).FirstOrDefault(),
                db.Findings
                    .Where(f => f.SessionId == s.Id && f.RunId == db.Findings.Where(g => g.SessionId == s.Id)
                        .Join(db.Runs, g => g.RunId, r => r.Id, (g, r) => r)
                        .OrderByDescending(r => r.StartedAt).Select(r => r.Id).FirstOrDefault())
                    .Select(f => new FindingTag(f.Code, f.Severity)).ToList()))
            .ToListAsync(cancellationToken);
        // Most serious first, ranked as everywhere else (the rank does not translate to SQL; a run has a few findings).
        return ([.. rows.Select(r => r with
        {
            Findings = [.. r.Findings.OrderBy(f => Severity.Rank(f.Severity)).ThenBy(f => f.Code, StringComparer.Ordinal)],
        })], total);
    }

    /// <summary>Closes or reopens a session; a closed session's link takes no runs. False when there is no such session.</summary>
    public async Task<bool> SetClosedAsync(Guid id, bool closed, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var now = time.GetUtcNow();
        var changed = closed
            ? await db.Sessions.Where(s => s.Id == id).ExecuteUpdateAsync(u => u.SetProperty(s => s.Status, SessionStatus.Closed).SetProperty(s => s.ClosedAt, now), cancellationToken)
            : await db.Sessions.Where(s => s.Id == id).ExecuteUpdateAsync(u => u.SetProperty(s => s.Status, SessionStatus.Open), cancellationToken);
        await NotifyAsync(db, id, cancellationToken);
        return changed > 0;
    }

    /// <summary>Revokes the customer link at once: it answers as expired from now on. False when there is no such session.</summary>
    public async Task<bool> RevokeLinkAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var now = time.GetUtcNow();
        var changed = await db.Sessions.Where(s => s.Id == id)
            .ExecuteUpdateAsync(u => u.SetProperty(s => s.ExpiresAt, s => s.ExpiresAt < now ? s.ExpiresAt : now).SetProperty(s => s.LinkRevokedAt, now), cancellationToken);
        await NotifyAsync(db, id, cancellationToken);
        return changed > 0;
    }

    /// <summary>
    /// Asks the session's open customer pages to run the test again (<b>Run again</b>, from the console or the API). The
    /// request travels the event bus, so it reaches a page on whichever instance its hub connection is
    /// (<see cref="Ingest.OpenLinks"/> hands it to that instance's pages).
    /// </summary>
    public async Task<RunRequest> RequestRunAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var now = time.GetUtcNow();
        var state = await db.Sessions.AsNoTracking().Where(s => s.Id == id).Select(s => new { s.Status, s.ExpiresAt }).FirstOrDefaultAsync(cancellationToken);
        if (state is null)
        {
            return RunRequest.NoSession;
        }

        if (state.Status != SessionStatus.Open || state.ExpiresAt <= now)
        {
            return RunRequest.LinkClosed;
        }

        await NotifyAsync(db, id, cancellationToken, PortalEventKinds.RunRequested);
        return RunRequest.Sent;
    }

    /// <summary>The people who can own sessions, for the list's engineer filter.</summary>
    public async Task<IReadOnlyList<Person>> PeopleAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Users.AsNoTracking().OrderBy(u => u.Email).Select(u => new Person(u.Id, u.Email ?? u.Id)).ToListAsync(cancellationToken);
    }

    private static readonly JsonSerializerOptions EventJson = new(JsonSerializerDefaults.Web);

    /// <summary>Tells every watcher of the session, on every instance, that the session changed.</summary>
    internal static Task NotifyAsync(PortalDbContext db, Guid sessionId, CancellationToken cancellationToken, string kind = PortalEventKinds.SessionChanged) =>
        db.Database.ExecuteSqlRawAsync(
            "SELECT pg_notify({0}, {1})",
            [PortalEvents.Channel, JsonSerializer.Serialize(new PortalEvent(kind, sessionId), EventJson)],
            cancellationToken);

    /// <summary>A LIKE pattern matching the text anywhere, with the pattern characters escaped; null for no text.</summary>
    private static string? Like(string? text) =>
        string.IsNullOrWhiteSpace(text) ? null : "%" + text.Trim().Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%";

    /// <summary>A session with its runs and results, or null.</summary>
    public async Task<SessionDetail?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var session = await db.Sessions.AsNoTracking().FirstOrDefaultAsync(s => s.Id == id, cancellationToken);
        if (session is null)
        {
            return null;
        }

        var runs = await db.Runs.AsNoTracking().Where(r => r.SessionId == id).OrderBy(r => r.StartedAt).ToListAsync(cancellationToken);
        var results = await db.Results.AsNoTracking().Where(r => r.SessionId == id).OrderBy(r => r.ReceivedAt).ToListAsync(cancellationToken);
        var findings = await db.Findings.AsNoTracking().Where(f => f.SessionId == id).ToListAsync(cancellationToken);
        return SessionDetail.From(session, runs, results, findings);
    }

    /// <summary>A session's findings, most serious first: what a watching page replaces when they change.</summary>
    public async Task<List<FindingDetail>> FindingsAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return SessionDetail.Order(await db.Findings.AsNoTracking().Where(f => f.SessionId == sessionId).ToListAsync(cancellationToken));
    }

    /// <summary>Some of a session's results, by id, in the order they arrived: what a watching page appends.</summary>
    public async Task<List<ResultDetail>> ResultsAsync(Guid sessionId, IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var results = await db.Results.AsNoTracking().Where(r => r.SessionId == sessionId && ids.Contains(r.Id)).OrderBy(r => r.ReceivedAt).ToListAsync(cancellationToken);
        return [.. results.Select(ResultDetail.From)];
    }

    private static string? Clean(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();

    private static string Shorten(string? text) => text is null ? "null" : text.Length <= 60 ? text : text[..60] + "…";
}

/// <summary>What became of a request to run the test again (<see cref="SessionService.RequestRunAsync"/>).</summary>
public enum RunRequest
{
    /// <summary>Sent to every open page of the session, on every instance.</summary>
    Sent,

    /// <summary>No session has this id.</summary>
    NoSession,

    /// <summary>The session is closed or its link revoked or expired: its page takes no more runs.</summary>
    LinkClosed,
}

/// <summary>A session as the API and the console show it.</summary>
public sealed record SessionDetail(
    Guid Id,
    string? CustomerName,
    string? TicketRef,
    string Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    DateTimeOffset? LinkRevokedAt,
    int IdleSeconds,
    IReadOnlyList<string> Targets,
    IReadOnlyList<RunDetail> Runs,
    IReadOnlyList<ResultDetail> Results,
    IReadOnlyList<FindingDetail> Findings,
    string? Language = null)
{
    public static SessionDetail From(DiagnosticSession s, IEnumerable<Run> runs, IEnumerable<StoredResult> results, IEnumerable<StoredFinding> findings)
    {
        var detail = new SessionDetail(
            s.Id, s.CustomerName, s.TicketRef, s.Status, s.CreatedAt, s.ExpiresAt, s.LinkRevokedAt, s.IdleSeconds, s.Targets,
            [.. runs.Select(r => new RunDetail(r.Id, r.Status, r.StartedAt, r.CompletedAt, r.UserAgent, r.Verdict))],
            [.. results.Select(ResultDetail.From)],
            Order(findings),
            s.Language);
        // Each finding's sentence for the customer, in the language that customer's page used for the run.
        return detail with { Findings = [.. detail.Findings.Select(f => f with { ForCustomer = f.CustomerSentences(detail.CustomerLanguageOf(f.RunId)) })] };
    }

    /// <summary>
    /// The language the customer's page was shown in for a run (its env result's <c>pageLanguage</c>), else the
    /// engineer's choice for the session; null when neither is known.
    /// </summary>
    public string? CustomerLanguageOf(Guid runId) =>
        Results.LastOrDefault(r => r.RunId == runId && r.Step == "env") is { Detail.ValueKind: JsonValueKind.Object } env
            && env.Detail.TryGetProperty("pageLanguage", out var code) && code.ValueKind == JsonValueKind.String
            ? code.GetString()
            : Language;

    /// <summary>Findings as the console and the API list them: most serious first, then by code.</summary>
    public static List<FindingDetail> Order(IEnumerable<StoredFinding> findings) =>
        [.. findings.OrderBy(f => Portal.Core.Diagnosis.Severity.Rank(f.Severity)).ThenBy(f => f.Code, StringComparer.Ordinal).Select(FindingDetail.From)];

    /// <summary>A run's number in the session, counting every run from 1 in the order they started (#2 is the second).</summary>
    public int NumberOf(RunDetail run) => Runs.OrderBy(r => r.StartedAt).ThenBy(r => r.Id).ToList().IndexOf(run) + 1;

    /// <summary>A run the portal made by probing (no browser behind it, every result from a probe), not a customer's.</summary>
    public bool IsProbeRun(RunDetail run) =>
        run.UserAgent is null && Results.Any(r => r.RunId == run.Id) && Results.Where(r => r.RunId == run.Id).All(r => r.Transport == "probe");

    /// <summary>The findings of one run, most serious first.</summary>
    public IEnumerable<FindingDetail> FindingsOf(Guid runId) => Findings.Where(f => f.RunId == runId);
}

/// <summary>A run as the API shows it.</summary>
public sealed record RunDetail(Guid Id, string Status, DateTimeOffset StartedAt, DateTimeOffset? CompletedAt, string? UserAgent, string? Verdict);

/// <summary>A result as the API shows it.</summary>
public sealed record ResultDetail(
    Guid Id, Guid RunId, string Step, string Status, string Source, JsonElement Metrics, JsonElement Detail,
    bool KnownStep, string Transport, DateTimeOffset? ClientTime, DateTimeOffset ReceivedAt)
{
    public static ResultDetail From(StoredResult r) => new(
        r.Id, r.RunId, r.Step, r.Status, r.Source, Parse(r.Metrics), Parse(r.Detail), r.KnownStep, r.Transport, r.ClientTime, r.ReceivedAt);

    internal static JsonElement Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }
}

/// <summary>A finding as the API shows it: its code, severity, summary, evidence (result ids and figures) and the fix.</summary>
public sealed record FindingDetail(Guid RunId, string Code, string Severity, string Summary, JsonElement Evidence, string Recommendation)
{
    /// <summary><c>portal</c> for a finding about the portal's own deployment (shown apart), <c>customer</c> otherwise.</summary>
    public string About => Portal.Core.Diagnosis.FindingCodes.IsAboutPortal(Code) ? "portal" : "customer";

    /// <summary>
    /// The sentence an engineer reads out or pastes to the customer, by language: English, and beside it the language
    /// the customer's page used; null for a finding that is not the customer's to act on.
    /// </summary>
    public IReadOnlyDictionary<string, string>? ForCustomer { get; init; }

    /// <summary>The customer's sentences for this finding in English and <paramref name="language"/> (<see cref="ForCustomer"/>).</summary>
    public IReadOnlyDictionary<string, string>? CustomerSentences(string? language)
    {
        var english = CustomerLink.CustomerStrings.FindingSentence(CustomerLink.CustomerStrings.Default, Code, Evidence);
        if (english is null)
        {
            return null;
        }

        var sentences = new Dictionary<string, string>(StringComparer.Ordinal) { [CustomerLink.CustomerStrings.Default] = english };
        if (language is not null && language != CustomerLink.CustomerStrings.Default && CustomerLink.CustomerStrings.FindingSentence(language, Code, Evidence) is { } translated)
        {
            sentences[language] = translated;
        }

        return sentences;
    }

    public static FindingDetail From(StoredFinding f) => new(f.RunId, f.Code, f.Severity, f.Summary, ResultDetail.Parse(f.Evidence), f.Recommendation);
}
