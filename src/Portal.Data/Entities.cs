using Microsoft.AspNetCore.Identity;

namespace Portal.Data;

/// <summary>An engineer or admin who logs in to the console.</summary>
public sealed class PortalUser : IdentityUser
{
    /// <summary>When the account was created.</summary>
    public DateTimeOffset CreatedAt { get; set; }
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
