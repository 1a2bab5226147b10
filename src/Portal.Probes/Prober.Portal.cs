using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Portal.Probes;

public sealed partial class Prober
{
    /// <summary>Events the SSE probe asks for, and how far apart the portal sends them.</summary>
    public const int SseEvents = 10;

    /// <summary>The gap between two events the portal sends, in milliseconds.</summary>
    public const int SseIntervalMs = 100;

    /// <summary>The body the upload probe sends: 2 MiB, more than nginx's default 1 MiB limit.</summary>
    public const int UploadBytes = 2 * 1024 * 1024;

    /// <summary>The first event later than this after the request was sent has been held by something on the way.</summary>
    public const double SseFirstEventLateMs = 500;

    /// <summary>
    /// The portal's own diagnostics paths, reached through its public origin (the admin's deployment check): the
    /// delay of the first Server-Sent Event and a 2 MiB upload. Only for a portal's origin: these paths exist on no
    /// other server.
    /// </summary>
    /// <param name="origin">The portal's public origin (<c>http(s)://host[:port]</c>).</param>
    /// <param name="guard">The guard for this origin.</param>
    /// <param name="diagKey">The key of the check's session, which the portal's test paths ask for.</param>
    /// <param name="cancellationToken">Stops the probe.</param>
    public async IAsyncEnumerable<ProbeResult> PortalPathsAsync(ProbeTarget origin, AddressGuard guard, string diagKey, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(origin);
        ArgumentNullException.ThrowIfNull(guard);
        var guarded = await guard.ResolveAsync(origin, _resolver, cancellationToken);
        if (!guarded.Decision.Allowed)
        {
            yield return Blocked(origin, guarded.Decision);
            yield break;
        }

        var gate = _perTarget.GetOrAdd($"{origin.Host}:{origin.Port}", _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            var root = $"{origin.Scheme}://{origin.HostForUrl}:{origin.Port}";
            var key = Uri.EscapeDataString(diagKey);
            yield return await SseAsync(guarded, new Uri($"{root}/diag/sse?count={SseEvents}&intervalMs={SseIntervalMs}&dk={key}"), cancellationToken);
            yield return await UploadAsync(guarded, new Uri($"{root}/diag/upload?dk={key}"), cancellationToken);
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<ProbeResult> SseAsync(GuardedTarget target, Uri url, CancellationToken cancellationToken)
    {
        using var handler = GuardedHttp.Handler(target, _options.ConnectTimeout, validateCertificates: false);
        // Ask for compression as every browser does: a proxy that compresses the stream holds events back for it.
        handler.AutomaticDecompression = System.Net.DecompressionMethods.All;
        using var client = new HttpClient(handler) { Timeout = _options.RequestTimeout };
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.UserAgent.ParseAdd("Portal-Probe/1.0");
        request.Headers.Accept.ParseAdd("text/event-stream");
        var started = Stopwatch.GetTimestamp();
        var arrivals = new List<double>();
        int? status = null;
        string? contentType = null;
        string? error = null;
        Dictionary<string, string> headers = [];
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            status = (int)response.StatusCode;
            contentType = response.Content.Headers.ContentType?.MediaType;
            headers = InterestingHeaders(response);
            if (response.IsSuccessStatusCode && contentType == "text/event-stream")
            {
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken), Encoding.UTF8);
                while (arrivals.Count < SseEvents && await reader.ReadLineAsync(cancellationToken) is { } line)
                {
                    if (line.StartsWith("event: tick", StringComparison.Ordinal))
                    {
                        arrivals.Add(Connections.Elapsed(started));
                    }
                }
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException or SocketException)
        {
            error = ex is TaskCanceledException && !cancellationToken.IsCancellationRequested ? $"no answer within {_options.RequestTimeout.TotalSeconds:0} s" : ex.Message;
        }

        // Events sent 100 ms apart that arrive within 10 ms of each other came in a burst: held and let go together.
        var bursts = arrivals.Zip(arrivals.Skip(1), (a, b) => b - a).Count(gap => gap < SseIntervalMs / 10.0);
        double? first = arrivals.Count > 0 ? Math.Round(arrivals[0], 1) : null;
        // How late the latest event was against its schedule (event i is sent i intervals after the first), as the kit measures it.
        double? maxLag = arrivals.Count > 0 ? Math.Round(arrivals.Select((a, i) => a - (i * SseIntervalMs)).Max(), 1) : null;
        var late = maxLag > SseFirstEventLateMs || bursts >= 3;
        var outcome = error is not null ? "fail"
            : arrivals.Count == 0 ? "fail"
            : late ? "warn"
            : "pass";
        var summary = error is not null ? $"The event stream through the portal's public origin failed: {error}."
            : arrivals.Count == 0 ? $"The event stream answered {status} ({contentType ?? "no content type"}) instead of events."
            : late ? $"Events arrived up to {maxLag} ms late (the first after {first} ms), {bursts} in bursts: something in front of the portal buffers Server-Sent Events."
            : $"Events arrive as they are sent: the first after {first} ms.";
        return Result("probe.sse", outcome,
            new() { ["status"] = status, ["firstEventMs"] = first, ["maxLagMs"] = maxLag, ["events"] = arrivals.Count, ["expected"] = SseEvents, ["bursts"] = bursts },
            target.Target, new() { ["url"] = url.GetLeftPart(UriPartial.Path), ["contentType"] = contentType, ["headers"] = headers, ["error"] = error }, summary);
    }

