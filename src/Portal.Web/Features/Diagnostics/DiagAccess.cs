using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Portal.Core.Results;
using Portal.Web.Features.Ingest;

namespace Portal.Web.Features.Diagnostics;

/// <summary>
/// The credential of the test endpoints (<c>/diag/*</c> and the echo socket): a key the customer page hands its kit,
/// naming the link's session, sealed with the shared data-protection key ring (so any instance reads it). It opens the
/// test endpoints and nothing else: it cannot read or send results, and it is not the link token, so the link never
/// travels in the test endpoints' URLs. It travels as the <c>dk</c> query parameter because a browser's WebSocket and
/// EventSource cannot set headers, and query strings pass every proxy that headers may not.
/// </summary>
public sealed class DiagKeys(IDataProtectionProvider protection)
{
    /// <summary>The query parameter that carries the key.</summary>
    public const string Parameter = "dk";

    private readonly IDataProtector _protector = protection.CreateProtector("Portal.DiagKey.v1");

    /// <summary>A key for the session's test page.</summary>
    public string Mint(Guid sessionId) => WebEncoders.Base64UrlEncode(_protector.Protect(sessionId.ToByteArray()));

    /// <summary>The session a key names, or null when it is missing, malformed or not sealed by this portal.</summary>
    public Guid? Read(string? key)
    {
        if (string.IsNullOrEmpty(key) || key.Length > 512)
        {
            return null;
        }

        try
        {
            var bytes = _protector.Unprotect(WebEncoders.Base64UrlDecode(key));
            return bytes.Length == 16 ? new Guid(bytes) : null;
        }
        catch (Exception ex) when (ex is CryptographicException or FormatException)
        {
            return null;
        }
    }
}

/// <summary>
/// What one link may take from the test endpoints: bytes a minute (downloads and uploads), connections held at once
/// (echo sockets, Server-Sent Event streams, long polls) and names in the echo registry. Per instance, like the
/// message budget.
/// </summary>
public sealed class DiagBudget(IOptionsMonitor<PortalOptions> options) : IDisposable
{
    // Permits are KiB, so a budget of several GiB fits the limiter's int.
    private readonly PartitionedRateLimiter<Guid> _bytes = PartitionedRateLimiter.Create<Guid, Guid>(session =>
        RateLimitPartition.GetFixedWindowLimiter(session, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = (int)Math.Clamp(options.CurrentValue.Limits.DiagBytesPerMinutePerLink / 1024, 1, int.MaxValue),
            Window = Window,
            QueueLimit = 0,
        }));

    private readonly ConcurrentDictionary<Guid, int> _held = new();

    /// <summary>The length of one byte-budget window.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    /// <summary>Takes <paramref name="bytes"/> from the link's budget of this minute; false when it would be overspent.</summary>
    public bool TryTakeBytes(Guid sessionId, long bytes)
    {
        var permits = (int)Math.Clamp((bytes + 1023) / 1024, 1, int.MaxValue);
        using var lease = _bytes.AttemptAcquire(sessionId, permits);
        return lease.IsAcquired;
    }

    /// <summary>Holds one of the link's connections until the returned lease is disposed; null when all are held.</summary>
    public IDisposable? TryHold(Guid sessionId)
    {
        var limit = options.CurrentValue.Limits.DiagConnectionsPerLink;
        var now = _held.AddOrUpdate(sessionId, 1, (_, n) => n + 1);
        if (now > limit)
        {
            Release(sessionId);
            return null;
        }

        return new Held(this, sessionId);
    }

    /// <summary>Connections the link holds now.</summary>
    public int HeldBy(Guid sessionId) => _held.TryGetValue(sessionId, out var n) ? n : 0;

    private void Release(Guid sessionId)
    {
        var left = _held.AddOrUpdate(sessionId, 0, (_, n) => n - 1);
        if (left <= 0)
        {
            _held.TryRemove(new KeyValuePair<Guid, int>(sessionId, left));
        }
    }

    /// <inheritdoc />
    public void Dispose() => _bytes.Dispose();

    private sealed class Held(DiagBudget budget, Guid sessionId) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                budget.Release(sessionId);
            }
        }
    }
}

/// <summary>
/// Stands in front of every test endpoint: a request without a key of a live link gets 401, one beyond its link's
/// budget 429, each as <c>problem+json</c> with the reason (the kit never blames a proxy for the portal's own
/// answer), and the refusal is recorded against the link's run. The session the key names is left in
/// <see cref="HttpContext.Items"/> for the endpoints (<see cref="SessionOf"/>).
/// </summary>
public sealed class DiagGate(RequestDelegate next, DiagKeys keys, DiagBudget budget, OpenLinks links, PortalRefusals refusals, IOptionsMonitor<PortalOptions> options)
{
    /// <summary>The path every test endpoint lives under.</summary>
    public const string Prefix = "/diag";

