using System.Diagnostics;
using System.Globalization;
using Npgsql;
using Portal.Testing;

/// <summary>
/// The console's sessions list over many sessions: seeds them straight into PostgreSQL (a tenth with a run and an
/// idle-timeout finding), then times the list API's pages and filters as the console calls them.
/// </summary>
internal static class SessionsList
{
    public static async Task RunAsync(int count)
    {
        await using var portal = await PortalProcess.StartAsync("bench-sessions");
        await using (var data = NpgsqlDataSource.Create(portal.ConnectionString))
        {
            var seeding = Stopwatch.StartNew();
            await using var seed = data.CreateBatch();
            var sessions = new NpgsqlBatchCommand("""
                INSERT INTO sessions (id, customer_name, ticket_ref, created_at, token_hash, expires_at, status, idle_seconds, targets)
                SELECT gen_random_uuid(), 'Customer ' || i, 'T-' || i, now() - make_interval(mins => i), sha256(convert_to('bench' || i, 'UTF8')),
                       now() + interval '7 days', CASE WHEN i % 5 = 0 THEN 'closed' ELSE 'open' END, 30, '{}'
                FROM generate_series(1, $1) AS i
                """);
            sessions.Parameters.Add(new() { Value = count });
            seed.BatchCommands.Add(sessions);
            seed.BatchCommands.Add(new("INSERT INTO runs (id, session_id, status, started_at) SELECT gen_random_uuid(), s.id, 'completed', s.created_at FROM sessions s WHERE s.ticket_ref LIKE 'T-%0'"));
            seed.BatchCommands.Add(new("""
                INSERT INTO findings (run_id, session_id, code, severity, summary, evidence, recommendation, evaluated_at)
                SELECT r.id, r.session_id, 'idle-timeout', 'warning', 'cut after 60 s', '[]', 'raise the time-out', now() FROM runs r
                """));
            seed.BatchCommands.Add(new("ANALYZE"));
            await seed.ExecuteNonQueryAsync();
            Console.WriteLine(FormattableString.Invariant($"Seeded {count} sessions in {seeding.Elapsed.TotalSeconds:F1} s"));
        }

        using var api = portal.CreateClient();
        (string Name, string Query)[] cases =
        [
            ("first page", "take=25"),
            ("page 200", $"skip={Math.Max(0, count - 25)}&take=25"),
            ("search", "search=customer%20777"),
            ("status closed", "status=closed&take=25"),
            ("finding idle-timeout", "finding=idle-timeout&take=25"),
            ("date range", FormattableString.Invariant($"from={DateTimeOffset.UtcNow.AddDays(-2):yyyy-MM-dd}&to={DateTimeOffset.UtcNow.AddDays(-1):yyyy-MM-dd}&take=25")),
        ];
        Console.WriteLine($"Sessions list over {count} sessions (API, 30 calls each after 3 warm-up calls)");
        Console.WriteLine($"  {"case",-24} {"p50 ms",8} {"p95 ms",8} {"max ms",8}");
        foreach (var (name, query) in cases)
        {
            var times = new List<double>();
            for (var i = 0; i < 33; i++)
            {
                var watch = Stopwatch.StartNew();
                using var response = await api.GetAsync($"/api/v1/sessions?{query}");
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsByteArrayAsync();
                if (i >= 3)
                {
                    times.Add(watch.Elapsed.TotalMilliseconds);
                }
            }

            times.Sort();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-24} {times[times.Count / 2],8:F1} {times[(int)(times.Count * 0.95)],8:F1} {times[^1],8:F1}"));
        }
    }
}
