using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Portal.Testing;

namespace Portal.E2E.Tests.Lab;

/// <summary>
/// Scenario 15, the sweep: the whole battery through nginx, HAProxy and Varnish, each with the configuration Debian
/// installs (read from <c>/etc</c>, as the package left it) plus only what points it at the portal — a port to listen
/// on, the backend's address, and the paths a test process needs instead of the system's (pid file, logs, admin
/// socket). The portal runs on its defaults. Whatever such a proxy does to the battery is the portal's deployment,
/// never the customer's network: no exception text reaches an engineer, no step fails unexplained, and no finding
/// about the customer's network is made of what the portal's own proxy did.
/// </summary>
public sealed partial class DebianDefaultsLabTests() : LabTest("lab-debian-defaults")
{
    private const int IdleSeconds = 8;

    /// <summary>Findings that speak of the customer's network: none of them may come of the portal's own proxy.</summary>
    private static readonly string[] AboutTheCustomer =
        ["websocket-blocked", "websocket-killed-after-open", "proxy-detected", "upgrade-headers-stripped", "tls-interception-suspected", "sse-buffered", "large-message-dropped", "cors-credentials-blocked", "slow-network", "idle-timeout", "request-body-limited", "proxy-error-page", "step-failed"];

    /// <summary>Findings about the path that the portal's own proxy may cause as well: allowed, with that said.</summary>
    private static readonly string[] PathCodes = ["sse-buffered", "request-body-limited", "idle-timeout", "large-message-dropped", "websocket-killed-after-open", "proxy-error-page"];

    protected override string[] BrowserArguments => ["--ignore-certificate-errors"];

    [Theory]
    // nginx: proxy_http_version 1.0 drops the upgrade, client_max_body_size 1m refuses large uploads, Host is $proxy_host.
    // HAProxy: no option forwardfor; in http mode it holds the first SSE events ~200 ms (no option http-no-delay).
    // Varnish: no pipe for upgrades, X-Forwarded-For from a peer not trusted.
    [InlineData("nginx", "15a", new[] { "portal-deployment", "request-body-limited" })]
    [InlineData("haproxy", "15b", new[] { "portal-deployment", "sse-buffered" })]
    [InlineData("varnish", "15c", new[] { "portal-deployment" })]
    public async Task WholeBatteryThroughDebiansDefaultConfiguration_NothingOnTheCustomerNoExceptionText(string proxy, string scenario, string[] expected)
    {
        var port = PortalProcess.FreePort();
        await using var server = await StartAsync(proxy, port);

        var customer = await RunAsync(new Uri($"http://127.0.0.1:{port}"), steps: null, IdleSeconds, timeoutSeconds: 150);

        var run = await ExpectFindingsAsync(scenario, $"{proxy} as Debian installs it, only pointed at the portal; portal on defaults", customer, expected,
            r => $"results by {r.Transport}; " + string.Join(", ", r.Results.Where(x => x.GetProperty("source").GetString() == "client" && x.GetProperty("status").GetString() is not "pass")
                .Select(x => $"{x.GetProperty("step").GetString()} {x.GetProperty("status").GetString()}")));
        run.Findings.Intersect(AboutTheCustomer.Except(PathCodes)).ShouldBeEmpty();
        await NoExceptionTextAsync(customer.SessionId, await customer.Page.Locator("#steps").InnerTextAsync());
        // What the path does that the portal's own proxy may be doing says so, and never names the customer's network as the cause.
        foreach (var finding in await FindingsAsync(customer.SessionId, run.RunId))
        {
            var code = finding.GetProperty("code").GetString()!;
            var summary = finding.GetProperty("summary").GetString()!;
            if (code == "portal-deployment")
            {
                summary.ShouldContain("Nothing here is the customer's fault");
            }
            else
            {
                summary.ShouldEndWith("this may be that proxy's doing rather than the customer's network.", customMessage: code);
            }
        }
    }

