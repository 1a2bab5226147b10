using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Portal.Testing;

namespace Portal.E2E.Tests;

/// <summary>
/// An open console — a live Blazor circuit, no new HTTP request — loses its data within the revalidation interval
/// when its account is disabled or demoted: the page goes to the log-in page instead of showing sessions or admin.
/// </summary>
public sealed class OpenConsoleRevocationTests() : BrowserTest("open-console", new() { ["Portal__ConsoleRevalidation"] = "00:00:05" })
{
    [Theory]
    [InlineData("disable")]
    [InlineData("demote")]
    public async Task OpenConsole_AccountDisabledOrDemoted_LeavesTheProtectedPageWithinTheInterval(string change)
    {
        var (id, email, password) = await InviteAsync("Admin");
        var page = await LogInAsync(email: email, password: password);
        await page.GotoAsync(new Uri(Portal.BaseAddress, "/admin").ToString());
        await WaitInteractiveAsync(page);
        (await page.TitleAsync()).ShouldStartWith("Admin");

        using var api = Portal.CreateClient();
        using var changed = change == "disable"
            ? await api.PostAsync($"/api/v1/admin/users/{id}/disable", null)
            : await api.PutAsJsonAsync($"/api/v1/admin/users/{id}/role", new { role = "Engineer" });
        changed.EnsureSuccessStatusCode();

        // The circuit is re-checked every 5 s here (20 s by default); the page must leave /admin without a reload by the test.
        await page.WaitForURLAsync("**/account/**", new() { Timeout = 20_000 });
    }

    private async Task<(string Id, string Email, string Password)> InviteAsync(string role)
    {
        using var api = Portal.CreateClient();
        var email = $"{role.ToLowerInvariant()}-{Guid.NewGuid():N}@portal.test";
        const string password = "amber-kettle-drift-77";
        using var invited = await api.PostAsJsonAsync("/api/v1/admin/users", new { email, role });
        invited.EnsureSuccessStatusCode();
        var user = await invited.Content.ReadFromJsonAsync<JsonElement>();
        var page = await (await Browser.NewContextAsync()).NewPageAsync();
        await page.GotoAsync(new Uri(Portal.BaseAddress, user.GetProperty("invitePath").GetString()!).ToString());
        await page.Locator("#password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Set password" }).ClickAsync();
        await page.WaitForURLAsync(url => !url.Contains("/account/invite", StringComparison.Ordinal));
        await page.Context.CloseAsync();
        return (user.GetProperty("id").GetString()!, email, password);
    }
}
