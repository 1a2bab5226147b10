using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;
using Npgsql;
using Portal.Data.Events;

namespace Portal.Web.Features.Ingest;

/// <summary>
/// Keeps an open customer connection honest about its link. A hub connection was authenticated once, when it opened;
/// revoking the link, closing the session or the link's expiry must reach it too. Every invocation asks
/// <see cref="IsOpenAsync"/> (the answer is cached for at most <see cref="CacheFor"/>), and a revocation or a closing
/// — announced through the event bus, so on every instance — aborts the session's open connections at once. An
/// engineer's <b>Run again</b> travels the same way, to the instance the customer's page is connected to.
/// </summary>
public sealed partial class OpenLinks(NpgsqlDataSource data, PortalEvents events, IHubContext<RunHub, IRunClient> hub, TimeProvider time, ILogger<OpenLinks> logger)
{
    /// <summary>How long a link's state is trusted without asking the database again.</summary>
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<Guid, (bool Open, DateTimeOffset CheckedAt)> _states = new();
    private readonly ConcurrentDictionary<Guid, Watched> _watched = new();

    /// <summary>Whether the session's link still takes messages: not revoked, not expired, the session not closed.</summary>
    public async ValueTask<bool> IsOpenAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_states.TryGetValue(sessionId, out var cached) && now - cached.CheckedAt < CacheFor)
        {
            return cached.Open;
        }

        await using var command = data.CreateCommand("SELECT expires_at > $2 AND status = $3 FROM sessions WHERE id = $1");
        command.Parameters.Add(new() { Value = sessionId });
        command.Parameters.Add(new() { Value = now });
        command.Parameters.Add(new() { Value = Portal.Data.SessionStatus.Open });
        var open = await command.ExecuteScalarAsync(cancellationToken) is true;
        _states[sessionId] = (open, now);
        if (_states.Count > 100_000)
        {
            // Bounded: states older than the cache time are worthless anyway.
            foreach (var (key, value) in _states)
            {
                if (now - value.CheckedAt >= CacheFor)
                {
                    _states.TryRemove(key, out _);
                }
            }
        }

        return open;
    }

    /// <summary>Tracks an open customer hub connection of the session on this instance.</summary>
    public void Opened(Guid sessionId, HubCallerContext connection) => Add(sessionId, connection.ConnectionId, connection.Abort);

    /// <summary>Forgets a hub connection that ended.</summary>
    public void Closed(Guid sessionId, HubCallerContext connection) => Remove(sessionId, connection.ConnectionId);

    /// <summary>
    /// Tracks any other connection the session's page holds open (an echo socket, an event stream, a long poll) until
    /// the returned registration is disposed; <paramref name="abort"/> ends it when the link is revoked or closed.
    /// </summary>
    public IDisposable Track(Guid sessionId, Action abort)
    {
        var id = Guid.NewGuid().ToString("N");
        Add(sessionId, id, abort);
        return new Registration(() => Remove(sessionId, id));
    }

    private void Add(Guid sessionId, string id, Action abort)
    {
        var watched = _watched.GetOrAdd(sessionId, session => new Watched(events.Watch(session, e => ChangedAsync(session, e))));
        watched.Connections[id] = abort;
    }

    private void Remove(Guid sessionId, string id)
    {
        if (_watched.TryGetValue(sessionId, out var watched))
        {
            watched.Connections.TryRemove(id, out _);
            if (watched.Connections.IsEmpty && _watched.TryRemove(new KeyValuePair<Guid, Watched>(sessionId, watched)))
            {
                watched.Subscription.Dispose();
            }
        }
    }

    /// <summary>Aborts the session's open connections on this instance; the number aborted.</summary>
    public int Abort(Guid sessionId)
    {
        _states.TryRemove(sessionId, out _);
        if (!_watched.TryGetValue(sessionId, out var watched))
        {
            return 0;
        }

        var aborted = 0;
        foreach (var abort in watched.Connections.Values)
        {
            abort();
            aborted++;
        }

        return aborted;
    }

    private async Task ChangedAsync(Guid sessionId, PortalEvent change)
    {
        if (change.Kind == PortalEventKinds.RunRequested)
        {
            // An engineer's Run again (SessionService.RequestRunAsync), from whichever instance: this instance's pages hear it here.
            await hub.Clients.Group(RunHub.Group(sessionId)).RunAgain();
            return;
        }

        if (change.Kind is not (PortalEventKinds.SessionChanged or PortalEventKinds.Resync))
        {
            return;
        }

        _states.TryRemove(sessionId, out _);
        if (!await IsOpenAsync(sessionId, CancellationToken.None) && Abort(sessionId) is > 0 and var count)
        {
            LogAborted(logger, count, sessionId);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Closed {Count} open customer connection(s) of session {SessionId}: its link was revoked, expired or its session closed")]
    private static partial void LogAborted(ILogger logger, int count, Guid sessionId);

    private sealed record Watched(IDisposable Subscription)
    {
        public ConcurrentDictionary<string, Action> Connections { get; } = new(StringComparer.Ordinal);
    }

    private sealed class Registration(Action remove) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                remove();
            }
        }
    }
}
