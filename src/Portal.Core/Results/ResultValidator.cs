using System.Text.Json;

namespace Portal.Core.Results;

/// <summary>
/// Checks a result before anything is stored. Every limit is explicit here, and every refusal says in
/// plain words what was wrong.
/// </summary>
public static class ResultValidator
{
    /// <summary>The largest result accepted, in bytes of UTF-8 JSON.</summary>
    public const int MaxResultBytes = 64 * 1024;

    /// <summary>The longest step name accepted.</summary>
    public const int MaxStepLength = 64;

    /// <summary>
    /// Returns the problems with a submission, keyed by field, or an empty dictionary when it is acceptable.
    /// </summary>
    /// <param name="submission">The submission to check.</param>
    /// <param name="serializedBytes">Its size as received, in bytes.</param>
    public static Dictionary<string, string[]> Validate(ResultSubmission submission, int serializedBytes)
    {
        ArgumentNullException.ThrowIfNull(submission);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);

        if (serializedBytes > MaxResultBytes)
        {
            errors["result"] = [$"A result may be at most {MaxResultBytes} bytes; this one is {serializedBytes}."];
        }

        if (submission.Id == Guid.Empty)
        {
            errors["id"] = ["The result needs a non-empty id."];
        }

        if (submission.RunId == Guid.Empty)
        {
            errors["runId"] = ["The result needs a non-empty runId."];
        }

        if (!IsStepName(submission.Step))
        {
            errors["step"] = [$"The step name must be 1–{MaxStepLength} lower-case letters, digits, '.', '-' or '_'."];
        }

        if (submission.Status is null || !ResultStatus.All.Contains(submission.Status, StringComparer.Ordinal))
        {
            errors["status"] = [$"The status must be one of: {string.Join(", ", ResultStatus.All)}."];
        }

        CheckObject(submission.Metrics, "metrics", errors);
        CheckObject(submission.Detail, "detail", errors);

        return errors;
    }

    private static void CheckObject(JsonElement? element, string field, Dictionary<string, string[]> errors)
    {
        if (element is not { } e || e.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return;
        }

        var name = char.ToUpperInvariant(field[0]) + field[1..];
        if (e.ValueKind != JsonValueKind.Object)
        {
            errors[field] = [$"{name} must be a JSON object."];
        }
        else if (StoredText.Problem(e, field) is { } problem)
        {
            // What PostgreSQL's jsonb cannot hold (NUL, a lone surrogate, a number beyond a double) is refused whole.
            errors[field] = [$"{problem.Path} {problem.Problem}."];
        }
    }

    private static bool IsStepName(string? step)
    {
        if (string.IsNullOrEmpty(step) || step.Length > MaxStepLength)
        {
            return false;
        }

        foreach (var c in step)
        {
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '-' or '_'))
            {
                return false;
            }
        }

        return true;
    }
}
