using System.Collections.Frozen;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Portal.Web.Features.CustomerLink;

/// <summary>
/// The customer page's words in the customer's language: one file per language (<c>Strings/{code}.json</c>, flat keys,
/// <c>{name}</c> placeholders), English the fallback per string. The engineer's side stays English; only the words a
/// customer reads are here. The page carries one language's strings only.
/// </summary>
public static partial class CustomerStrings
{
    /// <summary>The fallback language, and the one every key exists in first.</summary>
    public const string Default = "en";

    /// <summary>The languages the page speaks, in the order the switch lists them.</summary>
    public static readonly IReadOnlyList<string> Supported = ["en", "de", "fr", "es", "pt", "it", "nl", "pl", "tr", "ar", "ja", "ko", "zh"];

    /// <summary>Languages written right to left.</summary>
    private static readonly FrozenSet<string> RightToLeft = FrozenSet.Create(StringComparer.Ordinal, "ar");

    private static readonly FrozenDictionary<string, FrozenDictionary<string, string>> Own = Load();

    private static readonly FrozenDictionary<string, FrozenDictionary<string, string>> Merged = Supported.ToFrozenDictionary(
        code => code,
        code => Own[Default].ToFrozenDictionary(kv => kv.Key, kv => Own[code].TryGetValue(kv.Key, out var own) ? own : kv.Value, StringComparer.Ordinal),
        StringComparer.Ordinal);

    /// <summary>Whether the page speaks the language (a bare code such as <c>de</c>).</summary>
    public static bool IsSupported(string? code) => code is not null && Own.ContainsKey(code);

    /// <summary>
    /// Sentences written one after another as the language does: with a space, or none in Japanese and Chinese (whose
    /// full stop closes the sentence); missing ones left out.
    /// </summary>
    public static string Sentences(string code, params string?[] sentences) =>
        string.Join(NoSpaceBetweenSentences.Contains(code) ? "" : " ", sentences.Where(s => !string.IsNullOrEmpty(s)));

    private static readonly FrozenSet<string> NoSpaceBetweenSentences = FrozenSet.Create(StringComparer.Ordinal, "ja", "zh");

    /// <summary>The page's text direction for a language.</summary>
    public static string Direction(string code) => RightToLeft.Contains(code) ? "rtl" : "ltr";

    /// <summary>Every string of a language, English where it has none.</summary>
    public static IReadOnlyDictionary<string, string> For(string code) => Merged.TryGetValue(code, out var strings) ? strings : Merged[Default];

    /// <summary>
    /// What the page's script needs of a language, as JSON for the page (null for English, the kit's own words): the
    /// strings without the ones only the server uses (finding sentences for the engineer, the broken-link page), and
    /// the language's own characters unescaped, since every byte counts against the page's weight budget.
    /// </summary>
    public static string? PageJson(string code) => code == Default ? null : PageJsons.GetValueOrDefault(code);

    /// <summary>
    /// Key prefixes the page's script never asks for: the server writes those words into the page itself, or uses them
    /// elsewhere (declared before <see cref="PageJsons"/>, which reads them as it starts).
    /// </summary>
    public static readonly IReadOnlyList<string> ServerOnly = ["finding.", "problem.", "page.", "language."];

