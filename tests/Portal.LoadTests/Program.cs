// The load harness: customer runs report through the SignalR JSON hub protocol over raw WebSockets (or by plain HTTP
// POST), K watchers LISTEN on the portal's event channel (the notifications every instance's consoles are fed from),
// and the harness prints ingest results/s, latency from send to watcher receipt (p50/p95/p99), connections held, and
// the portal's memory and CPU. See the README's "Load harness" section.
//
//   dotnet run -c Release --project tests/Portal.LoadTests -- [--runs 200] [--results 100] [--watchers 4]
//       [--consoles 2] [--pace-ms 100] [--transport hub|http] [--idle 10000] [--no-fsync] [--screenshot page.png]
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Playwright;
using Npgsql;
using Portal.Data.Embedded;
using Portal.LoadTests;
using Portal.Testing;

var options = LoadOptions.Parse(args);
Console.WriteLine($"Load harness: {options.Runs} runs over {options.Transport}, {options.Watchers} event-bus listeners, {options.Consoles} engineers' session pages, {Environment.ProcessorCount} cores, PostgreSQL fsync {(options.Durable ? "on" : "off")}");

// A cluster of its own, configured as the portal's embedded default (fsync on) unless --no-fsync: every commit
// reaches the disk, as it would in production.
await using var cluster = await EmbeddedPostgres.StartAsync(
    new EmbeddedPostgresOptions { DataDirectory = TempFolder.Create("portal-load"), Database = "portal_load", Fsync = options.Durable }, NullLogger.Instance);

// Each simulated page sends far more than a real one: the per-link message budget is not what is measured here.
await using var portal = await PortalProcess.StartAsync(
    "load", new Dictionary<string, string> { ["Portal__Limits__MessagesPerMinutePerLink"] = "1000000" }, cluster.ConnectionString);
using var api = portal.CreateClient();
var machine = new Machine(portal.ProcessId);

var sessions = await CreateSessionsAsync(options.Runs);
await using var watchers = await Watchers.StartAsync(portal.ConnectionString, options.Watchers);
var reporters = new List<IReporter>();
foreach (var (_, token) in sessions)
{
    reporters.Add(await ConnectAsync(token));
}

Console.WriteLine($"  {reporters.Count} reporters connected; portal RSS {machine.PortalRssMiB():0} MiB");

// Warm-up, not measured: the JIT compiles and re-compiles the hot paths in the first seconds of load.
await RunAllAsync(reporters, 30, pace: null, watchers);
watchers.Reset();

// Throughput: every run sends as fast as its acknowledgements come back.
var sample = machine.Start();
var refusals = await RunAllAsync(reporters, options.Results, pace: null, watchers);
var busy = sample.Stop();
var total = options.Runs * options.Results;
Console.WriteLine($"  throughput: {total} results in {busy.Seconds:0.00} s = {total / busy.Seconds:0} results/s acknowledged and stored (budget >= 5,000 on 2 cores)");
Console.WriteLine($"    CPU: portal {busy.Portal:0%}, PostgreSQL {busy.Postgres:0%}, this harness {busy.Harness:0%}, Chromium {busy.Chromium:0%} of the machine; portal RSS {machine.PortalRssMiB():0} MiB");
Console.WriteLine($"    send -> event-bus notification at saturation: {watchers.Summary()}");
Report(refusals);

// Engineers open their session pages only now: their browsers run on this machine too, and would take its CPU from ingest.
await using var consoles = await Consoles.StartAsync(portal, sessions.Take(options.Consoles).Select(s => s.Id));
watchers.Reset();

