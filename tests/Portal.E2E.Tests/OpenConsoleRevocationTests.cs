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
}

/// <summary>
/// An admin change made from an admin page that is still open after its account was demoted is refused by the
/// database's word, not the circuit's claims: revalidation is 10 minutes here, so only that check can stop it.
/// </summary>
public sealed class OpenAdminPageTests() : BrowserTest("open-admin", new() { ["Portal__ConsoleRevalidation"] = "00:10:00" })
{
    [Fact]
    public async Task OpenAdminPage_AdminDemoted_TheNextChangeIsRefusedAndThePageLeaves()
    {
        var (id, email, password) = await InviteAsync("Admin");
        var page = await LogInAsync(email: email, password: password);
        await page.GotoAsync(new Uri(Portal.BaseAddress, "/admin").ToString());
        await WaitInteractiveAsync(page);
        var name = $"after-demotion-{Guid.NewGuid():N}";
        using var api = Portal.CreateClient();
        using var demoted = await api.PutAsJsonAsync($"/api/v1/admin/users/{id}/role", new { role = "Engineer" });
        demoted.EnsureSuccessStatusCode();

        await page.GetByRole(AriaRole.Tab, new() { Name = "API keys" }).ClickAsync();
        await page.GetByRole(AriaRole.Textbox, new() { Name = "Key name" }).FillAsync(name);
        await page.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();

        await page.WaitForURLAsync("**/account/**", new() { Timeout = 10_000 });
        var keys = await QueryAsync("SELECT count(*) FROM api_keys WHERE name = $1", r => r.GetInt64(0), name);
        keys.ShouldBe([0L]);
    }
}
