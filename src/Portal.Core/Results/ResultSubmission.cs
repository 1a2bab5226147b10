using System.Text.Json;

namespace Portal.Core.Results;

/// <summary>
/// One result of one test step as a reporter sends it: made by the customer's browser (or a server-side
/// observer), identified by a client-made id so that sending it twice stores it once.
/// </summary>
/// <param name="Id">The client-made id of the result; the unit of idempotence.</param>
/// <param name="RunId">The client-made id of the run the result belongs to.</param>
/// <param name="Step">The step's stable name, for example <c>ws.echo</c>.</param>
/// <param name="Status">One of <see cref="ResultStatus.All"/>.</param>
/// <param name="Metrics">Numbers the step measured, as a JSON object.</param>
/// <param name="Detail">Anything else the step wants to say, as a JSON object.</param>
/// <param name="ClientTime">When the step finished, by the reporter's clock.</param>
public sealed record ResultSubmission(
    Guid Id,
    Guid RunId,
    string Step,
    string Status,
    JsonElement? Metrics = null,
    JsonElement? Detail = null,
    DateTimeOffset? ClientTime = null);

/// <summary>The statuses a result may have.</summary>
public static class ResultStatus
{
    public const string Pass = "pass";
    public const string Warn = "warn";
    public const string Fail = "fail";
    public const string Error = "error";
    public const string Skipped = "skipped";
    public const string Blocked = "blocked";

    /// <summary>Every accepted status.</summary>
    public static IReadOnlyList<string> All { get; } = [Pass, Warn, Fail, Error, Skipped, Blocked];
}

/// <summary>Where a result was observed.</summary>
public static class ResultSource
{
    /// <summary>Measured by the customer's browser.</summary>
    public const string Client = "client";

    /// <summary>Observed or probed by the portal itself.</summary>
    public const string Server = "server";
}

/// <summary>The names of the test steps the portal knows. Results of other steps are stored but flagged.</summary>
public static class KnownSteps
{
    /// <summary>WebSocket echo against the portal's own echo endpoint.</summary>
    public const string WebSocketEcho = "ws.echo";

    /// <summary>What the portal saw of the customer's own connection (a server-side observation).</summary>
    public const string ServerConnection = "server.connection";

    /// <summary>A refusal of the portal's own on the run's path (a server-side record, see <see cref="RefusalReasons"/>).</summary>
    public const string ServerRefusal = "server.refusal";

    /// <summary>The portal stopped a target's probes that had not finished in time.</summary>
    public const string ProbeDeadline = "probe.deadline";

    // Every step of the catalogue, customer, server and probe (probe steps were once stored with known_step = false).
    private static readonly HashSet<string> Names = new(Contract.Steps.Select(s => s.Name), StringComparer.Ordinal);

    /// <summary>Whether the step is one the portal knows.</summary>
    public static bool IsKnown(string step) => Names.Contains(step);
}
