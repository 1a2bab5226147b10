using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Portal.Testing;

namespace Portal.E2E.Tests.Lab;

/// <summary>One customer run through a lab path: its session, its run, what it stored and what the portal found.</summary>
public sealed record LabRun(Guid SessionId, Guid RunId, IReadOnlyList<JsonElement> Results, IReadOnlyList<string> Findings, string Transport)
{
    /// <summary>The run's latest result of a step.</summary>
    public JsonElement Result(string step) => Results.Last(r => r.GetProperty("step").GetString() == step);

    /// <summary>A metric of the run's latest result of a step, or null.</summary>
    public double? Metric(string step, string name) =>
        Results.LastOrDefault(r => r.GetProperty("step").GetString() == step) is { ValueKind: JsonValueKind.Object } r
        && r.GetProperty("metrics").TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
}

/// <summary>
/// A lab scenario: the real portal, a real proxy from Debian's packages configured from <c>docker/lab/</c>, and real
/// Chromium running the customer's battery through it. Each scenario asserts the exact set of findings the run
/// produced and writes its row to the lab's results table. Every process a scenario starts has its own ports
/// (<see cref="PortalProcess.FreePort"/>) and its own folder, so lab classes run beside the other tests, two at a time
/// like them (scenario 11, which changes the machine's network, runs alone).
/// </summary>
public abstract class LabTest(string name, Dictionary<string, string>? environment = null) : BrowserTest(name, environment)
{
    /// <summary>A lab configuration from <c>docker/lab/</c> with its <c>{name}</c> tokens replaced (<c>{folder}</c> is left to the lab process).</summary>
    protected static string Config(string file, params (string Name, object Value)[] tokens)
    {
        var text = File.ReadAllText(Path.Combine(LabResults.RepositoryRoot, "docker", "lab", file));
        foreach (var (key, value) in tokens)
        {
            text = text.Replace("{" + key + "}", Convert.ToString(value, CultureInfo.InvariantCulture), StringComparison.Ordinal);
        }

        return text;
    }

    /// <summary>Starts nginx with a configuration from <c>docker/lab/</c> (which includes <c>nginx-common.inc</c>) and other files it names.</summary>
    protected static Task<LabProcess> LaunchNginxAsync(string configuration, int port, Dictionary<string, string>? files = null) =>
        LabProcess.StartAsync(
            "nginx", configuration, ["-p", "{folder}", "-c", "{config}", "-e", "{folder}/error.log"], port,
            new Dictionary<string, string>(files ?? []) { ["nginx-common.inc"] = Config("nginx-common.inc") });

    /// <summary>Starts stunnel terminating TLS on <paramref name="port"/> (a self-signed lab certificate) and passing plain TCP to <paramref name="connectPort"/>.</summary>
    protected static async Task<LabProcess> StartStunnelAsync(int port, int connectPort, int idleSeconds)
    {
        using var certificate = TestCertificates.SelfSigned(["localhost"], [System.Net.IPAddress.Loopback]);
        var (certificatePath, keyPath) = TestCertificates.WritePem(certificate, TempFolder.Create("portal-stunnel"));
        return await LabProcess.StartAsync(
            "stunnel4", Config("stunnel.conf", ("listen", port), ("portal", connectPort), ("timeout", idleSeconds)), ["{config}"], port,
            new Dictionary<string, string> { ["cert.pem"] = await File.ReadAllTextAsync(certificatePath), ["cert.key"] = await File.ReadAllTextAsync(keyPath) });
    }

    /// <summary>The portal's own port (its first address).</summary>
    protected int PortalPort => Portal.BaseAddress.Port;

