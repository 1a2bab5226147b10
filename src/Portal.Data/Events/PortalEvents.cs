using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Portal.Data.Events;

/// <summary>Something that happened to a session, told to everyone watching it on any portal instance.</summary>
/// <param name="Kind">What happened: see <see cref="PortalEventKinds"/>.</param>
/// <param name="SessionId">The session it happened to.</param>
/// <param name="RunId">The run, where there is one.</param>
/// <param name="ResultId">The result, where there is one.</param>
public sealed record PortalEvent(string Kind, Guid SessionId, Guid? RunId = null, Guid? ResultId = null);

/// <summary>The kinds of <see cref="PortalEvent"/>.</summary>
public static class PortalEventKinds
{
    public const string ResultStored = "result";
    public const string RunStarted = "run-started";
    public const string RunCompleted = "run-completed";

    /// <summary>The findings of a run changed.</summary>
    public const string FindingsChanged = "findings";

    /// <summary>An engineer added a note.</summary>
    public const string NoteAdded = "note";

    /// <summary>Someone started or stopped watching the session.</summary>
    public const string PresenceChanged = "presence";

    /// <summary>The session itself changed: closed, reopened, link revoked or renewed, shared.</summary>
    public const string SessionChanged = "session";

    /// <summary>An engineer asked the customer's open page to run the test again (on whichever instance it is connected to).</summary>
    public const string RunRequested = "run-again";

    /// <summary>A portal-wide setting changed (sent with an empty session id).</summary>
    public const string SettingsChanged = "settings";

    /// <summary>The listener reconnected and may have missed events: reload from the database.</summary>
    public const string Resync = "resync";
}

/// <summary>
/// The event bus: writers publish with <c>pg_notify</c> inside the transaction that stores the change, so an
/// event is sent exactly when the change is committed; every instance LISTENs and hands events to the
/// local watchers of the session. Persist, then publish, with no window between the two.
/// </summary>
public sealed partial class PortalEvents(NpgsqlDataSource dataSource, ILogger<PortalEvents> logger) : BackgroundService
{
    /// <summary>The PostgreSQL channel the events travel on.</summary>
    public const string Channel = "portal_events";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly ConcurrentDictionary<Guid, ImmutableArray<Func<PortalEvent, Task>>> _watchers = new();
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once this instance is listening.</summary>
    public Task Listening => _listening.Task;

    /// <summary>Adds the event to a transaction; it is delivered when, and only if, the transaction commits.</summary>
    public static async Task PublishAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, PortalEvent portalEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await using var command = new NpgsqlCommand("SELECT pg_notify($1, $2)", connection, transaction);
        command.Parameters.Add(new() { Value = Channel });
        command.Parameters.Add(new() { Value = JsonSerializer.Serialize(portalEvent, Json) });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Calls <paramref name="handler"/> for every event of the session until the returned object is disposed.</summary>
    public IDisposable Watch(Guid sessionId, Func<PortalEvent, Task> handler)
    {
        _watchers.AddOrUpdate(sessionId, _ => [handler], (_, list) => list.Add(handler));
        return new Subscription(this, sessionId, handler);
    }

    /// <summary>The number of sessions with at least one local watcher.</summary>
    public int WatchedSessions => _watchers.Count;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromMilliseconds(250);
        var first = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, e) => Dispatch(e.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                _listening.TrySetResult();
                if (!first)
                {
                    LogReconnected();
                    foreach (var sessionId in _watchers.Keys)
                    {
                        Deliver(new PortalEvent(PortalEventKinds.Resync, sessionId));
                    }
                }

                first = false;
                delay = TimeSpan.FromMilliseconds(250);
                while (!stoppingToken.IsCancellationRequested)
                {
                    await connection.WaitAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or IOException)
            {
                LogListenFailed(ex, delay.TotalMilliseconds);
                first = false;
                await Task.Delay(delay, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }

    private void Dispatch(string payload)
    {
        PortalEvent? portalEvent;
        try
        {
            portalEvent = JsonSerializer.Deserialize<PortalEvent>(payload, Json);
        }
        catch (JsonException)
        {
            portalEvent = null;
        }

        if (portalEvent is null)
        {
            LogBadPayload();
            return;
        }

        Deliver(portalEvent);
    }

    private void Deliver(PortalEvent portalEvent)
    {
        if (!_watchers.TryGetValue(portalEvent.SessionId, out var handlers))
        {
            return;
        }

        foreach (var handler in handlers)
        {
            _ = InvokeAsync(handler, portalEvent);
        }
    }

    private async Task InvokeAsync(Func<PortalEvent, Task> handler, PortalEvent portalEvent)
    {
        try
        {
            await handler(portalEvent);
        }
        catch (Exception ex)
        {
            LogHandlerFailed(ex, portalEvent.Kind);
        }
    }

    private void Unwatch(Guid sessionId, Func<PortalEvent, Task> handler)
    {
        while (_watchers.TryGetValue(sessionId, out var list))
        {
            var updated = list.Remove(handler);
            var done = updated.IsEmpty
                ? _watchers.TryRemove(new KeyValuePair<Guid, ImmutableArray<Func<PortalEvent, Task>>>(sessionId, list))
                : _watchers.TryUpdate(sessionId, updated, list);
            if (done)
            {
                return;
            }
        }
    }

    private sealed class Subscription(PortalEvents owner, Guid sessionId, Func<PortalEvent, Task> handler) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Unwatch(sessionId, handler);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event listener lost its PostgreSQL connection; retrying in {DelayMs} ms")]
    private partial void LogListenFailed(Exception ex, double delayMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Event listener reconnected; watchers told to reload")]
    private partial void LogReconnected();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored an event with an unreadable payload")]
    private partial void LogBadPayload();

    [LoggerMessage(Level = LogLevel.Error, Message = "A watcher failed to handle a {Kind} event")]
    private partial void LogHandlerFailed(Exception ex, string kind);
}