    private static readonly object SessionKey = new();

    /// <summary>The session of the key a test request carried (set by the gate).</summary>
    public static Guid SessionOf(HttpContext context) =>
        context.Items.TryGetValue(SessionKey, out var value) && value is Guid session ? session : throw new InvalidOperationException("The request did not pass the test endpoints' gate.");

    /// <summary>Admits holders of a live link's key, within the link's budget.</summary>
    public async Task InvokeAsync(HttpContext context)
    {
        if (!context.Request.Path.StartsWithSegments(Prefix, StringComparison.OrdinalIgnoreCase))
        {
            await next(context);
            return;
        }

        context.Response.Headers.CacheControl = "no-store";
        if (keys.Read(context.Request.Query[DiagKeys.Parameter]) is not { } session)
        {
            await RefuseAsync(context, StatusCodes.Status401Unauthorized, "A test page's key is needed.",
                "The test endpoints serve the page of a live test link. Open the link your support engineer sent you.");
            return;
        }

        if (!await links.IsOpenAsync(session, context.RequestAborted))
        {
            await refusals.RecordAsync(session, null, RefusalReasons.LinkExpired, StatusCodes.Status401Unauthorized,
                "the test endpoints' key of a link that expired, was revoked or whose session was closed", "http", context.RequestAborted);
            await RefuseAsync(context, StatusCodes.Status401Unauthorized, "This test link is no longer valid.",
                "The link expired, was revoked, or its session was closed. Ask your support engineer for a new link.");
            return;
        }

        context.Items[SessionKey] = session;
        var limits = options.CurrentValue.Limits;
        var bytes = BytesAsked(context);
        if (bytes > 0 && !budget.TryTakeBytes(session, bytes))
        {
            await OverBudgetAsync(context, session,
                $"more test traffic than one link may use (the limit is {limits.DiagBytesPerMinutePerLink / (1024 * 1024)} MiB a minute, Portal__Limits__DiagBytesPerMinutePerLink)");
            return;
        }

        if (Holds(context))
        {
            using var held = budget.TryHold(session);
            if (held is null)
            {
                await OverBudgetAsync(context, session,
                    $"more open test connections than one link may hold (the limit is {limits.DiagConnectionsPerLink}, Portal__Limits__DiagConnectionsPerLink)");
                return;
            }

            // A revoked link, or its session closed, ends what its page holds open too, on every instance.
            using var tracked = links.Track(session, context.Abort);
            await next(context);
            return;
        }

        await next(context);
    }

    /// <summary>The bytes a request asks the server to send or take: a download's size, an upload's announced length.</summary>
    private static long BytesAsked(HttpContext context)
    {
        var path = context.Request.Path;
        if (path.Equals(Prefix + "/download", StringComparison.OrdinalIgnoreCase))
        {
            return long.TryParse(context.Request.Query["bytes"], NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) ? Math.Clamp(bytes, 0, ProbeEndpoints.MaxTransferBytes) : 0;
        }

        // A chunked upload announces no length: the upload endpoint takes from the budget as it reads.
        return path.Equals(Prefix + "/upload", StringComparison.OrdinalIgnoreCase) ? Math.Clamp(context.Request.ContentLength ?? 0, 0, ProbeEndpoints.MaxTransferBytes + 1L) : 0;
    }

    /// <summary>Requests that hold a connection open: echo sockets, Server-Sent Event streams and long polls.</summary>
    private static bool Holds(HttpContext context)
    {
        var path = context.Request.Path;
        return (path.Equals(EchoEndpoint.Path, StringComparison.OrdinalIgnoreCase) && context.WebSockets.IsWebSocketRequest)
            || path.Equals(Prefix + "/sse", StringComparison.OrdinalIgnoreCase)
            || path.Equals(Prefix + "/poll", StringComparison.OrdinalIgnoreCase);
    }

    private async Task OverBudgetAsync(HttpContext context, Guid session, string what)
    {
        await refusals.RecordAsync(session, null, RefusalReasons.TestBudget, StatusCodes.Status429TooManyRequests, what, "http", context.RequestAborted);
        context.Response.Headers.RetryAfter = ((int)DiagBudget.Window.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        await RefuseAsync(context, StatusCodes.Status429TooManyRequests, "Too much testing at once for this link.", "The portal refused " + what + ". Wait a minute, then run the test again.");
    }

    private static Task RefuseAsync(HttpContext context, int status, string title, string detail) =>
        Results.Problem(title: title, detail: detail, statusCode: status).ExecuteAsync(context);
}
