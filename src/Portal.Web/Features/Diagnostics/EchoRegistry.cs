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
    }
}
