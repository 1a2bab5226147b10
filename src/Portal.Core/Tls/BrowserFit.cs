namespace Portal.Core.Tls;

/// <summary>
/// Whether a ClientHello fits the browser its User-Agent names. Browsers of one family share a TLS stack, and a
/// stack offers one list of cipher suites, so the cipher part of JA4 (<c>b</c>) identifies it across versions: a
/// TLS-inspecting proxy re-originates the connection with its own stack, and the fit breaks.
/// </summary>
public static class BrowserFit
{
    /// <summary>JA4 cipher hashes of the browsers' TLS stacks, taken from public JA4 captures.</summary>
    public static readonly IReadOnlyDictionary<string, string> StackByCipherHash = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["8daaf6152771"] = "BoringSSL",
        ["5b57614c22b0"] = "NSS",
        ["a09f3c656075"] = "Apple",
    };

    /// <summary>Judges a JA4 fingerprint against a User-Agent.</summary>
    public static BrowserFitResult Judge(string? userAgent, string ja4)
    {
        ArgumentNullException.ThrowIfNull(ja4);
        var family = Family(userAgent ?? string.Empty);
        var parts = ja4.Split('_');
        var cipherHash = parts.Length == 3 ? parts[1] : string.Empty;
        var observed = StackByCipherHash.GetValueOrDefault(cipherHash);
        if (family is null)
        {
            return new BrowserFitResult(null, null, observed, null);
        }

        var expected = family switch
        {
            "Chromium" => "BoringSSL",
            "Firefox" => "NSS",
            _ => "Apple",
        };
        return new BrowserFitResult(family, expected, observed, string.Equals(expected, observed, StringComparison.Ordinal));
    }

    /// <summary>
    /// The browser family a User-Agent names, or null when it names none the portal knows. Every browser on iOS
    /// uses Apple's stack whatever it calls itself.
    /// </summary>
    public static string? Family(string userAgent)
    {
        ArgumentNullException.ThrowIfNull(userAgent);
        if (userAgent.Contains("iPhone", StringComparison.Ordinal) || userAgent.Contains("iPad", StringComparison.Ordinal))
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
            return "Safari";
        }

        return null;
    }
}

/// <summary>The verdict of <see cref="BrowserFit.Judge"/>: the family the User-Agent names, the TLS stack it implies,
/// the stack the fingerprint shows (null when unknown), and whether they agree (null when the family is unknown).</summary>
public sealed record BrowserFitResult(string? Family, string? ExpectedStack, string? ObservedStack, bool? Fits);
