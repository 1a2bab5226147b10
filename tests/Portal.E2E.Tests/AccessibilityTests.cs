using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;

namespace Portal.E2E.Tests;

/// <summary>
/// Every page is usable by everyone: axe-core (WCAG 2.2 A and AA, and best practice) finds no serious or critical
/// violation on the customer page — before, during and after a run — or on the console's pages, and each page has
/// its main landmark. The customer's whole test runs by keyboard alone.
/// </summary>
public sealed class AccessibilityTests() : BrowserTest("a11y")
{
    /// <summary>The rules every page is held to: WCAG 2.2 A and AA, and best practice.</summary>
    internal static readonly AxeRunOptions Rules = new()
    {
        RunOnly = new RunOnlyOptions { Type = "tag", Values = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] },
    };

    [Fact]
    public async Task CustomerPage_ByKeyboardAlone_NoSeriousViolationBeforeOrAfterTheRun()
    {
        var (_, link) = await CreateSessionAsync("Keyboard only", idleSeconds: 5);
        var page = await (await Browser.NewContextAsync()).NewPageAsync();
        await page.GotoAsync(link + "?steps=env,http.ping,ws.echo,ws.idle");
        await ExpectCleanAsync(page, "customer page, ready");

        // Tab to the button and press Enter: no mouse.
        await page.Locator("#run:not([disabled])").WaitForAsync();
        await page.Keyboard.PressAsync("Tab");
        (await page.EvaluateAsync<string>("document.activeElement?.id")).ShouldBe("run");
        await page.Keyboard.PressAsync("Enter");

        // The idle step counts down, and says why it waits.
        await page.Locator("#countdown:not([hidden])").WaitForAsync(new() { Timeout = 15_000 });
        (await page.Locator("#countdown").TextContentAsync())!.ShouldContain("quiet connection");
        await ExpectCleanAsync(page, "customer page, running");

        await page.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 30_000 });
        // Each finished step was announced through the polite live region.
        (await page.Locator("#announce").GetAttributeAsync("aria-live")).ShouldBe("polite");
        (await page.Locator("#announce").TextContentAsync())!.ShouldNotBeNullOrWhiteSpace();
        await ExpectCleanAsync(page, "customer page, done");
    }

    [Fact]
    public async Task ConsolePages_NoSeriousViolation_AndAMainLandmarkEach()
    {
        var (session, link) = await CreateSessionAsync("Accessible");
        // A run with results and findings, so the session page shows run cards, badges and charts.
        var customer = await (await Browser.NewContextAsync()).NewPageAsync();
        await customer.GotoAsync(link + "?steps=env,http.ping,ws.echo,ws.close");
        await customer.Locator("#run:not([disabled])").ClickAsync();
        await customer.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 30_000 });
        var login = await (await Browser.NewContextAsync()).NewPageAsync();
        await login.GotoAsync(new Uri(Portal.BaseAddress, "/account/login").ToString());
        await ExpectCleanAsync(login, "log-in page");

        var page = await LogInAsync();
        foreach (var path in (string[])["/sessions", $"/sessions/{session}", "/admin", $"/sessions/{session}/report?format=html"])
        {
            await page.GotoAsync(new Uri(Portal.BaseAddress, path).ToString());
            if (!path.Contains("report", StringComparison.Ordinal))
            {
                await WaitInteractiveAsync(page);
            }

            await ExpectCleanAsync(page, path);
        }
    }

    private static async Task ExpectCleanAsync(IPage page, string what)
    {
        var result = await page.RunAxe(Rules);
        var serious = result.Violations.Where(v => v.Impact is "serious" or "critical").ToList();
        var all = string.Join("\n", result.Violations.Select(v => $"{v.Impact} {v.Id}: {v.Help} — {string.Join(" | ", v.Nodes.Take(3).Select(n => n.Html))}"));
        serious.ShouldBeEmpty($"{what}:\n{all}");
        result.Violations.Where(v => v.Id is "landmark-one-main" or "region").ShouldBeEmpty($"{what}:\n{all}");
    }
}