    /// <summary>
    /// Creates a session, opens its customer link on <paramref name="through"/> (a proxy's address, or the portal's),
    /// runs the battery (only <paramref name="steps"/> when given) and waits for the run to complete.
    /// </summary>
    protected async Task<(Guid SessionId, IPage Page)> RunAsync(Uri through, string? steps, int idleSeconds = 5, IBrowser? browser = null, int timeoutSeconds = 90)
    {
        var (sessionId, link) = await CreateSessionAsync("Lab customer", idleSeconds);
        var token = new Uri(link).Segments[^1];
        var context = await (browser ?? Browser).NewContextAsync(new() { IgnoreHTTPSErrors = true });
        var page = await context.NewPageAsync();
        await page.GotoAsync(new Uri(through, "/t/" + token + (steps is null ? "" : "?steps=" + steps)).ToString());
        await page.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await page.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = timeoutSeconds * 1000 });
        return (sessionId, page);
    }

    /// <summary>
    /// As <see cref="RunAsync"/>, in another engine than Chromium (<see cref="Engines"/>): firefox or webkit, through
    /// <paramref name="proxy"/> (<c>host:port</c>, Firefox only) when given.
    /// </summary>
    protected async Task<(Guid SessionId, IPage? Page)> RunInAsync(string engine, Uri through, string? steps, int idleSeconds = 5, string? proxy = null)
    {
        var (sessionId, link) = await CreateSessionAsync($"Lab customer ({engine})", idleSeconds);
        var token = new Uri(link).Segments[^1];
        await Engines.RunAsync(engine, new Uri(through, "/t/" + token + (steps is null ? "" : "?steps=" + steps)), proxy);
        return (sessionId, null);
    }

    /// <summary>
    /// Waits until the customer run's (or the probe run's) findings are exactly <paramref name="expected"/> (they are evaluated just after
    /// ingest), records the scenario's row in the results table either way, and fails with what was found instead.
    /// </summary>
    protected async Task<LabRun> ExpectFindingsAsync(
        string scenario, string path, (Guid SessionId, IPage? Page) customer, string[] expected, Func<LabRun, string>? figures = null, TimeSpan? within = null, bool probeRun = false)
    {
        var sessionId = customer.SessionId;
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(20));
        LabRun run;
        while (true)
        {
            run = await ReadRunAsync(sessionId, probeRun);
            if (run.Findings.Order(StringComparer.Ordinal).SequenceEqual(expected.Order(StringComparer.Ordinal)) || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(250);
        }

        var ok = run.Findings.Order(StringComparer.Ordinal).SequenceEqual(expected.Order(StringComparer.Ordinal));
        var measured = figures is null ? "" : figures(run);
        LabResults.Record(scenario, path, expected, run.Findings, measured, ok);
        ok.ShouldBeTrue($"{scenario} ({path}): expected [{string.Join(", ", expected)}], the portal found [{string.Join(", ", run.Findings)}]. "
            + (customer.Page is null ? "" : $"The customer's page said:\n{await customer.Page.Locator("#steps").InnerTextAsync()}\n") + "The portal stored:\n"
            + string.Join('\n', run.Results.Select(r => $"{r.GetProperty("step")} {r.GetProperty("status")} via {r.GetProperty("transport")}: {r.GetProperty("metrics")} {r.GetProperty("detail")}")));
        return run;
    }

    /// <summary>The session's customer run (the one whose results came from a browser) or probe run, with its findings.</summary>
    protected async Task<LabRun> ReadRunAsync(Guid sessionId, bool probeRun = false)
    {
        using var api = Portal.CreateClient();
        var session = await api.GetFromJsonAsync<JsonElement>($"/api/v1/sessions/{sessionId}");
        var results = session.GetProperty("results").EnumerateArray().ToList();
        // A probe run's results came by the "probe" transport; a customer run's from the browser ("client").
        var ofRun = results.Where(r => probeRun ? r.GetProperty("transport").GetString() == "probe" : r.GetProperty("source").GetString() == "client").ToList();
        if (ofRun.Count == 0)
        {
            return new LabRun(sessionId, Guid.Empty, [], [], "none");
        }

        var runId = ofRun[^1].GetProperty("runId").GetGuid();
        var ofThisRun = results.Where(r => r.GetProperty("runId").GetGuid() == runId).ToList();
        var findings = session.GetProperty("findings").EnumerateArray()
            .Where(f => f.GetProperty("runId").GetGuid() == runId)
            .Select(f => f.GetProperty("code").GetString()!)
            .ToList();
        var transport = ofThisRun.Where(r => r.GetProperty("source").GetString() == "client").Select(r => r.GetProperty("transport").GetString()!).LastOrDefault() ?? "none";
        return new LabRun(sessionId, runId, ofThisRun, findings, transport);
    }

    /// <summary>A number for the table, e.g. <c>4.1</c>.</summary>
    protected static string N(double? value) => value is { } v ? v.ToString("0.#", CultureInfo.InvariantCulture) : "–";
}

/// <summary>
/// Scenario 11 adds network namespaces and veth links: every Chromium on the machine sees the network change and
/// aborts the page it was loading (net::ERR_NETWORK_CHANGED). So it runs alone, after every other test.
/// </summary>
[CollectionDefinition("network", DisableParallelization = true)]
public sealed class NetworkCollection;