    private Task<LabProcess> StartAsync(string proxy, int port) => proxy switch
    {
        "nginx" => LabProcess.StartAsync("nginx", DebianNginx(port, PortalPort), ["-c", "{config}", "-g", "daemon off;"], port,
            new Dictionary<string, string> { ["default"] = DebianNginxSite(port, PortalPort) }),
        "haproxy" => LabProcess.StartAsync("haproxy", DebianHAProxy(port, PortalPort), ["-f", "{config}", "-db"], port),
        "varnish" => LabProcess.StartAsync("varnishd", DebianVarnish(PortalPort),
            ["-F", "-f", "{config}", "-a", $"127.0.0.1:{port}", "-n", "{folder}/work", "-s", "malloc,32m"], port),
        _ => throw new ArgumentOutOfRangeException(nameof(proxy)),
    };

    /// <summary>Debian's <c>/etc/nginx/nginx.conf</c>, with the pid file and logs in the lab's folder and its default site instead of sites-enabled.</summary>
    private static string DebianNginx(int port, int portal) =>
        Installed("/etc/nginx/nginx.conf")
            .Replace("pid /run/nginx.pid;", "pid {folder}/nginx.pid;", StringComparison.Ordinal)
            .Replace("/var/log/nginx/", "{folder}/", StringComparison.Ordinal)
            .Replace("include /etc/nginx/sites-enabled/*;", "include {folder}/default;", StringComparison.Ordinal);

    /// <summary>Debian's default site, on the lab's port, with its one location passed to the portal instead of files.</summary>
    private static string DebianNginxSite(int port, int portal) =>
        ListenLine().Replace(Installed("/etc/nginx/sites-available/default"), m => m.Value.Contains("[::]", StringComparison.Ordinal) ? "" : $"listen 127.0.0.1:{port} default_server;")
            .Replace("try_files $uri $uri/ =404;", $"proxy_pass http://127.0.0.1:{portal};", StringComparison.Ordinal);

    /// <summary>Debian's <c>/etc/haproxy/haproxy.cfg</c> (run in the foreground, its admin socket in the lab's folder) and one listen section.</summary>
    private static string DebianHAProxy(int port, int portal) =>
        Installed("/etc/haproxy/haproxy.cfg").Replace("/run/haproxy/admin.sock", "{folder}/admin.sock", StringComparison.Ordinal)
        + $"\nlisten portal\n\tbind 127.0.0.1:{port}\n\tserver portal 127.0.0.1:{portal}\n";

    /// <summary>Debian's <c>/etc/varnish/default.vcl</c> with its backend on the portal's port.</summary>
    private static string DebianVarnish(int portal) =>
        Installed("/etc/varnish/default.vcl").Replace(".port = \"8080\";", $".port = \"{portal}\";", StringComparison.Ordinal);

    private static string Installed(string path) =>
        File.Exists(path) ? File.ReadAllText(path) : throw new InvalidOperationException($"{path} is missing: the README's test command installs the lab's packages (scripts/prerequisites.sh --tests).");

    [GeneratedRegex(@"listen \S*80 default_server;")]
    private static partial Regex ListenLine();

    [GeneratedRegex(@"SyntaxError|TypeError|NetworkError|Failed to fetch|Exception|Unexpected token|is not valid JSON|undefined|\bat \S+:\d+")]
    private static partial Regex ExceptionText();

    private async Task<List<JsonElement>> FindingsAsync(Guid sessionId, Guid runId)
    {
        using var api = Portal.CreateClient();
        var session = await api.GetFromJsonAsync<JsonElement>($"/api/v1/sessions/{sessionId}");
        return [.. session.GetProperty("findings").EnumerateArray().Where(f => f.GetProperty("runId").GetGuid() == runId)];
    }

    /// <summary>No summary, finding or page text an engineer or the customer reads carries an exception's words.</summary>
    private async Task NoExceptionTextAsync(Guid sessionId, string customerPage)
    {
        using var api = Portal.CreateClient();
        var session = await api.GetFromJsonAsync<JsonElement>($"/api/v1/sessions/{sessionId}");
        var read = new List<string> { customerPage };
        foreach (var r in session.GetProperty("results").EnumerateArray())
        {
            if (r.GetProperty("detail").TryGetProperty("summary", out var summary))
            {
                read.Add($"{r.GetProperty("step")}: {summary.GetString()}");
            }
        }

        foreach (var f in session.GetProperty("findings").EnumerateArray())
        {
            read.Add($"{f.GetProperty("code")}: {f.GetProperty("summary").GetString()} {f.GetProperty("recommendation").GetString()}");
        }

        read.Where(t => ExceptionText().IsMatch(t)).ShouldBeEmpty();
    }
}
