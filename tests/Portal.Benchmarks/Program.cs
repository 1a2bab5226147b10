// Customer-page benchmarks: what the page transfers before Run test, and how long the battery takes per step.
// Prints figures against DESIGN.md's budgets. Run: dotnet run -c Release --project tests/Portal.Benchmarks [-- runs]
// The sessions list over many sessions: dotnet run -c Release --project tests/Portal.Benchmarks -- sessions [count]
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Npgsql;
using Portal.Testing;

if (args.Length > 0 && args[0] == "sessions")
{
    await SessionsList.RunAsync(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10_000);
    return;
}

var runs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
const string Battery = "env,http.ping,http.cors,ws.echo,ws.messages,ws.close,sse,longpoll,signalr.transports,http.download,http.upload,targets";
const double PageBudgetKb = 60;
const double BatteryBudgetS = 12;

await using var portal = await PortalProcess.StartAsync("bench");
using var playwright = await Playwright.CreateAsync();
await using var browser = await Chromium.LaunchAsync(playwright);
using var api = portal.CreateClient();

// 1. Bytes on the wire before Run test (compressed bodies plus headers, every request the page makes on load).
{
    using var created = await api.PostAsJsonAsync("/api/v1/sessions", new { customerName = "Bench" });
    var link = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("customerUrl").GetString()!;
    var page = await (await browser.NewContextAsync()).NewPageAsync();
    var responses = new List<IResponse>();
    page.Response += (_, r) => responses.Add(r);
    await page.GotoAsync(link, new() { WaitUntil = WaitUntilState.NetworkIdle });
    Console.WriteLine("Customer page before Run test");
    Console.WriteLine($"  {"request",-60} {"body B",8} {"headers B",10}");
    long total = 0;
    foreach (var response in responses)
    {
        var sizes = await response.Request.SizesAsync();
        total += sizes.ResponseBodySize + sizes.ResponseHeadersSize;
        var path = new Uri(response.Url).PathAndQuery;
        var shown = path.Contains("/t/", StringComparison.Ordinal) ? "/t/{token}" : path.Split("access_token")[0];
        Console.WriteLine($"  {shown[..Math.Min(60, shown.Length)],-60} {sizes.ResponseBodySize,8} {sizes.ResponseHeadersSize,10}");
    }

    Console.WriteLine(FormattableString.Invariant($"  total {total / 1024.0:F1} KB transferred (budget {PageBudgetKb} KB gzip) — {(total / 1024.0 <= PageBudgetKb ? "within" : "OVER")} budget"));
}

// 2. The battery without the idle step, several times; the median per step.
var durations = new Dictionary<string, List<double>>(StringComparer.Ordinal);
var totals = new List<double>();
for (var i = 0; i < runs; i++)
{
    using var created = await api.PostAsJsonAsync("/api/v1/sessions", new { customerName = $"Bench {i}" });
    var body = await created.Content.ReadFromJsonAsync<JsonElement>();
    var page = await (await browser.NewContextAsync()).NewPageAsync();
    await page.GotoAsync(body.GetProperty("customerUrl").GetString()! + "?steps=" + Battery);
    var started = DateTime.UtcNow;
    await page.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
    await page.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 120_000 });
    totals.Add((DateTime.UtcNow - started).TotalSeconds);
    await using var dataSource = NpgsqlDataSource.Create(portal.ConnectionString);
    await using var command = dataSource.CreateCommand("SELECT step, (metrics->>'durationMs')::float8 FROM results WHERE session_id = $1 AND source = 'client'");
    command.Parameters.Add(new() { Value = body.GetProperty("id").GetGuid() });
    await using var reader = await command.ExecuteReaderAsync();
    while (await reader.ReadAsync())
    {
        (durations.TryGetValue(reader.GetString(0), out var list) ? list : durations[reader.GetString(0)] = []).Add(reader.GetDouble(1));
    }
}

static double Median(List<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
}

Console.WriteLine();
Console.WriteLine(FormattableString.Invariant($"Battery on loopback, idle step excluded, median of {runs} runs"));
foreach (var step in Battery.Split(','))
{
    Console.WriteLine(FormattableString.Invariant($"  {step,-20} {(durations.TryGetValue(step, out var d) ? Median(d) : double.NaN),8:F0} ms"));
}

var median = Median(totals);
Console.WriteLine(FormattableString.Invariant($"  total (click to verdict) {median:F2} s (budget {BatteryBudgetS} s) — {(median <= BatteryBudgetS ? "within" : "OVER")} budget"));