    private static readonly FrozenDictionary<string, string> PageJsons = Supported.ToFrozenDictionary(
        code => code,
        code => JsonSerializer.Serialize(
            For(code).Where(kv => !ServerOnly.Any(prefix => kv.Key.StartsWith(prefix, StringComparison.Ordinal))).ToDictionary(),
            new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.Create(System.Text.Unicode.UnicodeRanges.All) }),
        StringComparer.Ordinal);

    /// <summary>The language's own strings only, as its file has them (for the tests of completeness).</summary>
    public static IReadOnlyDictionary<string, string> OwnStrings(string code) => Own[code];

    /// <summary>One string with its placeholders filled (a null value leaves its placeholder as it is).</summary>
    public static string Text(string code, string key, params (string Name, object? Value)[] values)
    {
        var text = For(code).TryGetValue(key, out var found) ? found : key;
        foreach (var (name, value) in values.Where(v => v.Value is not null))
        {
            text = text.Replace("{" + name + "}", Convert.ToString(value, CultureInfo.GetCultureInfo(code)), StringComparison.Ordinal);
        }

        return text;
    }

    /// <summary>
    /// The sentence an engineer reads out or pastes to the customer for a finding, in <paramref name="code"/>'s
    /// language; null for findings that are not the customer's to act on (the portal's own, a server's certificate).
    /// </summary>
    /// <param name="code">The language.</param>
    /// <param name="finding">The finding's code.</param>
    /// <param name="evidence">The finding's evidence (an idle time-out's seconds come from it).</param>
    public static string? FindingSentence(string code, string finding, JsonElement evidence)
    {
        if (!For(code).ContainsKey($"finding.{finding}"))
        {
            return null;
        }

        var seconds = Figure(evidence, "diedAfterSeconds", "serverLivedSeconds", "livedSeconds");
        var percent = Figure(evidence, "lossPercent");
        var text = Text(code, $"finding.{finding}", ("seconds", seconds is { } s ? Math.Round(s) : null), ("percent", percent is { } p ? Math.Round(p, 1) : null));
        // A sentence that names a figure says nothing without it.
        return Placeholder().IsMatch(text) ? null : text;
    }

    /// <summary>The first of the named figures the evidence carries.</summary>
    private static double? Figure(JsonElement evidence, params string[] names) =>
        evidence.ValueKind == JsonValueKind.Array
            ? evidence.EnumerateArray()
                .Select(e => e.ValueKind == JsonValueKind.Object && e.TryGetProperty("figures", out var f) && f.ValueKind == JsonValueKind.Object ? f : default)
                .SelectMany(f => f.ValueKind == JsonValueKind.Object ? names : [], (f, name) => f.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : (double?)null)
                .FirstOrDefault(v => v is not null)
            : null;

    /// <summary>The placeholders a string uses, sorted.</summary>
    public static IReadOnlyList<string> Placeholders(string text) => [.. Placeholder().Matches(text).Select(m => m.Groups[1].Value).Distinct().Order(StringComparer.Ordinal)];

    /// <summary>
    /// The page's language: the customer's own choice on the page (<c>?lang=</c>), else the engineer's for the
    /// session, else the browser's <c>Accept-Language</c> by weight with region fallback (<c>fr-CA</c> → <c>fr</c>,
    /// <c>pt-BR</c> → <c>pt</c>, <c>zh-Hans-CN</c> → <c>zh</c>), else English.
    /// </summary>
    public static string Choose(string? requested, string? session, string? acceptLanguage)
    {
        foreach (var candidate in (string?[])[requested, session])
        {
            if (Base(candidate) is { } code && IsSupported(code))
            {
                return code;
            }
        }

        var ranked = (acceptLanguage ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select((part, index) =>
            {
                var pieces = part.Split(';', StringSplitOptions.TrimEntries);
                var weight = 1.0;
                foreach (var piece in pieces.Skip(1))
                {
                    if (piece.StartsWith("q=", StringComparison.OrdinalIgnoreCase) && double.TryParse(piece[2..], NumberStyles.Float, CultureInfo.InvariantCulture, out var q))
                    {
                        weight = q;
                    }
                }

                return (Code: Base(pieces[0]), Weight: weight, Index: index);
            })
            .Where(c => c.Weight > 0 && c.Code is not null && IsSupported(c.Code))
            .OrderByDescending(c => c.Weight).ThenBy(c => c.Index);
        return ranked.Select(c => c.Code!).FirstOrDefault() ?? Default;
    }

    private static string? Base(string? tag) =>
        string.IsNullOrWhiteSpace(tag) ? null : tag.Split('-', '_')[0].Trim().ToLowerInvariant() is { Length: >= 2 and <= 3 } code ? code : null;

    private static FrozenDictionary<string, FrozenDictionary<string, string>> Load()
    {
        var assembly = typeof(CustomerStrings).Assembly;
        var all = new Dictionary<string, FrozenDictionary<string, string>>(StringComparer.Ordinal);
        foreach (var code in Supported)
        {
            using var stream = assembly.GetManifestResourceStream($"customer-strings/{code}.json")
                ?? throw new InvalidOperationException($"The customer page's strings for '{code}' are missing from the build.");
            var strings = JsonSerializer.Deserialize<Dictionary<string, string>>(stream) ?? [];
            all[code] = strings.ToFrozenDictionary(StringComparer.Ordinal);
        }

        return all.ToFrozenDictionary(StringComparer.Ordinal);
    }

    [GeneratedRegex(@"\{([a-zA-Z]+)\}")]
    private static partial Regex Placeholder();
}
