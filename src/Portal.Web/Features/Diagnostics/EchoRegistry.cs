using System.Collections.Concurrent;

namespace Portal.Web.Features.Diagnostics;

/// <summary>When a named echo connection ended, by the server's clock.</summary>
/// <param name="Id">The name the client gave the connection.</param>
/// <param name="OpenedAt">When the client said hello, in Unix milliseconds.</param>
/// <param name="EndedAt">When the connection ended, in Unix milliseconds; null while it is open.</param>
/// <param name="How"><c>client-close</c>, <c>server-close</c> or <c>abort</c> (no closing handshake: cut on the way).</param>
public sealed record EchoEnd(string Id, long OpenedAt, long? EndedAt, string? How)
{
    /// <summary>How long the connection lived, in seconds, once it has ended.</summary>
    public double? LivedSeconds => EndedAt is { } end ? (end - OpenedAt) / 1000.0 : null;
}

/// <summary>A WebSocket upgrade request that reached the echo endpoint as plain HTTP: what was left of it.</summary>
/// <param name="Id">The attempt's name from the URL.</param>
/// <param name="At">When it arrived, in Unix milliseconds.</param>
/// <param name="Upgrade">The <c>Upgrade</c> header that arrived (empty when a proxy dropped it).</param>
/// <param name="Connection">The <c>Connection</c> header that arrived.</param>
/// <param name="HttpProtocol">The request's protocol, e.g. <c>HTTP/1.0</c> from a proxy that speaks 1.0 upstream.</param>
public sealed record EchoAttempt(string Id, long At, string Upgrade, string Connection, string HttpProtocol);

/// <summary>
/// Remembers the last <see cref="Capacity"/> named echo connections for <see cref="Retention"/>, so that the
/// customer's idle step can learn when the server saw its socket die.
/// </summary>
public sealed class EchoRegistry(TimeProvider time)
{
    /// <summary>The most connections remembered at once.</summary>
    public const int Capacity = 10_000;

    /// <summary>How long an ended connection is remembered.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromMinutes(30);

    private readonly ConcurrentDictionary<string, EchoEnd> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, EchoAttempt> _attempts = new(StringComparer.Ordinal);

    /// <summary>Records that a named connection is open.</summary>
    public void Opened(string id)
    {
        if (_entries.Count >= Capacity)
        {
            Prune();
        }

        if (_entries.Count < Capacity)
        {
            _entries[id] = new EchoEnd(id, time.GetUtcNow().ToUnixTimeMilliseconds(), null, null);
        }
    }

    /// <summary>Records that a named connection ended.</summary>
    public void Ended(string id, string how)
    {
        if (_entries.TryGetValue(id, out var entry))
        {
            _entries[id] = entry with { EndedAt = time.GetUtcNow().ToUnixTimeMilliseconds(), How = how };
        }
    }

    /// <summary>The record of a connection, or null.</summary>
    public EchoEnd? Find(string id) => _entries.TryGetValue(id, out var entry) ? entry : null;

    /// <summary>Records an upgrade request that arrived without being an upgrade any more.</summary>
    public void ArrivedWithoutUpgrade(string id, string upgrade, string connection, string httpProtocol)
    {
        if (_attempts.Count >= Capacity)
        {
            Prune();
        }

        if (_attempts.Count < Capacity)
        {
            _attempts[id] = new EchoAttempt(id, time.GetUtcNow().ToUnixTimeMilliseconds(), upgrade, connection, httpProtocol);
        }
    }

    /// <summary>The record of an upgrade request that arrived as plain HTTP, or null.</summary>
    public EchoAttempt? FindAttempt(string id) => _attempts.TryGetValue(id, out var attempt) ? attempt : null;

    private void Prune()
    {
        var cutoff = time.GetUtcNow().ToUnixTimeMilliseconds() - (long)Retention.TotalMilliseconds;
        foreach (var (key, value) in _entries)
        {
            if ((value.EndedAt ?? value.OpenedAt) < cutoff)
            {
                _entries.TryRemove(key, out _);
            }
        }

        foreach (var (key, value) in _attempts)
        {
            if (value.At < cutoff)
            {
                _attempts.TryRemove(key, out _);
            }
        }
    }
}
