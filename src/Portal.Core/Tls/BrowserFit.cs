using System.Text.Json;

namespace Portal.Core.Tls;

/// <summary>What a TLS stack is: a browser engine's own, one TLS-inspecting proxies re-make connections with, or another client's.</summary>
public enum StackKind
{
    /// <summary>The stack of a browser engine.</summary>
    Browser,

    /// <summary>A stack TLS-inspecting proxies re-make connections with.</summary>
    Middlebox,

    /// <summary>A non-browser HTTP client.</summary>
    Client,
}

/// <summary>A TLS stack the fit knows, by the cipher part of JA4.</summary>
/// <param name="CipherHash">JA4's <c>b</c> part.</param>
/// <param name="Stack">The stack's name.</param>
/// <param name="Kind">What it is.</param>
/// <param name="Engines">The browser engines that use it (empty for others).</param>
/// <param name="Seen">Where it was seen, with versions.</param>
/// <param name="Source">Where the fingerprint comes from.</param>
public sealed record KnownStack(string CipherHash, string Stack, StackKind Kind, IReadOnlyList<string> Engines, string Seen, string Source);

/// <summary>
/// Whether a ClientHello fits the browser its User-Agent names, on positive evidence only. The cipher part of JA4
/// (<c>b</c>, the sorted offer) identifies a TLS stack; the stacks the portal knows are in one versioned data file
/// (<c>Tls/tls-stacks.json</c>) with their sources. A ClientHello from a known middlebox or non-browser stack, or from
/// a known browser stack of another engine than the User-Agent's, does not fit. A fingerprint the file does not know
/// gives no verdict: not knowing is not evidence (a new browser release changes its offer long before any table does).
/// </summary>
public static class BrowserFit
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) } };

    /// <summary>The data file's version (a date).</summary>
    public static string Version { get; }

    /// <summary>Every stack the fit knows.</summary>
    public static IReadOnlyList<KnownStack> Stacks { get; }

    private static readonly Dictionary<string, KnownStack> ByHash;

    static BrowserFit()
    {
        using var stream = typeof(BrowserFit).Assembly.GetManifestResourceStream("Portal.Core.Tls.tls-stacks.json")
            ?? throw new InvalidOperationException("The TLS stack data file is not embedded.");
        var file = JsonSerializer.Deserialize<StackFile>(stream, Json) ?? throw new InvalidOperationException("The TLS stack data file is empty.");
        Version = file.Version;
        Stacks = file.Stacks;
        ByHash = file.Stacks.ToDictionary(s => s.CipherHash, StringComparer.Ordinal);
    }

    /// <summary>Judges a JA4 fingerprint against a User-Agent.</summary>
    public static BrowserFitResult Judge(string? userAgent, string ja4)
    {
        ArgumentNullException.ThrowIfNull(ja4);
        var family = Family(userAgent ?? string.Empty);
        var parts = ja4.Split('_');
        var known = parts.Length == 3 ? ByHash.GetValueOrDefault(parts[1]) : null;
        if (family is null)
        {
            return new BrowserFitResult(null, null, known?.Stack, null, known is null ? null : $"{known.Stack} ({known.Seen})");
        }

        var expected = ExpectedStack(family);
        if (known is null)
        {
            return new BrowserFitResult(family, expected, null, null,
                $"JA4 {ja4} is not in the portal's list of TLS stacks (version {Version}); {family} may have changed what it offers. Not evidence of interception.");
        }

        bool? fits = known.Kind switch
        {
            StackKind.Middlebox or StackKind.Client => false,
            // A known browser stack: it fits the User-Agent's engine, or contradicts it. An engine whose stack the
            // portal does not know (WebKit outside Apple's systems) gets no verdict from another browser's stack.
            _ when known.Engines.Contains(family, StringComparer.Ordinal) => true,
            _ when expected is null => null,
            _ => false,
        };
        return new BrowserFitResult(family, expected, known.Stack, fits, $"{known.Stack}: {known.Seen} (source: {known.Source})");
    }

    /// <summary>The stack a browser family uses, or null when the portal does not know it.</summary>
    private static string? ExpectedStack(string family) =>
        Stacks.FirstOrDefault(s => s.Kind == StackKind.Browser && s.Engines.Contains(family, StringComparer.Ordinal))?.Stack;

    /// <summary>
    /// The browser family a User-Agent names, or null when it names none the portal knows. Every browser on iOS uses
    /// Apple's stack whatever it calls itself; WebKit on other systems (WebKitGTK, WPE) says "Safari" but uses another
    /// stack, so it is its own family.
    /// </summary>
    public static string? Family(string userAgent)
    {
        ArgumentNullException.ThrowIfNull(userAgent);
        if (userAgent.Contains("iPhone", StringComparison.Ordinal) || userAgent.Contains("iPad", StringComparison.Ordinal) || userAgent.Contains("iPod", StringComparison.Ordinal))
        {
            return "Safari";
        }

        if (userAgent.Contains("Firefox/", StringComparison.Ordinal))
        {
            return "Firefox";
        }

        if (userAgent.Contains("Chrome/", StringComparison.Ordinal) || userAgent.Contains("Chromium/", StringComparison.Ordinal))
        {
            return "Chromium";
        }

        if (userAgent.Contains("Safari/", StringComparison.Ordinal) && userAgent.Contains("AppleWebKit/", StringComparison.Ordinal))
        {
            return userAgent.Contains("Macintosh", StringComparison.Ordinal) ? "Safari" : "WebKit";
        }

        return null;
    }

    private sealed record StackFile(string Version, IReadOnlyList<KnownStack> Stacks);
}

/// <summary>The verdict of <see cref="BrowserFit.Judge"/>: the family the User-Agent names, the TLS stack it implies (null
/// when not known), the stack the fingerprint shows (null when unknown), whether they agree (null when there is no
/// evidence either way), and a note that says what was known.</summary>
public sealed record BrowserFitResult(string? Family, string? ExpectedStack, string? ObservedStack, bool? Fits, string? Note = null);
