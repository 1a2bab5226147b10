using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Data;
using Portal.Data.Events;
using Portal.Testing;
using Portal.Web.Features.Sessions;

namespace Portal.Web.Tests.Features.Sessions;

/// <summary>Presence on a real database: a page of an instance that died (no goodbye, no more beats) is cleared.</summary>
public sealed class PresenceTests : IAsyncLifetime
{
    private ServiceProvider _services = null!;
    private NpgsqlDataSource _data = null!;

    public async Task InitializeAsync()
    {
        var connectionString = await PostgresServer.CreateMigratedDatabaseAsync("presence");
        _services = new ServiceCollection().AddPortalData(connectionString).AddSingleton(TimeProvider.System)
            .AddSingleton(Options.Create(new PresenceOptions())).AddSingleton<Collaboration>().BuildServiceProvider();
        _data = NpgsqlDataSource.Create(connectionString);
    }

    public async Task DisposeAsync()
    {
        await _data.DisposeAsync();
        await _services.DisposeAsync();
    }

    [Fact]
    public async Task Beat_AColleaguesPageWentSilent_ItIsClearedAndWatchersAreTold()
    {
        var collaboration = _services.GetRequiredService<Collaboration>();
        var session = Guid.NewGuid();
        await ExecuteAsync("INSERT INTO sessions (id, created_at, token_hash, expires_at, status, idle_seconds, targets) VALUES ($1, now(), $2, now() + interval '1 day', 'open', 60, '{}')",
            session, RandomNumberGenerator.GetBytes(32));
        var mine = Guid.NewGuid();
        await collaboration.JoinAsync(mine, session, "me", "me@portal.test", CancellationToken.None);
        // The colleague's instance died two minutes ago: its row stays, its beats stopped.
        await ExecuteAsync("INSERT INTO presence (circuit_id, session_id, user_id, user_name, seen_at) VALUES ($1, $2, 'gone', 'gone@portal.test', now() - interval '2 minutes')",
            Guid.NewGuid(), session);
        await using var listener = await _data.OpenConnectionAsync();
        var told = new List<string>();
        listener.Notification += (_, e) => told.Add(e.Payload);
        await using (var listen = new NpgsqlCommand($"LISTEN {PortalEvents.Channel}", listener))
        {
            await listen.ExecuteNonQueryAsync();
        }

        await collaboration.BeatAsync(mine, session, CancellationToken.None);
        await listener.WaitAsync(TimeSpan.FromSeconds(5));

        (await collaboration.WatchersAsync(session, CancellationToken.None)).Select(w => w.UserName).ShouldBe(["me@portal.test"]);
        (await CountAsync("SELECT count(*) FROM presence WHERE session_id = $1", session)).ShouldBe(1);
        told.ShouldHaveSingleItem().ShouldContain($"\"kind\":\"{PortalEventKinds.PresenceChanged}\"");

        // A beat with nothing stale tells nobody.
        told.Clear();
        await collaboration.BeatAsync(mine, session, CancellationToken.None);
        (await listener.WaitAsync(TimeSpan.FromSeconds(1))).ShouldBeFalse();
        told.ShouldBeEmpty();
    }

    private async Task ExecuteAsync(string sql, params object[] parameters)
    {
        await using var command = _data.CreateCommand(sql);
        foreach (var p in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = p });
        }

        await command.ExecuteNonQueryAsync();
    }

    private async Task<long> CountAsync(string sql, params object[] parameters)
    {
        await using var command = _data.CreateCommand(sql);
        foreach (var p in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = p });
        }

        return (long)(await command.ExecuteScalarAsync())!;
    }
}
