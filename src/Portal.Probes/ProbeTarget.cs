using System.Globalization;

namespace Portal.Probes;

/// <summary>
/// A target the portal may probe: an <c>http</c>, <c>https</c>, <c>ws</c> or <c>wss</c> URL, or an explicit
/// <c>host:port</c>. The host is taken from the text exactly as written (not as <see cref="Uri"/> normalises it), so
/// that an IPv4 address spelt in decimal, octal or hex is seen for what it is.
/// </summary>
public sealed record ProbeTarget(string Original, string Scheme, string Host, int Port, string PathAndQuery)
{
    /// <summary>The longest target text accepted.</summary>
    public const int MaxLength = 2048;

    private static readonly System.Buffers.SearchValues<char> s_printableAscii = System.Buffers.SearchValues.Create(
        string.Concat(Enumerable.Range(0x21, 0x7e - 0x21 + 1).Select(i => (char)i)));

    /// <summary>Whether the target speaks TLS (https, wss; a bare host:port on 443 is tried with TLS too).</summary>
    public bool UsesTls => Scheme is "https" or "wss" || (Scheme == "tcp" && Port == 443);

    /// <summary>Whether the target is a WebSocket endpoint.</summary>
    public bool IsWebSocket => Scheme is "ws" or "wss";

    /// <summary>Whether the target is an HTTP endpoint.</summary>
    public bool IsHttp => Scheme is "http" or "https";

    /// <summary>The host as a URL writes it (IPv6 in brackets).</summary>
    public string HostForUrl => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host;

    /// <summary>Parses a target, or says in plain words why it is not one.</summary>
    public static bool TryParse(string? text, out ProbeTarget target, out string error)
    {
        target = default!;
        error = string.Empty;
        if (string.IsNullOrWhiteSpace(text) || text.Length > MaxLength)
        {
            error = "A target is a URL (http, https, ws, wss) or host:port of at most 2048 characters.";
            return false;
        }

        text = text.Trim();
        // Requests are built from the parts, but a control character, a space or a non-ASCII letter in a target is
        // never what a user meant, and a CR/LF reaching the wire would write headers of the caller's choosing.
        var bad = text.AsSpan().IndexOfAnyExcept(s_printableAscii);
        if (bad >= 0)
        {
            var c = text[bad];
            error = $"The target has {(char.IsControl(c) ? $"a control character (U+{(int)c:X4})" : c == ' ' ? "a space" : $"a non-ASCII character ('{c}')")} at position {bad + 1}: "
                + "write it percent-encoded (a host name in its xn-- form).";
            return false;
        }

        string scheme;
        string rest;
        var separator = text.IndexOf("://", StringComparison.Ordinal);
        if (separator >= 0)
        {
            scheme = text[..separator].ToLowerInvariant();
            if (scheme is not ("http" or "https" or "ws" or "wss"))
            {
                error = $"The scheme '{scheme}' is not allowed: only http, https, ws, wss and host:port.";
                return false;
            }

            rest = text[(separator + 3)..];
        }
        else
        {
            scheme = "tcp";
            rest = text;
        }

        var end = rest.IndexOfAny(['/', '?', '#']);
        var authority = end < 0 ? rest : rest[..end];
        var path = end < 0 ? "/" : rest[end..];
        var fragment = path.IndexOf('#', StringComparison.Ordinal);
        if (fragment >= 0)
        {
            path = path[..fragment];
        }

        if (!path.StartsWith('/'))
        {
            path = "/" + path;
        }

        if (authority.Contains('@', StringComparison.Ordinal))
        {
            error = "Targets may not carry a user name or password.";
            return false;
        }

        string host;
        string? portText = null;
        if (authority.StartsWith('['))
        {
            var close = authority.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                error = "The IPv6 address is not closed with ']'.";
                return false;
            }

            host = authority[1..close];
            var after = authority[(close + 1)..];
            if (after.Length > 0)
            {
                if (!after.StartsWith(':'))
                {
                    error = "Unexpected text after the IPv6 address.";
                    return false;
                }

                portText = after[1..];
            }
        }
        else
        {
            var colon = authority.LastIndexOf(':');
            if (colon >= 0 && authority.IndexOf(':', StringComparison.Ordinal) != colon)
            {
                error = "An IPv6 address must be written in brackets, e.g. [2001:db8::1]:443.";
                return false;
            }

            host = colon < 0 ? authority : authority[..colon];
            portText = colon < 0 ? null : authority[(colon + 1)..];
        }

        host = host.TrimEnd('.').ToLowerInvariant();
        if (host.Length == 0)
        {
            error = "The target has no host.";
            return false;
        }

        int port;
        if (portText is null or "")
        {
            if (scheme == "tcp")
            {
                error = "A target without a scheme needs a port: host:port.";
                return false;
            }

            port = scheme is "https" or "wss" ? 443 : 80;
        }
        else if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
        {
            error = $"'{portText}' is not a port (1–65535).";
            return false;
        }

        if (!IsHostName(host) && !System.Net.IPAddress.TryParse(host, out _))
        {
            error = $"'{host}' is not a host name or an IP address.";
            return false;
        }

        target = new ProbeTarget(text, scheme, host, port, scheme == "tcp" ? "/" : path);
        return true;
    }

    /// <summary>A DNS name: letters, digits, hyphens and dots, labels of 1–63 characters.</summary>
    private static bool IsHostName(string host) =>
        host.Length <= 253 && host.Split('.').All(l => l.Length is > 0 and <= 63 && l.All(c => char.IsAsciiLetterOrDigit(c) || c == '-') && l[0] != '-' && l[^1] != '-');

    /// <inheritdoc />
    public override string ToString() => Scheme == "tcp" ? $"{HostForUrl}:{Port}" : $"{Scheme}://{HostForUrl}:{Port}{PathAndQuery}";
}
