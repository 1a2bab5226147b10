using Microsoft.AspNetCore.Identity;

namespace Portal.Data;

/// <summary>An engineer or admin who logs in to the console.</summary>
public sealed class PortalUser : IdentityUser
{
    /// <summary>When the account was created.</summary>
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>When an admin disabled the account; null while it is enabled. Not the lockout of failed log-ins.</summary>
    public DateTimeOffset? DisabledAt { get; set; }
}

/// <summary>A diagnostic session: one ticket, one customer link, any number of runs.</summary>
public sealed class DiagnosticSession
{
    public Guid Id { get; set; }

    public string? CustomerName { get; set; }

    public string? TicketRef { get; set; }

    /// <summary>The user who created the session; null when it came through the API.</summary>
    public string? CreatedById { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>SHA-256 of the customer link's token; the token itself is never stored.</summary>
    public byte[] TokenHash { get; set; } = [];

    public DateTimeOffset ExpiresAt { get; set; }

    /// <summary><c>open</c> or <c>closed</c>.</summary>
    public string Status { get; set; } = SessionStatus.Open;

    /// <summary>How long the idle-survival step keeps a socket quiet, in seconds.</summary>
    public int IdleSeconds { get; set; }

    /// <summary>The customer's own endpoints, probed and tested alongside the portal.</summary>
    public List<string> Targets { get; set; } = [];

    /// <summary>When an engineer revoked the customer link; null while it works (until it expires).</summary>
    public DateTimeOffset? LinkRevokedAt { get; set; }

    /// <summary>When the session was last closed.</summary>
    public DateTimeOffset? ClosedAt { get; set; }

    /// <summary>The language the engineer chose for the customer's page (<c>de</c>, <c>ja</c>…); null: the customer's browser decides.</summary>
    public string? Language { get; set; }

    public List<Run> Runs { get; set; } = [];
}

/// <summary>The statuses of a session.</summary>
public static class SessionStatus
{
    public const string Open = "open";
    public const string Closed = "closed";
}

/// <summary>One press of <b>Run test</b> on the customer's page.</summary>
public sealed class Run
{
    /// <summary>The client-made id of the run.</summary>
    public Guid Id { get; set; }

    public Guid SessionId { get; set; }

    /// <summary><c>running</c> or <c>completed</c>.</summary>
    public string Status { get; set; } = RunStatus.Running;

    public DateTimeOffset StartedAt { get; set; }

    public DateTimeOffset? CompletedAt { get; set; }

    public string? UserAgent { get; set; }

    /// <summary>The verdict the customer's page showed when the run ended.</summary>
    public string? Verdict { get; set; }

    /// <summary>When the run started the session's server probes (once per run).</summary>
    public DateTimeOffset? ProbesStartedAt { get; set; }

    public List<StoredResult> Results { get; set; } = [];
}

/// <summary>The statuses of a run.</summary>
public static class RunStatus
{
    public const string Running = "running";
    public const string Completed = "completed";
}

/// <summary>A result as stored: the facts of one step, never changed after it is written.</summary>
public sealed class StoredResult
{
    /// <summary>The client-made id; a second copy of the same result is not stored.</summary>
    public Guid Id { get; set; }

    public Guid RunId { get; set; }

    public Guid SessionId { get; set; }

    public string Step { get; set; } = "";

    public string Status { get; set; } = "";

    /// <summary><c>client</c> or <c>server</c>.</summary>
    public string Source { get; set; } = "";

    /// <summary>The step's numbers, as a JSON object.</summary>
    public string Metrics { get; set; } = "{}";

    /// <summary>Anything else the step said, as a JSON object.</summary>
    public string Detail { get; set; } = "{}";

    /// <summary>False when the step's name is not one the portal knows.</summary>
    public bool KnownStep { get; set; }

    /// <summary>How the result reached the portal: <c>websockets</c>, <c>serversentevents</c>, <c>longpolling</c>, <c>http</c>, <c>beacon</c> or <c>server</c>.</summary>
    public string Transport { get; set; } = "";

    public DateTimeOffset? ClientTime { get; set; }

    public DateTimeOffset ReceivedAt { get; set; }
}

/// <summary>A key for the REST API; only its hash is stored.</summary>
public sealed class ApiKey
{
    public Guid Id { get; set; }

    public string Name { get; set; } = "";

    /// <summary>SHA-256 of the key.</summary>
    public byte[] KeyHash { get; set; } = [];

    /// <summary>The first characters of the key, to tell keys apart in lists.</summary>
    public string Prefix { get; set; } = "";

    /// <summary>The user the key acts as.</summary>
    public string UserId { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? RevokedAt { get; set; }
}

/// <summary>A finding of a run, as the rules engine last evaluated it.</summary>
public sealed class StoredFinding
{
    public Guid RunId { get; set; }

    public Guid SessionId { get; set; }

    /// <summary>The finding's stable code.</summary>
    public string Code { get; set; } = "";

    /// <summary>critical, warning or info.</summary>
    public string Severity { get; set; } = "";

    public string Summary { get; set; } = "";

    /// <summary>The results it rests on and their figures, as a JSON array.</summary>
    public string Evidence { get; set; } = "[]";

    public string Recommendation { get; set; } = "";

    public DateTimeOffset EvaluatedAt { get; set; }
}

/// <summary>A note an engineer left on a session, shared with everyone watching it.</summary>
public sealed class Note
{
    public Guid Id { get; set; }

    public Guid SessionId { get; set; }

    public string? AuthorId { get; set; }

    public string AuthorName { get; set; } = "";

    public string Body { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>An open console page watching a session, kept fresh by a heartbeat.</summary>
public sealed class Presence
{
    public Guid CircuitId { get; set; }

    public Guid SessionId { get; set; }

    public string UserId { get; set; } = "";

    public string UserName { get; set; } = "";

    public DateTimeOffset SeenAt { get; set; }
}

/// <summary>A read-only link to a session's report for people without an account; only its hash is stored.</summary>
public sealed class ShareLink
{
    public Guid Id { get; set; }

    public Guid SessionId { get; set; }

    /// <summary>SHA-256 of the link's token.</summary>
    public byte[] TokenHash { get; set; } = [];

    public string? CreatedById { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public DateTimeOffset? RevokedAt { get; set; }
}

/// <summary>A setting admins change at run time, as JSON.</summary>
public sealed class Setting
{
    public string Key { get; set; } = "";

    public string Value { get; set; } = "null";

    public DateTimeOffset UpdatedAt { get; set; }

    public string? UpdatedBy { get; set; }
}

/// <summary>A URL the portal POSTs events to, signed with the webhook's secret.</summary>
public sealed class Webhook
{
    public Guid Id { get; set; }

    public string Url { get; set; } = "";

    /// <summary>The HMAC-SHA256 key; needed in clear to sign, shown to the admin once.</summary>
    public string Secret { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? DisabledAt { get; set; }
}

/// <summary>One event to deliver to one webhook, and how its attempts went.</summary>
public sealed class WebhookDelivery
{
    public Guid Id { get; set; }

    public Guid WebhookId { get; set; }

    public string Event { get; set; } = "";

    public Guid? SessionId { get; set; }

    public Guid? RunId { get; set; }

    public string Payload { get; set; } = "{}";

    public DateTimeOffset CreatedAt { get; set; }

    public int Attempts { get; set; }

    /// <summary>When to try again; null once delivered or given up.</summary>
    public DateTimeOffset? NextAttemptAt { get; set; }

    public DateTimeOffset? DeliveredAt { get; set; }

    public int? LastStatus { get; set; }

    public string? LastError { get; set; }
}
