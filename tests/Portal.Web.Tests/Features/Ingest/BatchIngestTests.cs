using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Npgsql;
using Portal.Core.Results;
using Portal.Testing;
using Portal.Web.Features.Findings;
using Portal.Web.Features.Ingest;

namespace Portal.Web.Tests.Features.Ingest;

/// <summary>
/// Ingest's batching, in process on a real database: many results at once share statements and commits, yet each is
/// stored once, announced once and answered for itself, and one PostgreSQL refuses does not take its batch down.
/// </summary>
public sealed class BatchIngestTests : IAsyncLifetime
{
    private readonly CapturingLogger<RunIngest> _log = new();
    private readonly TaskCompletionSource _writersStart = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private NpgsqlDataSource _data = null!;
    private RunIngest _ingest = null!;

    public async Task InitializeAsync()
    {
        _data = NpgsqlDataSource.Create(await PostgresServer.CreateMigratedDatabaseAsync("batch"));
        _ingest = new RunIngest(_data, new FindingsStore(_data, TimeProvider.System), TimeProvider.System, _log, _writersStart.Task);
    }

    public async Task DisposeAsync()
    {
        _writersStart.TrySetResult();
        await _ingest.DisposeAsync();
        await _data.DisposeAsync();
    }

    [Fact]
    public async Task ManyResultsAtOnce_WithResends_EachStoredAndAnnouncedOnce_InSharedTransactions()
    {
        var sessions = new[] { await CreateSessionAsync(), await CreateSessionAsync(), await CreateSessionAsync() };
        var runs = Enumerable.Range(0, 30).Select(i => (Session: sessions[i % 3], Run: Guid.NewGuid())).ToArray();
        var results = Enumerable.Range(0, 600).Select(i => (runs[i % 30].Session, Result: Submission(runs[i % 30].Run))).ToArray();
        var events = await ListenAsync();

        // Every result once, and every third one a second time at the same moment: a resend racing its original.
        var calls = results.Concat(results.Where((_, i) => i % 3 == 0))
            .Select(r => (r.Result.Id, Task: _ingest.IngestAsync(r.Session, r.Result, ResultSource.Client, "websockets", "load", default)))
            .ToArray();
        _writersStart.SetResult();
        await Task.WhenAll(calls.Select(c => c.Task));

        foreach (var group in calls.GroupBy(c => c.Id))
        {
            group.Count(c => c.Task.Result == IngestOutcome.Stored).ShouldBe(1);
            group.Count(c => c.Task.Result == IngestOutcome.Duplicate).ShouldBe(group.Count() - 1);
        }

        var ids = results.Select(r => r.Result.Id).ToArray();
        (await ScalarAsync("SELECT count(*) FROM results WHERE id = ANY($1)", ids)).ShouldBe(600);
        (await ScalarAsync("SELECT count(*) FROM runs WHERE id = ANY($1)", runs.Select(r => r.Run).ToArray())).ShouldBe(30);
        (await ScalarAsync("SELECT count(*) FROM results r JOIN runs u ON u.id = r.run_id WHERE r.id = ANY($1) AND u.session_id <> r.session_id", ids)).ShouldBe(0);

        // Results committed by one transaction share its xmin: fewer transactions than results means they were batched.
        var transactions = await ScalarAsync("SELECT count(DISTINCT xmin::text) FROM results WHERE id = ANY($1)", ids);
        transactions.ShouldBeLessThan(600 / 2);

        var announced = await events.UntilAsync(e => e.Count(p => p.Contains("\"kind\":\"result\"", StringComparison.Ordinal)) >= 600);
        announced.Count(p => p.Contains("\"kind\":\"result\"", StringComparison.Ordinal)).ShouldBe(600);
        announced.Count(p => p.Contains("\"kind\":\"run-started\"", StringComparison.Ordinal)).ShouldBe(30);
        ids.All(id => announced.Count(p => p.Contains(id.ToString(), StringComparison.Ordinal)) == 1).ShouldBeTrue();
    }