// Latency: every run sends one result each pace, together a steady load below saturation.
var paced = machine.Start();
refusals = await RunAllAsync(reporters, options.Results, TimeSpan.FromMilliseconds(options.PaceMs), watchers);
var steady = paced.Stop();
Console.WriteLine($"  latency: {options.Runs} runs at once, one result per run every {options.PaceMs} ms ({options.Runs * 1000.0 / options.PaceMs:0} results/s)");
Console.WriteLine($"    send -> event-bus notification: {watchers.Summary()}");
Console.WriteLine($"    send -> row in an engineer's session page: {await consoles.SummaryAsync(watchers)} (budget p50 <= 25 ms, p99 <= 100 ms)");
Console.WriteLine($"    CPU: portal {steady.Portal:0%}, PostgreSQL {steady.Postgres:0%}, this harness {steady.Harness:0%}, Chromium {steady.Chromium:0%} of the machine");
Report(refusals);
var shot = Array.IndexOf(args, "--screenshot");
if (shot >= 0 && shot + 1 < args.Length)
{
    await consoles.ScreenshotAsync(args[shot + 1]);
}

foreach (var reporter in reporters)
{
    reporter.Dispose();
}

if (options.Idle > 0)
{
    await MeasureIdleAsync(options.Idle);
}

foreach (var line in portal.Output.Where(l => l.Contains("fail:", StringComparison.Ordinal)).Distinct().Take(5))
{
    Console.WriteLine($"  portal log: {line}");
}

async Task<List<(Guid Id, string Token)>> CreateSessionsAsync(int count)
{
    var created = new ConcurrentBag<(Guid, string)>();
    await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
    {
        using var response = await api.PostAsJsonAsync("/api/v1/sessions", new { customerName = $"Load {i}" }, ct);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
        created.Add((body.GetProperty("id").GetGuid(), new Uri(body.GetProperty("customerUrl").GetString()!).Segments[^1]));
    });
    return [.. created];
}

async Task<IReporter> ConnectAsync(string token) => options.Transport == "http"
    ? new HttpReporter(portal.CreateClient(withApiKey: false), token)
    : new HubReporter(await RawHubClient.ConnectAsync(new Uri($"ws://{portal.BaseAddress.Authority}/hubs/run?access_token={token}"), portal.BaseAddress.GetLeftPart(UriPartial.Authority)));

async Task MeasureIdleAsync(int count)
{
    Console.WriteLine($"  idle: creating {count} sessions and opening one hub connection for each");
    var idleTokens = await CreateSessionsAsync(count);
    GC.Collect();
    var before = machine.PortalRssMiB();
    var held = new ConcurrentBag<RawHubClient>();
    await Parallel.ForEachAsync(idleTokens.Select(s => s.Token), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (token, _) =>
        held.Add((RawHubClient)((HubReporter)await ConnectAsync(token)).Client));

    // Hold them for a while, pinging as a page does, so the figure is not a transient peak before the first collection.
    for (var i = 0; i < 3; i++)
    {
        await Task.Delay(TimeSpan.FromSeconds(5));
        await Parallel.ForEachAsync(held, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (c, _) => await c.PingAsync());
    }

    var after = machine.PortalRssMiB();
    Console.WriteLine($"    {held.Count} idle connections held: portal RSS {before:0} -> {after:0} MiB, {(after - before) * 1024 / held.Count:0.0} KiB each (budget: 10,000 in < 1 GiB)");
    foreach (var c in held)
    {
        c.Dispose();
    }
}

static void Report(ConcurrentDictionary<string, int> refusals)
{
    foreach (var (reason, count) in refusals)
    {
        Console.WriteLine($"    refused {count}x: {reason}");
    }
}

static async Task<ConcurrentDictionary<string, int>> RunAllAsync(List<IReporter> reporters, int results, TimeSpan? pace, Watchers watchers)
{
    var refusals = new ConcurrentDictionary<string, int>();
    await Task.WhenAll(reporters.Select(async reporter =>
    {
        var run = Guid.NewGuid();
        if (pace is { } first)
        {
            // Spread the runs' starts over one pace, so they do not all send in the same millisecond.
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * first.TotalMilliseconds));
        }

        await reporter.ObserveAsync(run);
        var next = Stopwatch.GetTimestamp();
        for (var i = 0; i < results; i++)
        {
            var id = Guid.NewGuid();
            watchers.Sent(id);
            if (await reporter.ReportAsync(id, run) is { } refused)
            {
                refusals.AddOrUpdate(refused, 1, (_, n) => n + 1);
            }

            if (pace is { } interval)
            {
                next += (long)(interval.TotalSeconds * Stopwatch.Frequency);
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait);
                }
            }
        }
    }));
    return refusals;
}

