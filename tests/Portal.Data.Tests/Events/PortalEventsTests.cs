using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Portal.Data.Events;
using Portal.Testing;

namespace Portal.Data.Tests.Events;

public class PortalEventsTests
{
    [Fact]
    public async Task Watch_EventPublishedInCommittedTransaction_DeliveredToWatchersOfThatSessionOnly()
    {
        await using var dataSource = NpgsqlDataSource.Create(await PostgresServer.CreateEmptyDatabaseAsync("events"));
        using var events = new PortalEvents(dataSource, NullLogger<PortalEvents>.Instance);
        await events.StartAsync(CancellationToken.None);
        await events.Listening;
        var watched = Guid.NewGuid();
        var received = new List<PortalEvent>();
        var other = new List<PortalEvent>();
        using var a = events.Watch(watched, e => { lock (received) { received.Add(e); } return Task.CompletedTask; });
        using var b = events.Watch(Guid.NewGuid(), e => { lock (other) { other.Add(e); } return Task.CompletedTask; });

        await using (var connection = await dataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await PortalEvents.PublishAsync(connection, transaction, new PortalEvent(PortalEventKinds.ResultStored, watched, Guid.NewGuid(), Guid.NewGuid()), default);
            await transaction.CommitAsync();
        }

        await Eventually.TrueAsync(() => Task.FromResult(received.Count == 1), "the watcher received the event");
        received[0].SessionId.ShouldBe(watched);
        received[0].Kind.ShouldBe(PortalEventKinds.ResultStored);
        other.ShouldBeEmpty();
        await events.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Watch_TransactionRolledBack_NothingDelivered()
    {
        await using var dataSource = NpgsqlDataSource.Create(await PostgresServer.CreateEmptyDatabaseAsync("rollback"));
        using var events = new PortalEvents(dataSource, NullLogger<PortalEvents>.Instance);
        await events.StartAsync(CancellationToken.None);
        await events.Listening;
        var session = Guid.NewGuid();
        var received = 0;
        using var watch = events.Watch(session, _ => { Interlocked.Increment(ref received); return Task.CompletedTask; });

        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            await using (var transaction = await connection.BeginTransactionAsync())
            {
                await PortalEvents.PublishAsync(connection, transaction, new PortalEvent(PortalEventKinds.ResultStored, session), default);
                await transaction.RollbackAsync();
            }

            // A committed marker after the rolled-back one: once it arrives, the first would have too.
            await PortalEvents.PublishAsync(connection, null, new PortalEvent(PortalEventKinds.RunCompleted, session), default);
        }

        await Eventually.TrueAsync(() => Task.FromResult(Volatile.Read(ref received) >= 1), "the committed marker arrived");
        Volatile.Read(ref received).ShouldBe(1);
        await events.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Watch_AfterDispose_NoLongerCalled()
    {
        await using var dataSource = NpgsqlDataSource.Create(await PostgresServer.CreateEmptyDatabaseAsync("unwatch"));
        using var events = new PortalEvents(dataSource, NullLogger<PortalEvents>.Instance);
        var session = Guid.NewGuid();

        var watch = events.Watch(session, _ => Task.CompletedTask);
        events.WatchedSessions.ShouldBe(1);
        watch.Dispose();

        events.WatchedSessions.ShouldBe(0);
    }
}
