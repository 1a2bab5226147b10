using System.Text.Json;

namespace Portal.Core.Results;

/// <summary>
/// What PostgreSQL cannot store, found before anything is written: the NUL character (text and jsonb refuse it), a
/// lone UTF-16 surrogate (not a character: it cannot be encoded as UTF-8), a number jsonb or a double cannot hold
/// (<c>1e400000</c>), and JSON nested deeper than anything the portal sends. Each problem is said in plain words so
/// the caller's 400 names the field and the fault, and nothing half-written is left behind.
/// </summary>
public static class StoredText
{
    /// <summary>The deepest JSON nesting accepted in metrics and details.</summary>
    public const int MaxDepth = 16;

    /// <summary>The problem with a text, or null when it can be stored.</summary>
    public static string? Problem(string? text)
    {
        if (text is null)
        {
            return null;
        }

        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0')
            {
                return "must not contain the NUL character (U+0000)";
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return $"contains a lone surrogate (U+{(int)c:X4}) at position {i + 1}, which is not a character";
            }
        }

        return null;
    }

    /// <summary>The problem with a JSON value and where it is (a path below <paramref name="field"/>), or null.</summary>
    public static (string Path, string Problem)? Problem(JsonElement element, string field) => Walk(element, field, 0);

    private static (string Path, string Problem)? Walk(JsonElement element, string path, int depth)
    {
        if (depth > MaxDepth)
        {
            return (path, $"is nested more than {MaxDepth} levels deep");
        }

        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        return (path, "has a property name with a lone surrogate, which is not a character");
                    }

                    if (Problem(name) is { } nameProblem)
                    {
                        return ($"{path}.{Printable(name)}", "has a name that " + nameProblem);
                    }

                    if (Walk(property.Value, $"{path}.{name}", depth + 1) is { } inner)
                    {
                        return inner;
                    }
                }

                return null;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (Walk(item, $"{path}[{index++}]", depth + 1) is { } inner)
                    {
                        return inner;
                    }
                }

                return null;
            case JsonValueKind.String:
                try
                {
                    return Problem(element.GetString()) is { } problem ? (path, problem) : null;
                }
                catch (InvalidOperationException)
                {
                    return (path, "contains a lone surrogate, which is not a character");
                }

            case JsonValueKind.Number:
                return element.TryGetDouble(out var number) && double.IsFinite(number)
                    ? null
                    : (path, $"is a number out of range ({Shorten(element.GetRawText())}): at most ±1.7e308");
            default:
                return null;
        }
    }

    private static string Printable(string name) => string.Concat(name.Select(c => c == '\0' ? "\\u0000" : c.ToString()));

    private static string Shorten(string text) => text.Length <= 24 ? text : text[..24] + "…";
}
