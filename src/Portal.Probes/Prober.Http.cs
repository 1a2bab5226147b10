using System.Net.Sockets;

namespace Portal.Probes;

public sealed partial class Prober
{
    private static readonly string[] s_headersOfInterest = ["Server", "Via", "Alt-Svc", "Strict-Transport-Security", "Location", "X-Cache", "Upgrade", "Connection"];

    /// <summary>GET with the redirect chain followed by hand: every hop is checked by the guard and connected to its checked address.</summary>
    private async Task<ProbeResult> HttpAsync(GuardedTarget first, AddressGuard guard, CancellationToken cancellationToken)
    {
        var hops = new List<Dictionary<string, object?>>();
        var current = first;
        var url = new Uri($"{first.Target.Scheme}://{first.Target.HostForUrl}:{first.Target.Port}{first.Target.PathAndQuery}");
        double? ttfb = null;
        int? finalStatus = null;
        string? failure = null;
        string? blocked = null;
        Dictionary<string, string> finalHeaders = [];
        for (var hop = 0; hop <= _options.MaxRedirects; hop++)
        {
            var (status, ms, headers, error) = await RequestAsync(current, url, cancellationToken);
            hops.Add(new() { ["url"] = url.GetLeftPart(UriPartial.Path), ["status"] = status, ["ttfbMs"] = ms, ["headers"] = headers, ["error"] = error });
            if (status is null)
            {
                failure = error;
                break;
            }

            ttfb ??= ms;
            finalStatus = status;
            finalHeaders = headers;
            if (status is not (301 or 302 or 303 or 307 or 308) || !headers.TryGetValue("Location", out var location))
            {
                break;
            }

            if (hop == _options.MaxRedirects)
            {
                failure = $"more than {_options.MaxRedirects} redirects";
                break;
            }

            // An absolute Location is judged as written (not as Uri would normalise its host); a relative one stays on this hop's host.
            // An unreadable Location (a backslash URL, a bare "http:") is evidence, recorded as the server sent it.
            string? nextText = null;
            if (location.Contains("://", StringComparison.Ordinal))
            {
                nextText = location;
            }
            else if (Uri.TryCreate(url, location, out var relative))
            {
                nextText = $"{current.Target.Scheme}://{current.Target.HostForUrl}:{current.Target.Port}{relative.PathAndQuery}";
            }

            ProbeTarget? nextTarget = null;
            var parseError = "";
            if (nextText is null || !ProbeTarget.TryParse(nextText, out nextTarget, out parseError) || !nextTarget.IsHttp
                || !Uri.TryCreate(nextTarget.ToString(), UriKind.Absolute, out var nextUrl))
            {
                failure = $"the server redirects ({status}) to a Location the portal cannot follow: \"{location}\"{(parseError.Length > 0 ? $" ({parseError})" : "")}";
                hops[^1]["location"] = location;
                break;
            }

            current = await guard.ResolveAsync(nextTarget, _resolver, cancellationToken);
            if (!current.Decision.Allowed)
            {
                blocked = current.Decision.Reason;
                hops.Add(new() { ["url"] = nextTarget.ToString(), ["blocked"] = blocked });
                break;
            }

            url = nextUrl;
        }

        var resultStatus = blocked is not null ? "blocked" : failure is not null ? "fail" : finalStatus is >= 200 and < 400 ? "pass" : "warn";
        var summary = blocked is not null
            ? $"A redirect led to an address the portal may not reach: {blocked}"
            : failure is not null
                ? $"The HTTP request failed: {failure}."
                : $"HTTP answered {finalStatus} after {hops.Count - 1} redirect(s); first byte after {ttfb} ms."
                    + (finalHeaders.TryGetValue("Via", out var via) ? $" A proxy is on the way (Via: {via})." : string.Empty);
        return Result("probe.http", resultStatus,
            new() { ["status"] = finalStatus, ["ttfbMs"] = ttfb, ["redirects"] = Math.Max(0, hops.Count - 1), ["hsts"] = finalHeaders.ContainsKey("Strict-Transport-Security") ? 1 : 0 },
            first.Target, new() { ["hops"] = hops, ["headers"] = finalHeaders, ["blockedReason"] = blocked }, summary);
    }

    private async Task<(int? Status, double Milliseconds, Dictionary<string, string> Headers, string? Error)> RequestAsync(GuardedTarget target, Uri url, CancellationToken cancellationToken)
    {
        // Certificate problems are the TLS probe's to report; here the question is what HTTP answers.
        using var handler = GuardedHttp.Handler(target, _options.ConnectTimeout, validateCertificates: false);
        using var client = new HttpClient(handler) { Timeout = _options.RequestTimeout };
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.UserAgent.ParseAdd("Portal-Probe/1.0");
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            var ms = Connections.Elapsed(started);
            return ((int)response.StatusCode, ms, InterestingHeaders(response), null);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException or SocketException)
        {
            return (null, Connections.Elapsed(started), [], ex is TaskCanceledException && !cancellationToken.IsCancellationRequested ? $"no answer within {_options.RequestTimeout.TotalSeconds:0} s" : ex.Message);
        }
    }
}