    private async Task<ProbeResult> UploadAsync(GuardedTarget target, Uri url, CancellationToken cancellationToken)
    {
        using var handler = GuardedHttp.Handler(target, _options.ConnectTimeout, validateCertificates: false);
        using var client = new HttpClient(handler) { Timeout = _options.RequestTimeout };
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(new byte[UploadBytes]) };
        request.Content.Headers.ContentType = new("application/octet-stream");
        request.Headers.UserAgent.ParseAdd("Portal-Probe/1.0");
        var started = Stopwatch.GetTimestamp();
        int? status = null;
        string? error = null;
        string? body = null;
        string? contentType = null;
        Dictionary<string, string> headers = [];
        try
        {
            using var response = await client.SendAsync(request, cancellationToken);
            status = (int)response.StatusCode;
            contentType = response.Content.Headers.ContentType?.MediaType;
            headers = InterestingHeaders(response);
            if (!response.IsSuccessStatusCode)
            {
                var text = await response.Content.ReadAsStringAsync(cancellationToken);
                body = new string([.. text.Take(200).Select(c => char.IsControl(c) ? ' ' : c)]);
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException or SocketException)
        {
            error = ex is TaskCanceledException && !cancellationToken.IsCancellationRequested ? $"no answer within {_options.RequestTimeout.TotalSeconds:0} s" : ex.Message;
        }

        var ms = Math.Round(Connections.Elapsed(started), 1);
        var ok = status is >= 200 and < 300;
        var who = headers.TryGetValue("Server", out var server) ? $" (Server: {server})" : string.Empty;
        var summary = error is not null ? $"A 2 MiB upload through the portal's public origin failed after {ms} ms: {error}."
            : ok ? $"A 2 MiB upload passed in {ms} ms."
            : $"A 2 MiB upload was answered {status}{who}: something in front of the portal limits request bodies.";
        return Result("probe.upload", ok ? "pass" : "fail",
            new() { ["status"] = status, ["bytes"] = UploadBytes, ["ms"] = ms, ["mbps"] = ok && ms > 0 ? Math.Round(UploadBytes * 8 / ms / 1000, 1) : null },
            target.Target,
            new() { ["url"] = url.GetLeftPart(UriPartial.Path), ["contentType"] = contentType, ["headers"] = headers, ["body"] = body, ["error"] = error }, summary);
    }

    private static Dictionary<string, string> InterestingHeaders(HttpResponseMessage response) =>
        s_headersOfInterest
            .Select(h => (h, v: response.Headers.TryGetValues(h, out var values) ? string.Join(", ", values) : null))
            .Where(p => p.v is not null)
            .ToDictionary(p => p.h, p => p.v!, StringComparer.OrdinalIgnoreCase);
}
