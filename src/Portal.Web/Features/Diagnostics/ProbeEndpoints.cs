using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Portal.Web.Features.Diagnostics;

/// <summary>
/// The plain-HTTP counterparts of the customer's test steps: ping, clock, download and upload, Server-Sent Events
/// and long polling. Each is cheap, never cached, and bounded by an explicit limit. They serve holders of a live
/// link's key only, within its budget (<see cref="DiagGate"/>, which also marks every answer no-store).
/// </summary>
public static class ProbeEndpoints
{
    /// <summary>The largest download or upload a step may ask for.</summary>
    public const int MaxTransferBytes = 25 * 1024 * 1024;

    /// <summary>The most events one SSE stream sends.</summary>
    public const int MaxSseEvents = 100;

    /// <summary>The longest a long poll is held.</summary>
    public const int MaxPollMilliseconds = 30_000;

    // Incompressible bytes, so a compressing proxy cannot flatter the throughput figure.
    private static readonly byte[] Noise = RandomNumberGenerator.GetBytes(256 * 1024);

    /// <summary>Maps <c>/diag/ping</c>, <c>/diag/time</c>, <c>/diag/download</c>, <c>/diag/upload</c>, <c>/diag/sse</c> and <c>/diag/poll</c>.</summary>
    public static IEndpointRouteBuilder MapProbeEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var diag = endpoints.MapGroup(DiagGate.Prefix).AllowAnonymous().DisableAntiforgery();

        diag.MapGet("/ping", () => TypedResults.NoContent());
        diag.MapGet("/time", (TimeProvider time) => TypedResults.Ok(new { serverTime = time.GetUtcNow().ToUnixTimeMilliseconds() }));
        diag.MapGet("/download", DownloadAsync);
        diag.MapPost("/upload", UploadAsync);
        diag.MapGet("/sse", SseAsync);
        diag.MapGet("/poll", PollAsync);
        diag.MapGet("/cors", Cors);
        return endpoints;
    }

    private static async Task<IResult> DownloadAsync(HttpContext context, int bytes, CancellationToken cancellationToken)
    {
        if (bytes is < 1 or > MaxTransferBytes)
        {
            return TypedResults.Problem(detail: $"bytes must be between 1 and {MaxTransferBytes}.", statusCode: 400);
        }

        context.Response.ContentType = "application/octet-stream";
        context.Response.ContentLength = bytes;
        var left = bytes;
        while (left > 0)
        {
            var chunk = Math.Min(left, Noise.Length);
            await context.Response.Body.WriteAsync(Noise.AsMemory(0, chunk), cancellationToken);
            left -= chunk;
        }

        return Results.Empty;
    }

    private static async Task<IResult> UploadAsync(HttpContext context, TimeProvider time, DiagBudget budget, CancellationToken cancellationToken)
    {
        // An announced length was taken from the link's budget by the gate; a chunked body is taken as it is read.
        var chunked = context.Request.ContentLength is null;
        var session = DiagGate.SessionOf(context);
        if (context.Request.ContentLength > MaxTransferBytes)
        {
            return TypedResults.Problem(detail: $"Uploads are limited to {MaxTransferBytes} bytes.", statusCode: 413);
        }

        var started = time.GetTimestamp();
        var buffer = new byte[64 * 1024];
        long total = 0;
        int read;
        while ((read = await context.Request.Body.ReadAsync(buffer, cancellationToken)) > 0)
        {
            total += read;
            if (chunked && !budget.TryTakeBytes(session, read))
            {
                return TypedResults.Problem(detail: "The portal refused more test traffic than one link may use in a minute. Wait a minute, then run the test again.", statusCode: 429);
            }

            if (total > MaxTransferBytes)
            {
                return TypedResults.Problem(detail: $"Uploads are limited to {MaxTransferBytes} bytes.", statusCode: 413);
            }
        }

        return TypedResults.Ok(new { bytes = total, serverMs = time.GetElapsedTime(started).TotalMilliseconds });
    }

    /// <summary>
    /// Sends <c>count</c> events <c>intervalMs</c> apart, each stamped with the server's send time, then ends the stream.
    /// A reconnecting client (Last-Event-ID set) gets one <c>resumed</c> event and the end.
    /// </summary>
    private static async Task SseAsync(HttpContext context, TimeProvider time, int? count, int? intervalMs, CancellationToken cancellationToken)
    {
        var n = Math.Clamp(count ?? 10, 1, MaxSseEvents);
        var interval = Math.Clamp(intervalMs ?? 100, 10, 2000);
        context.Response.ContentType = "text/event-stream";
        await context.Response.WriteAsync("retry: 300\n\n", cancellationToken);
        await context.Response.Body.FlushAsync(cancellationToken);
        if (context.Request.Headers.TryGetValue("Last-Event-ID", out var last))
        {
            await WriteEventAsync(context, "resumed", last.ToString(), time, cancellationToken);
            return;
        }

        for (var i = 0; i < n; i++)
        {
            await WriteEventAsync(context, "tick", i.ToString(CultureInfo.InvariantCulture), time, cancellationToken);
            if (i + 1 < n)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(interval), time, cancellationToken);
            }
        }
    }

    private static async Task WriteEventAsync(HttpContext context, string name, string id, TimeProvider time, CancellationToken cancellationToken)
    {
        var text = new StringBuilder()
            .Append("event: ").Append(name).Append('\n')
            .Append("id: ").Append(id).Append('\n')
            .Append("data: {\"seq\":").Append(id.All(char.IsAsciiDigit) && id.Length > 0 ? id : "-1")
            .Append(",\"serverTime\":").Append(time.GetUtcNow().ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)).Append("}\n\n")
            .ToString();
        await context.Response.WriteAsync(text, cancellationToken);
        await context.Response.Body.FlushAsync(cancellationToken);
    }

    /// <summary>
    /// The target of the cross-origin step, served on the portal's other address: it allows the portal's own origins,
    /// with credentials, so a failure in the browser means something on the way interfered.
    /// </summary>
    private static IResult Cors(HttpContext context, PortalOrigins origins)
    {
        var origin = context.Request.Headers.Origin.ToString();
        if (origin.Length > 0 && origins.IsOwn(origin))
        {
            context.Response.Headers.AccessControlAllowOrigin = origin;
            context.Response.Headers.AccessControlAllowCredentials = "true";
            context.Response.Headers.Vary = "Origin";
        }

        return TypedResults.Ok(new { ok = true, credentials = context.Request.Headers.Cookie.Count > 0 });
    }

    private static async Task<IResult> PollAsync(TimeProvider time, int? waitMs, CancellationToken cancellationToken)
    {
        var wait = Math.Clamp(waitMs ?? 200, 0, MaxPollMilliseconds);
        var started = time.GetTimestamp();
        await Task.Delay(TimeSpan.FromMilliseconds(wait), time, cancellationToken);
        return TypedResults.Ok(new { serverTime = time.GetUtcNow().ToUnixTimeMilliseconds(), heldMs = time.GetElapsedTime(started).TotalMilliseconds });
    }
}
