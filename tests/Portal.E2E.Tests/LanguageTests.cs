using System.Net.Http.Json;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;

namespace Portal.E2E.Tests;

/// <summary>
/// A customer whose browser asks for Arabic gets the page in Arabic, right to left, every step's line and the verdict
/// in Arabic; what the portal stores stays English for the engineer, whose console says which language the customer saw.
/// </summary>
public sealed class LanguageTests() : BrowserTest("languages")
{
    [Fact]
    public async Task ArabicBrowser_PageInArabicRightToLeft_EngineerReadsEnglishAndTheLanguage()
    {
        var (session, link) = await CreateSessionAsync("Layla", idleSeconds: 5);
        var page = await (await Browser.NewContextAsync(new() { Locale = "ar-EG" })).NewPageAsync();

        await page.GotoAsync(link + "?steps=env,http.ping,ws.echo,ws.idle");
        (await page.GetAttributeAsync("html", "dir")).ShouldBe("rtl");
        (await page.GetAttributeAsync("html", "lang")).ShouldBe("ar");
        await page.GetByRole(AriaRole.Button, new() { Name = "ابدأ الاختبار" }).ClickAsync();
        await page.Locator("body[data-state=done]").WaitForAsync(new() { Timeout = 30_000 });

        var lines = await page.Locator("#steps li").AllTextContentsAsync();
        lines.Count.ShouldBe(4);
        lines.ShouldContain(l => l.StartsWith("اتصال مباشر: يعمل", StringComparison.Ordinal), string.Join("\n", lines));
        lines.ShouldAllBe(l => !l.Contains("works", StringComparison.OrdinalIgnoreCase));
        (await page.Locator("#verdict").TextContentAsync())!.ShouldStartWith("نجحت كل الاختبارات");
        (await page.Locator("#run").TextContentAsync()).ShouldBe("أعد الاختبار");
        var axe = await page.RunAxe(AccessibilityTests.Rules);
        axe.Violations.Where(v => v.Impact is "serious" or "critical").ShouldBeEmpty();

        // The engineer's side: English summaries, and the language the customer saw.
        var stored = await QueryAsync("SELECT detail->>'summary' FROM results WHERE session_id = $1 AND step = 'http.ping'", r => r.GetString(0), session);
        stored.Single().ShouldStartWith("HTTP works");
        var console = await LogInAsync();
        await console.GotoAsync(new Uri(Portal.BaseAddress, $"/sessions/{session}").ToString());
        await console.Locator(".page-language").First.WaitForAsync();
        (await console.Locator(".page-language").First.TextContentAsync())!.ShouldContain("العربية (ar)");
        // Each finding has its sentence for the customer in English and in the language the customer read.
        var arabic = console.Locator(".finding-customer[lang=ar]").First;
        await arabic.WaitForAsync();
        (await arabic.TextContentAsync())!.ShouldContain("اجتاز اتصالك كل الاختبارات");
        (await console.Locator(".finding-customer").First.TextContentAsync())!.ShouldContain("Your connection passed every test");

        // The API carries the same sentences for an integration (a helpdesk pasting it into the ticket).
        using var api = Portal.CreateClient();
        var finding = (await api.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/v1/sessions/{session}")).GetProperty("findings")[0];
        finding.GetProperty("code").GetString().ShouldBe("all-clear");
        finding.GetProperty("forCustomer").GetProperty("en").GetString()!.ShouldStartWith("Your connection passed every test");
        finding.GetProperty("forCustomer").GetProperty("ar").GetString()!.ShouldStartWith("اجتاز اتصالك كل الاختبارات");
    }

    [Fact]
    public async Task CustomersSwitch_ChangesTheLanguage_ByKeyboardAlone()
    {
        var (_, link) = await CreateSessionAsync("Switcher");
        var page = await (await Browser.NewContextAsync(new() { Locale = "en-US" })).NewPageAsync();
        await page.GotoAsync(link);

        await page.Locator("#lang").FocusAsync();
        await page.Locator("#lang").SelectOptionAsync("de");
        await page.Keyboard.PressAsync("Tab");
        await page.Keyboard.PressAsync("Enter");

        await page.WaitForURLAsync("**?lang=de");
        (await page.GetAttributeAsync("html", "lang")).ShouldBe("de");
        (await page.Locator("#run").TextContentAsync()).ShouldBe("Test starten");
    }
}