    [Fact]
    public async Task OneResultRefusedByPostgres_OnlyItFails_TheRestOfItsBatchIsStored()
    {
        var session = await CreateSessionAsync();
        var good = Enumerable.Range(0, 1000).Select(_ => Submission(Guid.NewGuid())).ToArray();
        var orphan = Submission(Guid.NewGuid());

        // The orphan names a session that does not exist (deleted while its page was still sending): its run's foreign key fails.
        var calls = good.Take(500).Select(r => _ingest.IngestAsync(session, r, ResultSource.Client, "websockets", null, default))
            .Append(_ingest.IngestAsync(Guid.NewGuid(), orphan, ResultSource.Client, "websockets", null, default))
            .Concat(good.Skip(500).Select(r => _ingest.IngestAsync(session, r, ResultSource.Client, "websockets", null, default)))
            .ToArray();
        _writersStart.SetResult();
        var refused = await Should.ThrowAsync<PostgresException>(() => calls[500]);

        refused.SqlState.ShouldBe(PostgresErrorCodes.ForeignKeyViolation);
        (await Task.WhenAll(calls.Where((_, i) => i != 500))).ShouldAllBe(o => o == IngestOutcome.Stored);
        (await ScalarAsync("SELECT count(*) FROM results WHERE id = ANY($1)", good.Select(r => r.Id).ToArray())).ShouldBe(1000);
        (await ScalarAsync("SELECT count(*) FROM results WHERE id = ANY($1)", new[] { orphan.Id })).ShouldBe(0);
        _log.Messages.ShouldContain(m => m.Contains("storing them one at a time", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RunClaimedByTwoSessionsAtOnce_OnlyTheSessionThatCreatedItStores()
    {
        var a = await CreateSessionAsync();
        var b = await CreateSessionAsync();
        var run = Guid.NewGuid();

        // Both sessions name the same new run at the same moment, queued behind one another so they share batches. Four
        // writers take from the queue at once, so which session's insert commits first is not decided by queue order:
        // whichever creates the run owns it, and not one result of the other session may land in it.
        var calls = Enumerable.Range(0, 51).Select(_ => (Session: a, Task: _ingest.IngestAsync(a, Submission(run), ResultSource.Client, "websockets", null, default)))
            .Concat(Enumerable.Range(0, 50).Select(_ => (Session: b, Task: _ingest.IngestAsync(b, Submission(run), ResultSource.Client, "websockets", null, default))))
            .ToArray();
        _writersStart.SetResult();
        await Task.WhenAll(calls.Select(c => c.Task));

        var owner = await OwnerAsync(run);
        owner.ShouldBeOneOf(a, b);
        calls.Where(c => c.Session == owner).ShouldAllBe(c => c.Task.Result == IngestOutcome.Stored);
        calls.Where(c => c.Session != owner).ShouldAllBe(c => c.Task.Result == IngestOutcome.ForeignRun);
        (await ScalarAsync("SELECT count(*) FROM results WHERE run_id = $1 AND session_id = $2", run, owner)).ShouldBe(calls.Count(c => c.Session == owner));
        (await ScalarAsync("SELECT count(*) FROM results WHERE session_id = $1", owner == a ? b : a)).ShouldBe(0);
    }

    [Fact]
    public async Task RunOfAnotherSession_LaterResultsOfTheIntruder_AreRefused()
    {
        var owner = await CreateSessionAsync();
        var intruder = await CreateSessionAsync();
        var run = Guid.NewGuid();
        _writersStart.SetResult();
        (await _ingest.IngestAsync(owner, Submission(run), ResultSource.Client, "websockets", null, default)).ShouldBe(IngestOutcome.Stored);

        var mine = Enumerable.Range(0, 50).Select(_ => _ingest.IngestAsync(owner, Submission(run), ResultSource.Client, "websockets", null, default)).ToArray();
        var theirs = Enumerable.Range(0, 50).Select(_ => _ingest.IngestAsync(intruder, Submission(run), ResultSource.Client, "websockets", null, default)).ToArray();

        (await Task.WhenAll(mine)).ShouldAllBe(o => o == IngestOutcome.Stored);
        (await Task.WhenAll(theirs)).ShouldAllBe(o => o == IngestOutcome.ForeignRun);
        (await OwnerAsync(run)).ShouldBe(owner);
        (await ScalarAsync("SELECT count(*) FROM results WHERE run_id = $1 AND session_id = $2", run, owner)).ShouldBe(51);
        (await ScalarAsync("SELECT count(*) FROM results WHERE session_id = $1", intruder)).ShouldBe(0);
    }

    private async Task<Guid> OwnerAsync(Guid run)
    {
        await using var command = _data.CreateCommand("SELECT session_id FROM runs WHERE id = $1");
        command.Parameters.Add(new() { Value = run });
        return (Guid)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task RunLockedByAFindingsEvaluation_IngestDoesNotWait()
    {
        var session = await CreateSessionAsync();
        var run = Guid.NewGuid();
        _writersStart.SetResult();
        (await _ingest.IngestAsync(session, Submission(run), ResultSource.Client, "websockets", null, default)).ShouldBe(IngestOutcome.Stored);

        // Hold the run the way an evaluation does, for as long as the test needs.
        await using var evaluation = await _data.OpenConnectionAsync();
        await using var transaction = await evaluation.BeginTransactionAsync();
        await using (var lockRun = new NpgsqlCommand(FindingsStore.LockRunSql, evaluation, transaction))
        {
            lockRun.Parameters.Add(new() { Value = run });
            lockRun.Parameters.Add(new() { Value = session });
            (await lockRun.ExecuteScalarAsync()).ShouldBe("running");
        }

        var outcome = await _ingest.IngestAsync(session, Submission(run), ResultSource.Client, "websockets", null, default).WaitAsync(TimeSpan.FromSeconds(10));

        outcome.ShouldBe(IngestOutcome.Stored);
        await transaction.RollbackAsync();
    }

    private static ResultSubmission Submission(Guid run) => new(Guid.NewGuid(), run, "ws.echo", ResultStatus.Pass);

    private async Task<Guid> CreateSessionAsync()
    {
        var id = Guid.NewGuid();
        await using var command = _data.CreateCommand(
            "INSERT INTO sessions (id, created_at, token_hash, expires_at, status, idle_seconds, targets) VALUES ($1, now(), $2, now() + interval '1 day', 'open', 60, '{}')");
        command.Parameters.Add(new() { Value = id });
        command.Parameters.Add(new() { Value = RandomNumberGenerator.GetBytes(32) });
        await command.ExecuteNonQueryAsync();
        return id;
    }

    private async Task<long> ScalarAsync(string sql, params object[] parameters)
    {
        await using var command = _data.CreateCommand(sql);
        foreach (var p in parameters)
        {
            command.Parameters.Add(new() { Value = p });
        }

        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task<EventLog> ListenAsync()
    {
        var connection = await _data.OpenConnectionAsync();
        var log = new EventLog(connection);
        connection.Notification += (_, e) => log.Payloads.Enqueue(e.Payload);
        await using var listen = new NpgsqlCommand("LISTEN portal_events", connection);
        await listen.ExecuteNonQueryAsync();
        return log;
    }

    private sealed class EventLog(NpgsqlConnection connection)
    {
        public ConcurrentQueue<string> Payloads { get; } = new();

        /// <summary>Reads notifications until <paramref name="enough"/> holds, then a little longer, so extra ones would show.</summary>
        public async Task<string[]> UntilAsync(Func<string[], bool> enough)
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (!enough([.. Payloads]))
            {
                await connection.WaitAsync(deadline.Token);
            }

            using var grace = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
            try
            {
                while (true)
                {
                    await connection.WaitAsync(grace.Token);
                }
            }
            catch (OperationCanceledException)
            {
            }

            await connection.DisposeAsync();
            return [.. Payloads];
        }
    }

    private sealed class CapturingLogger<T> : ILogger<T>
    {
        public ConcurrentQueue<string> Messages { get; } = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Messages.Enqueue(formatter(state, exception));
    }
}
