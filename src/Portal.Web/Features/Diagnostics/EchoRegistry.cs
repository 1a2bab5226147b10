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
/// customer's idle step can learn when the server saw its socket die. Names belong to the link that gave them: a
/// page reads only its own link's records, and one link can give at most <see cref="LimitOptions.EchoNamesPerLink"/>
/// names, so it cannot fill the registry for everyone else.
/// </summary>
public sealed class EchoRegistry(TimeProvider time, Microsoft.Extensions.Options.IOptionsMonitor<PortalOptions> options)
{
    /// <summary>The most connections remembered at once.</summary>
    public const int Capacity = 10_000;

    /// <summary>How long an ended connection is remembered.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromMinutes(30);

    private readonly ConcurrentDictionary<(Guid Session, string Id), EchoEnd> _entries = new();
    private readonly ConcurrentDictionary<(Guid Session, string Id), EchoAttempt> _attempts = new();
    private readonly ConcurrentDictionary<Guid, int> _perLink = new();

    /// <summary>Records that a named connection is open; false when the registry or the link's share of it is full.</summary>
    public bool Opened(Guid sessionId, string id)
    {
        if (_entries.Count >= Capacity || Share(sessionId) >= options.CurrentValue.Limits.EchoNamesPerLink)
        {
            Prune();
        }

        if (_entries.Count >= Capacity || Share(sessionId) >= options.CurrentValue.Limits.EchoNamesPerLink)
        {
            return false;
        }

        if (_entries.TryAdd((sessionId, id), new EchoEnd(id, time.GetUtcNow().ToUnixTimeMilliseconds(), null, null)))
        {
            _perLink.AddOrUpdate(sessionId, 1, (_, n) => n + 1);
        }

        return true;
    }

    /// <summary>Records that a named connection ended.</summary>
    public void Ended(Guid sessionId, string id, string how)
    {
        if (_entries.TryGetValue((sessionId, id), out var entry))
        {
            _entries[(sessionId, id)] = entry with { EndedAt = time.GetUtcNow().ToUnixTimeMilliseconds(), How = how };
        }
    }

    /// <summary>The record of one of the link's connections, or null.</summary>
    public EchoEnd? Find(Guid sessionId, string id) => _entries.TryGetValue((sessionId, id), out var entry) ? entry : null;

    /// <summary>Records an upgrade request that arrived without being an upgrade any more.</summary>
    public void ArrivedWithoutUpgrade(Guid sessionId, string id, string upgrade, string connection, string httpProtocol)
    {
        if (_attempts.Count >= Capacity)
        {
            Prune();
        }

        if (_attempts.Count < Capacity)
        {
            _attempts[(sessionId, id)] = new EchoAttempt(id, time.GetUtcNow().ToUnixTimeMilliseconds(), upgrade, connection, httpProtocol);
        }
    }

    /// <summary>The record of one of the link's upgrade requests that arrived as plain HTTP, or null.</summary>
    public EchoAttempt? FindAttempt(Guid sessionId, string id) => _attempts.TryGetValue((sessionId, id), out var attempt) ? attempt : null;

    private int Share(Guid sessionId) => _perLink.TryGetValue(sessionId, out var n) ? n : 0;

    private void Prune()
    {
        var cutoff = time.GetUtcNow().ToUnixTimeMilliseconds() - (long)Retention.TotalMilliseconds;
        foreach (var (key, value) in _entries)
        {
            if ((value.EndedAt ?? value.OpenedAt) < cutoff && _entries.TryRemove(key, out _))
            {
                _perLink.AddOrUpdate(key.Session, 0, (_, n) => Math.Max(0, n - 1));
            }
        }

        foreach (var (session, count) in _perLink)
        {
            if (count <= 0)
            {
                _perLink.TryRemove(new KeyValuePair<Guid, int>(session, count));
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