namespace Portal.LoadTests
{
    /// <summary>The command line.</summary>
    internal sealed record LoadOptions(int Runs, int Results, int Watchers, int Consoles, int PaceMs, string Transport, int Idle, bool Durable)
    {
        public static LoadOptions Parse(string[] args)
        {
            int Number(string name, int fallback)
            {
                var at = Array.IndexOf(args, name);
                return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
            }

            var at = Array.IndexOf(args, "--transport");
            var transport = at >= 0 && at + 1 < args.Length ? args[at + 1] : "hub";
            if (transport is not ("hub" or "http"))
            {
                throw new ArgumentException("--transport is hub or http.");
            }

            return new(Number("--runs", 200), Number("--results", 100), Number("--watchers", 4), Number("--consoles", 2), Number("--pace-ms", 100), transport, Number("--idle", 0), !args.Contains("--no-fsync"));
        }
    }

    /// <summary>One simulated customer page.</summary>
    internal interface IReporter : IDisposable
    {
        Task ObserveAsync(Guid run);

        /// <summary>Reports one result; returns why it was refused, or null once it is acknowledged.</summary>
        Task<string?> ReportAsync(Guid id, Guid run);
    }

    /// <summary>A page on the hub's WebSocket transport.</summary>
    internal sealed class HubReporter(RawHubClient client) : IReporter
    {
        public RawHubClient Client => client;

        public Task ObserveAsync(Guid run) => client.InvokeAsync("Observe", run, Guid.NewGuid(), "");

        public async Task<string?> ReportAsync(Guid id, Guid run)
        {
            var answer = await client.InvokeJsonAsync("Report", $$$"""[{"id":"{{{id}}}","runId":"{{{run}}}","step":"ws.echo","status":"pass","metrics":{"rttMedianMs":1.5,"samples":20}}]""");
            return answer.TryGetProperty("result", out _) ? null : answer.TryGetProperty("error", out var error) ? error.ToString() : answer.ToString();
        }

        public void Dispose() => client.Dispose();
    }

    /// <summary>A page whose network lets nothing but plain requests through: the HTTP fallback.</summary>
    internal sealed class HttpReporter(HttpClient http, string token) : IReporter
    {
        public async Task ObserveAsync(Guid run)
        {
            using var response = await http.PostAsJsonAsync($"/api/runs/{token}/observe", new { runId = run, id = Guid.NewGuid() });
            response.EnsureSuccessStatusCode();
        }

        public async Task<string?> ReportAsync(Guid id, Guid run)
        {
            using var body = new StringContent($$$"""{"id":"{{{id}}}","runId":"{{{run}}}","step":"ws.echo","status":"pass","metrics":{"rttMedianMs":1.5,"samples":20}}""", Encoding.UTF8, "application/json");
            using var response = await http.PostAsync($"/api/runs/{token}/results", body);
            return response.IsSuccessStatusCode ? null : $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
        }

        public void Dispose() => http.Dispose();
    }

    /// <summary>K connections LISTENing on the portal's event channel, timing each result from send to notification.</summary>
    internal sealed class Watchers : IAsyncDisposable
    {
        private const string ResultIdKey = "\"resultId\":\"";
        // When each result was sent: a Stopwatch timestamp, and milliseconds since 1970 for comparing with a browser's clock.
        private readonly ConcurrentDictionary<Guid, (long Timestamp, double UnixMs)> _sent = new();
        private readonly ConcurrentQueue<double> _latencies = new();
        private readonly List<NpgsqlConnection> _connections = [];
        private readonly List<Task> _loops = [];
        private readonly CancellationTokenSource _stop = new();

