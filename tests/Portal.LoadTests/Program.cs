// The load harness: N customer runs report through the SignalR JSON hub protocol over raw WebSockets, K watchers
// LISTEN on the portal's event channel (the same notifications the engineers' consoles get), and the harness prints
// ingest results/s, latency from send to watcher receipt (p50/p95/p99), connections held, and the portal's memory
// and CPU. Run: dotnet run -c Release --project tests/Portal.LoadTests [-- runs resultsPerRun watchers]
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Portal.Data.Embedded;
using Portal.Testing;

var numbers = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
var runs = numbers.Length > 0 ? int.Parse(numbers[0], CultureInfo.InvariantCulture) : 200;
var perRun = numbers.Length > 1 ? int.Parse(numbers[1], CultureInfo.InvariantCulture) : 25;
var watchers = numbers.Length > 2 ? int.Parse(numbers[2], CultureInfo.InvariantCulture) : 4;
var durable = !args.Contains("--no-fsync");

// A cluster of its own, configured as the portal's embedded default (fsync on) unless --no-fsync: every commit
// reaches the disk, as it would in production.
var dataDirectory = Path.Combine(Path.GetTempPath(), "portal-load-" + Guid.NewGuid().ToString("N")[..8]);
using var cleanUp = new DeleteOnDispose(dataDirectory); // disposed last, after the cluster has stopped
await using var cluster = await EmbeddedPostgres.StartAsync(
    new EmbeddedPostgresOptions { DataDirectory = dataDirectory, Database = "portal_load", Fsync = durable }, NullLogger.Instance);

// Each simulated page sends more than a real one: the per-link message budget is not what is being measured.
await using var portal = await PortalProcess.StartAsync(
    "load", new Dictionary<string, string> { ["Portal__Limits__MessagesPerMinutePerLink"] = "1000000" }, cluster.ConnectionString);
using var api = portal.CreateClient();
var origin = portal.BaseAddress.GetLeftPart(UriPartial.Authority);
Console.WriteLine($"Load: {runs} concurrent runs x {perRun} results over the hub (raw WebSockets), {watchers} watchers; {Environment.ProcessorCount} cores; PostgreSQL fsync {(durable ? "on" : "off")}");

