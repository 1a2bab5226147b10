using System.Globalization;
using Microsoft.Playwright;
using Portal.E2E.Tests.Lab;
using Portal.Testing;

namespace Portal.E2E.Tests;

/// <summary>
/// Two portal instances on one PostgreSQL behind HAProxy (the configuration of <c>docker/haproxy.cfg</c>, on
/// loopback): the customer reports to one instance, the engineer watches on the other, and the result reaches the
/// engineer live through PostgreSQL LISTEN/NOTIFY.
/// </summary>
public sealed class ScaleOutTests() : BrowserTest("scale-a")
{
    [Fact]
    public async Task TwoInstances_CustomerOnOneEngineerOnOther_ResultLive()
    {
        await using var second = await PortalProcess.StartAsync("scale-b", connectionString: Portal.ConnectionString);
        var port = PortalProcess.FreePort();
        await using var haproxy = await StartHAProxyAsync(port, second);
        var front = new Uri($"http://127.0.0.1:{port}");

        var engineer = await LogInAsync(front);
        var engineerInstance = (await engineer.Context.CookiesAsync([front.ToString()])).Single(c => c.Name == "PORTAL_INSTANCE").Value;
        var (session, link) = await CreateSessionAsync("Two instances");
        await engineer.GotoAsync(new Uri(front, $"/sessions/{session}").ToString());
        await WaitInteractiveAsync(engineer);

        // The customer's browser is routed to the other instance by the same sticky cookie.
        var customerInstance = engineerInstance == "p1" ? "p2" : "p1";
        var context = await Browser.NewContextAsync();
        await context.AddCookiesAsync([new Cookie { Name = "PORTAL_INSTANCE", Value = customerInstance, Url = front.ToString() }]);
        var customer = await context.NewPageAsync();
        await customer.GotoAsync(new Uri(front, new Uri(link).PathAndQuery).ToString() + "?steps=ws.echo");
        await customer.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
        await customer.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 20_000 });

        var status = engineer.Locator(".results-grid tr", new() { HasTextString = "ws.echo" }).Locator(".result-status");
        await status.WaitForAsync(new() { Timeout = 5_000 });
        (await status.InnerTextAsync()).ShouldBe("PASS", StringCompareShould.IgnoreCase);
        engineerInstance.ShouldNotBe(customerInstance);
        // The customer's hub connection really was on the other instance: that instance's metrics counted it.
        var customerPortal = customerInstance == "p1" ? Portal : second;
        var engineerPortal = customerInstance == "p1" ? second : Portal;
        Stored(await MetricsAsync(customerPortal)).ShouldBeGreaterThan(0);
        Stored(await MetricsAsync(engineerPortal)).ShouldBe(0);

        // Run again from the engineer's instance reaches the page connected to the other one.
        await engineer.GetByRole(AriaRole.Button, new() { Name = "Run again" }).ClickAsync();
        await customer.Locator("body[data-runs='2'][data-state=done]").WaitForAsync(new() { Timeout = 20_000 });
        await engineer.Locator(".run-card").Nth(1).WaitForAsync(new() { Timeout = 5_000 });

        // And through the API of the instance the page is not on.
        using var api = engineerPortal.CreateClient();
        using var accepted = await api.PostAsync($"/api/v1/sessions/{session}/run-again", null);
        accepted.StatusCode.ShouldBe(System.Net.HttpStatusCode.Accepted);
        await customer.Locator("body[data-runs='3'][data-state=done]").WaitForAsync(new() { Timeout = 20_000 });
    }

    [Fact]
    public async Task InstanceKilledMidRun_PageMovesToTheOtherNothingLostNothingTwice()
    {
        var second = await PortalProcess.StartAsync("scale-c", connectionString: Portal.ConnectionString);
        try
        {
            var port = PortalProcess.FreePort();
            await using var haproxy = await StartHAProxyAsync(port, second);
            var front = new Uri($"http://127.0.0.1:{port}");
            var (session, link) = await CreateSessionAsync("Instance dies", idleSeconds: 8);
            var context = await Browser.NewContextAsync();
            // The customer is on the second instance ("p2"), which dies during the idle step.
            await context.AddCookiesAsync([new Cookie { Name = "PORTAL_INSTANCE", Value = "p2", Url = front.ToString() }]);
            var customer = await context.NewPageAsync();
            await customer.GotoAsync(new Uri(front, new Uri(link).PathAndQuery).ToString() + "?steps=http.ping,ws.echo,ws.idle,sse");
            await customer.GetByRole(AriaRole.Button, new() { Name = "Run test" }).ClickAsync();
            await customer.Locator("li[data-step='ws.echo']").WaitForAsync(new() { Timeout = 20_000 });

            await second.KillAsync();
            await customer.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 60_000 });

            // Everything the page made is stored exactly once, and the run completed, all through the surviving instance.
            await ExpectRunStoredOnceAsync(session, customer, steps: 4, TimeSpan.FromSeconds(30));
            var steps = await QueryAsync("SELECT step FROM results WHERE session_id = $1 AND source = 'client' ORDER BY step", r => r.GetString(0), session);
            steps.ShouldBe(["http.ping", "sse", "ws.echo", "ws.idle"]);
        }
        finally
        {
            await second.DisposeAsync();
        }
    }

    private async Task<LabProcess> StartHAProxyAsync(int port, PortalProcess second)
    {
        var config = (await File.ReadAllTextAsync(Path.Combine(LabResults.RepositoryRoot, "docker", "haproxy.cfg")))
            .Replace("bind :8080", $"bind 127.0.0.1:{port}", StringComparison.Ordinal)
            .Replace("portal1:8080", $"127.0.0.1:{Portal.BaseAddress.Port}", StringComparison.Ordinal)
            .Replace("portal2:8080", $"127.0.0.1:{second.BaseAddress.Port}", StringComparison.Ordinal)
            .Replace("check cookie", "check inter 1s cookie", StringComparison.Ordinal)
            // Production's 20,000 connections need a higher open-file limit than a test process has.
            .Replace("maxconn 20000", "maxconn 2000", StringComparison.Ordinal);
        var haproxy = await LabProcess.StartAsync("haproxy", config, ["-f", "{config}", "-db"], port);
        // Both instances healthy in HAProxy's eyes before the browsers arrive.
        await Task.Delay(TimeSpan.FromSeconds(2));
        return haproxy;
    }

    private static async Task<string> MetricsAsync(PortalProcess portal)
    {
        using var api = portal.CreateClient();
        return await api.GetStringAsync("/metrics");
    }

    private static double Stored(string metrics) => metrics.Split('\n')
        .Where(l => l.StartsWith("portal_results_stored_total{", StringComparison.Ordinal))
        .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
}