        public static async Task<Watchers> StartAsync(string connectionString, int count)
        {
            var watchers = new Watchers();
            for (var i = 0; i < count; i++)
            {
                var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync();
                connection.Notification += (_, e) => watchers.Received(e.Payload);
                await using (var listen = new NpgsqlCommand("LISTEN portal_events", connection))
                {
                    await listen.ExecuteNonQueryAsync();
                }

                watchers._connections.Add(connection);
                watchers._loops.Add(Task.Run(async () =>
                {
                    try
                    {
                        while (true)
                        {
                            await connection.WaitAsync(watchers._stop.Token);
                        }
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }));
            }

            return watchers;
        }

        public void Sent(Guid id)
        {
            _sent[id] = (Stopwatch.GetTimestamp(), (DateTime.UtcNow - DateTime.UnixEpoch).TotalMilliseconds);
        }

        /// <summary>When a result was sent, in milliseconds since 1970 by this machine's clock (the browser's clock too).</summary>
        public bool SentAt(Guid id, out double unixMs)
        {
            var found = _sent.TryGetValue(id, out var sent);
            unixMs = sent.UnixMs;
            return found;
        }

        public void Reset()
        {
            _sent.Clear();
            _latencies.Clear();
        }

        public string Summary() => Describe(_latencies, "notifications");

        public static string Describe(IEnumerable<double> latencies, string what)
        {
            var sorted = latencies.Order().ToArray();
            double Q(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
            return $"p50 {Q(0.50):0.0} ms, p95 {Q(0.95):0.0} ms, p99 {Q(0.99):0.0} ms, max {Q(1):0.0} ms over {sorted.Length} {what}";
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await Task.WhenAll(_loops);
            foreach (var connection in _connections)
            {
                await connection.DisposeAsync();
            }

            _stop.Dispose();
        }

        private void Received(string payload)
        {
            var now = Stopwatch.GetTimestamp();
            var at = payload.IndexOf(ResultIdKey, StringComparison.Ordinal);
            if (at >= 0 && Guid.TryParse(payload.AsSpan(at + ResultIdKey.Length, 36), out var id) && _sent.TryGetValue(id, out var sent))
            {
                _latencies.Enqueue(Stopwatch.GetElapsedTime(sent.Timestamp, now).TotalMilliseconds);
            }
        }
    }

    /// <summary>
    /// Engineers watching: the bootstrap admin's session pages in Chromium, one per session, each noting (by a
    /// MutationObserver, on the page's clock, which is this machine's) when each result's row first appears.
    /// </summary>
    internal sealed class Consoles : IAsyncDisposable
    {
        private const string Observe = """
            () => {
              window.__seen = {};
              const note = () => {
                const now = performance.timeOrigin + performance.now();
                for (const row of document.querySelectorAll('[data-result]')) {
                  const id = row.dataset.result;
                  if (id && !(id in window.__seen)) window.__seen[id] = now;
                }
              };
              new MutationObserver(note).observe(document.body, { childList: true, subtree: true });
              note();
            }
            """;

        private readonly List<IPage> _pages = [];
        private IPlaywright? _playwright;
        private IBrowser? _browser;

        public static async Task<Consoles> StartAsync(PortalProcess portal, IEnumerable<Guid> sessions)
        {
            var consoles = new Consoles();
            var ids = sessions.ToList();
            if (ids.Count == 0)
            {
                return consoles;
            }

            consoles._playwright = await Playwright.CreateAsync();
            consoles._browser = await Chromium.LaunchAsync(consoles._playwright);
            var context = await consoles._browser.NewContextAsync();
            var login = await context.NewPageAsync();
            await login.GotoAsync(new Uri(portal.BaseAddress, "/account/login").ToString());
            await login.Locator("#email").FillAsync(PortalProcess.AdminEmail);
            await login.Locator("#password").FillAsync(PortalProcess.AdminPassword);
            await login.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();
            await login.WaitForURLAsync("**/sessions");
            await login.CloseAsync();
            foreach (var id in ids)
            {
                var page = await context.NewPageAsync();
                await page.GotoAsync(new Uri(portal.BaseAddress, $"/sessions/{id}").ToString());
                await page.Locator("[data-interactive=true]").WaitForAsync(new() { Timeout = 30_000 });
                await page.EvaluateAsync(Observe);
                consoles._pages.Add(page);
            }

            return consoles;
        }

        /// <summary>Send-to-row latencies of the results sent since the last reset, once their rows have had a moment to appear.</summary>
        public async Task<string> SummaryAsync(Watchers sent)
        {
            if (_pages.Count == 0)
            {
                return "no session pages open (--consoles 0)";
            }

            await Task.Delay(TimeSpan.FromSeconds(2));
            var latencies = new List<double>();
            foreach (var page in _pages)
            {
                foreach (var (id, seen) in await page.EvaluateAsync<Dictionary<string, double>>("() => window.__seen"))
                {
                    if (sent.SentAt(Guid.Parse(id), out var at))
                    {
                        latencies.Add(seen - at);
                    }
                }
            }

            return Watchers.Describe(latencies, $"rows in {_pages.Count} pages");
        }

        /// <summary>Saves the first engineer's page as it looks now.</summary>
        public async Task ScreenshotAsync(string path)
        {
            if (_pages.Count > 0)
            {
                // The console scrolls inside its layout: bring the newest run's results into view.
                await _pages[0].Locator(".results-grid").First.ScrollIntoViewIfNeededAsync();
                await _pages[0].ScreenshotAsync(new() { Path = path });
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (_browser is not null)
            {
                await _browser.DisposeAsync();
            }

            _playwright?.Dispose();
        }
    }

    /// <summary>CPU and memory of the portal, of PostgreSQL, of the harness and of Chromium, from /proc.</summary>
    internal sealed class Machine(int portalPid)
    {
        public double PortalRssMiB() =>
            File.ReadLines($"/proc/{portalPid}/status").Where(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
                .Select(l => double.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024).FirstOrDefault();

        public Sample Start() => new(this, Stopwatch.GetTimestamp(), CpuSeconds(portalPid), CpuSecondsOf("postgres"), Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds, CpuSecondsOf("chrom"));

        /// <summary>Shares of the whole machine (all cores) over the sample's time.</summary>
        public sealed record Usage(double Seconds, double Portal, double Postgres, double Harness, double Chromium);

        public sealed record Sample(Machine Machine, long Started, double Portal, double Postgres, double Harness, double Chromium)
        {
            public Usage Stop()
            {
                var seconds = Stopwatch.GetElapsedTime(Started).TotalSeconds;
                double Share(double cpu) => cpu / seconds / Environment.ProcessorCount;
                return new(
                    seconds,
                    Share(CpuSeconds(Machine.PortalPid) - Portal),
                    Share(CpuSecondsOf("postgres") - Postgres),
                    Share(Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - Harness),
                    Share(CpuSecondsOf("chrom") - Chromium));
            }
        }

        private int PortalPid => portalPid;

        // Every process on the machine whose name starts so (PostgreSQL's, Chromium's): the harness's are the busy ones while it runs.
        private static double CpuSecondsOf(string name) =>
            Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(d => d!.All(char.IsAsciiDigit))
                .Select(d => int.Parse(d!, CultureInfo.InvariantCulture))
                .Where(pid => Read(() => File.ReadAllText($"/proc/{pid}/comm").StartsWith(name, StringComparison.Ordinal), false))
                .Sum(pid => Read(() => CpuSeconds(pid), 0));

        private static double CpuSeconds(int pid)
        {
            var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name.
            return (double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }

        // A process may end between listing /proc and reading it.
        private static T Read<T>(Func<T> read, T fallback)
        {
            try
            {
                return read();
            }
            catch (IOException)
            {
                return fallback;
            }
        }
    }
}
