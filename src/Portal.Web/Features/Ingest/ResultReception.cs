using System.Text.Json;
using Portal.Core.Results;

namespace Portal.Web.Features.Ingest;

/// <summary>Either an acknowledgement or a plain-words reason the message was refused.</summary>
public readonly record struct Reception(IngestAck? Ack, string? Problem, IDictionary<string, string[]>? Errors = null)
{
    public T Match<T>(Func<IngestAck, T> accepted, Func<string, T> refused) => Ack is { } a ? accepted(a) : refused(Problem!);
}

/// <summary>
/// Validation in front of <see cref="RunIngest"/>, shared by every way a result arrives, so the hub, the HTTP
/// fallback and beacons accept and refuse exactly the same things.
/// </summary>
public sealed class ResultReception(RunIngest ingest, PortalRefusals refusals, Operations.PortalMetrics metrics)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The longest verdict accepted.</summary>
    public const int MaxVerdictLength = 500;

    /// <summary>Validates and stores one result.</summary>
    public async Task<Reception> ReceiveAsync(Guid sessionId, ResultSubmission? result, string source, string transport, string? userAgent, CancellationToken cancellationToken, int? receivedBytes = null)
    {
        if (result is null)
        {
            return new(null, "The result is missing.");
        }

        var size = receivedBytes ?? JsonSerializer.SerializeToUtf8Bytes(result, Json).Length;
        var errors = ResultValidator.Validate(result, size);
        if (errors.Count > 0)
        {
            var problem = "The result is not valid: " + string.Join(" ", errors.Values.SelectMany(v => v));
            var tooLarge = size > ResultValidator.MaxResultBytes;
            await refusals.RecordAsync(sessionId, result.RunId, tooLarge ? RefusalReasons.TooLarge : RefusalReasons.Invalid, tooLarge ? 413 : 400,
                $"a result of {Truncate(result.Step ?? "", 64)} ({Truncate(problem, 300)})", transport, cancellationToken);
            return new(null, problem, errors);
        }

        var outcome = await ingest.IngestAsync(sessionId, result, source, transport, userAgent, cancellationToken);
        if (outcome == IngestOutcome.Stored)
        {
            metrics.ResultStored(transport);
            if (result.Step == KnownSteps.ServerConnection)
            {
                // A run's first message is the portal's observation of its connection: the run starts here.
                metrics.RunStarted();
            }
        }

        return outcome == IngestOutcome.ForeignRun
            ? new(null, "The run belongs to another session.")
            : new(new IngestAck(result.Id, outcome == IngestOutcome.Stored, transport), null);
    }

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length] + "…";

    /// <summary>Validates and records the end of a run.</summary>
    public async Task<Reception> CompleteAsync(Guid sessionId, Guid runId, string? verdict, string transport, string? userAgent, CancellationToken cancellationToken)
    {
        if (runId == Guid.Empty)
        {
            return new(null, "The runId is missing.");
        }

        if (verdict is null || verdict.Length > MaxVerdictLength)
        {
            return new(null, $"The verdict must be present and at most {MaxVerdictLength} characters.");
        }

        if (StoredText.Problem(verdict) is { } unstorable)
        {
            return new(null, $"The verdict {unstorable}.");
        }

        var outcome = await ingest.CompleteAsync(sessionId, runId, verdict, userAgent, cancellationToken);
        if (outcome == IngestOutcome.Stored)
        {
            metrics.RunCompleted();
        }

        return outcome switch
        {
            IngestOutcome.ForeignRun => new(null, "The run belongs to another session."),
            IngestOutcome.NotStarted => new(null, "The run has no results: there is nothing to complete."),
            _ => new(new IngestAck(runId, outcome == IngestOutcome.Stored, transport), null),
        };
    }
}