var tokens = new List<string>();
for (var i = 0; i < runs; i++)
{
    using var created = await api.PostAsJsonAsync("/api/v1/sessions", new { customerName = $"Load {i}" });
    tokens.Add(new Uri((await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("customerUrl").GetString()!).Segments[^1]);
}

// Watchers: each LISTENs like an instance's event bus and notes when each result's notification arrives.
var sent = new ConcurrentDictionary<Guid, long>();
var latencies = new ConcurrentBag<double>();
using var stopWatching = new CancellationTokenSource();
var watching = new List<Task>();
for (var w = 0; w < watchers; w++)
{
    var connection = new NpgsqlConnection(portal.ConnectionString);
    await connection.OpenAsync();
    connection.Notification += (_, e) =>
    {
        var now = Stopwatch.GetTimestamp();
        using var doc = JsonDocument.Parse(e.Payload);
        if (doc.RootElement.TryGetProperty("resultId", out var id) && id.ValueKind == JsonValueKind.String && sent.TryGetValue(id.GetGuid(), out var at))
        {
            latencies.Add(Stopwatch.GetElapsedTime(at, now).TotalMilliseconds);
        }
    };
    await using (var listen = new NpgsqlCommand("LISTEN portal_events", connection))
    {
        await listen.ExecuteNonQueryAsync();
    }

    watching.Add(Task.Run(async () =>
    {
        try
        {
            while (!stopWatching.IsCancellationRequested)
            {
                await connection.WaitAsync(stopWatching.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            await connection.DisposeAsync();
        }
    }));
}

var clients = new List<RawHubClient>();
foreach (var token in tokens)
{
    clients.Add(await RawHubClient.ConnectAsync(new Uri($"ws://{portal.BaseAddress.Authority}/hubs/run?access_token={token}"), origin));
}

Console.WriteLine($"  connections held: {clients.Count} hub WebSockets, portal RSS {Rss(portal.ProcessId):0} MiB");
var cpuBefore = CpuSeconds(portal.ProcessId);
var postgresBefore = PostgresCpuSeconds();
var harnessBefore = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
var started = Stopwatch.GetTimestamp();
var failures = 0;
var refusals = new ConcurrentDictionary<string, int>();
await Task.WhenAll(clients.Select(async client =>
{
    var run = Guid.NewGuid();
    await client.InvokeAsync("Observe", run, Guid.NewGuid());
    for (var i = 0; i < perRun; i++)
    {
        var id = Guid.NewGuid();
        sent[id] = Stopwatch.GetTimestamp();
        var answer = await client.InvokeAsync("Report", new { id, runId = run, step = "ws.echo", status = "pass", metrics = new { rttMedianMs = 1.5, samples = 20 } });
        if (!answer.TryGetProperty("result", out _))
        {
            Interlocked.Increment(ref failures);
            refusals.AddOrUpdate(answer.TryGetProperty("error", out var error) ? error.ToString() : answer.ToString(), 1, (_, n) => n + 1);
        }
    }
}));
var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
var cpu = CpuSeconds(portal.ProcessId) - cpuBefore;
var postgresCpu = PostgresCpuSeconds() - postgresBefore;
var harnessCpu = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - harnessBefore;
await Task.Delay(1000);
await stopWatching.CancelAsync();
await Task.WhenAll(watching);
var total = runs * perRun;
var sorted = latencies.Order().ToArray();
Console.WriteLine($"  ingest: {total} results in {elapsed:0.00} s = {total / elapsed:0} results/s acknowledged (budget >= 5,000 on 2 cores); {failures} refused");
foreach (var (reason, count) in refusals)
{
    Console.WriteLine($"    refused {count}x: {reason}");
}

foreach (var line in portal.Output.Where(l => l.Contains("fail:", StringComparison.Ordinal) || l.Contains("Exception", StringComparison.Ordinal) || l.Contains("   at Portal", StringComparison.Ordinal)).Distinct().Take(int.Parse(Environment.GetEnvironmentVariable("LOAD_LOG_LINES") ?? "10", CultureInfo.InvariantCulture)))
{
    Console.WriteLine($"    portal: {line}");
}

Console.WriteLine($"  send -> watcher receipt over {sorted.Length} notifications: p50 {Q(0.50):0.0} ms, p95 {Q(0.95):0.0} ms, p99 {Q(0.99):0.0} ms (budget p50 <= 25, p99 <= 100)");
Console.WriteLine($"  portal: RSS {Rss(portal.ProcessId):0} MiB, CPU {cpu:0.0} s over {elapsed:0.0} s ({Share(cpu)} of the machine); PostgreSQL {Share(postgresCpu)}, this harness {Share(harnessCpu)}");
foreach (var client in clients)
{
    client.Dispose();
}

string Share(double seconds) => (seconds / elapsed / Environment.ProcessorCount).ToString("0%", CultureInfo.InvariantCulture);

double Q(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];

static double Rss(int pid) =>
    File.ReadLines($"/proc/{pid}/status").Where(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
        .Select(l => double.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024).FirstOrDefault();

// Every PostgreSQL process on the machine: the harness's cluster is the only busy one while it runs.
static double PostgresCpuSeconds() =>
    Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(d => d!.All(char.IsAsciiDigit))
        .Select(d => int.Parse(d!, CultureInfo.InvariantCulture))
        .Where(pid => { try { return File.ReadAllText($"/proc/{pid}/comm").Trim() == "postgres"; } catch (IOException) { return false; } })
        .Sum(pid => { try { return CpuSeconds(pid); } catch (IOException) { return 0; } });

static double CpuSeconds(int pid)
{
    var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name.
    return (double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
}

/// <summary>Removes the harness's cluster folder once the cluster has stopped.</summary>
internal sealed class DeleteOnDispose(string path) : IDisposable
{
    public void Dispose()
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a folder left in the temp directory is harmless.
        }
    }
}
