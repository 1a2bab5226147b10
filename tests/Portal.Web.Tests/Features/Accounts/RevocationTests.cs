using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Portal.Web.Tests.Features.Accounts;

/// <summary>
/// Revoking takes effect on what is already open: a demoted admin, a disabled engineer and a copy of a logged-out
/// cookie are refused at their very next request; failed log-ins pause a password, never an account's API keys.
/// </summary>
public class RevocationTests(PortalFixture fixture) : IClassFixture<PortalFixture>
{
    private readonly PortalFixture _fixture = fixture;

    [Fact]
    public async Task DemotedAdmin_SameCookie_AdminRefusedAtNextRequest()
    {
        var (browser, id, email, password) = await ConsoleClient.LoggedInAsync(_fixture.Portal, "Admin");
        using var _ = browser;
        (await browser.Http.GetAsync("/admin")).StatusCode.ShouldBe(HttpStatusCode.OK);

        using var api = _fixture.Portal.CreateClient();
        (await api.PutAsJsonAsync($"/api/v1/admin/users/{id}/role", new { role = "Engineer" })).EnsureSuccessStatusCode();

        using var after = await browser.Http.GetAsync("/admin");
        after.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        after.Headers.Location!.ToString().ShouldContain("/account/");
    }

    [Fact]
    public async Task DisabledEngineer_SameCookie_RefusedAtNextRequestAndCannotLogInAgain()
    {
        var (browser, id, email, password) = await ConsoleClient.LoggedInAsync(_fixture.Portal, "Engineer");
        using var _ = browser;
        (await browser.Http.GetAsync("/sessions")).StatusCode.ShouldBe(HttpStatusCode.OK);

        using var api = _fixture.Portal.CreateClient();
        (await api.PostAsync($"/api/v1/admin/users/{id}/disable", null)).EnsureSuccessStatusCode();

        using var after = await browser.Http.GetAsync("/sessions");
        after.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        after.Headers.Location!.ToString().ShouldContain("/account/login");
        using var again = ConsoleClient.Anonymous(_fixture.Portal);
        (await again.LogInAsync(email, password)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task LoggedOut_CopiedCookieReplayed_Refused()
    {
        var (browser, _, email, password) = await ConsoleClient.LoggedInAsync(_fixture.Portal, "Engineer");
        using var _ = browser;
        var copy = browser.AuthCookie!;
        using (var thief = ConsoleClient.WithCookie(_fixture.Portal, copy))
        {
            (await thief.Http.GetAsync("/sessions")).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        using var logout = await browser.PostFormAsync("/sessions", "logout", [], "/account/logout");
        logout.StatusCode.ShouldBe(HttpStatusCode.Redirect);

        using var replay = ConsoleClient.WithCookie(_fixture.Portal, copy);
        using var after = await replay.Http.GetAsync("/sessions");
        after.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        after.Headers.Location!.ToString().ShouldContain("/account/login");
    }

    [Fact]
    public async Task Logout_CrossSiteWithoutToken_RefusedAndStillLoggedIn()
    {
        var (browser, _, email, password) = await ConsoleClient.LoggedInAsync(_fixture.Portal, "Engineer");
        using var _ = browser;

        using var forged = await browser.Http.PostAsync("/account/logout", new FormUrlEncodedContent([]));

        forged.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await browser.Http.GetAsync("/sessions")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task WrongPasswordsLockAccount_ItsApiKeysStillWork_AndTheMessageSaysNothingOfWhoExists()
    {
        var (id, email, password) = await ConsoleClient.InviteAsync(_fixture.Portal, "Engineer");
        var key = await KeyForAsync(id);
        using var guesser = ConsoleClient.Anonymous(_fixture.Portal);
        string? lockedMessage = null;
        for (var i = 0; i < 11; i++)
        {
            using var failed = await guesser.LogInAsync(email, "wrong-guess-number-" + i);
            lockedMessage = await failed.Content.ReadAsStringAsync();
        }

        // Locked now: even the right password is refused for a while.
        using var right = await guesser.LogInAsync(email, password);
        right.StatusCode.ShouldBe(HttpStatusCode.OK);
        using var unknown = await guesser.LogInAsync($"nobody-{Guid.NewGuid():N}@portal.test", password);
        Message(await unknown.Content.ReadAsStringAsync()).ShouldBe(Message(lockedMessage!));
        Message(await right.Content.ReadAsStringAsync()).ShouldBe(Message(lockedMessage!));

        using var integration = new HttpClient { BaseAddress = _fixture.Portal.BaseAddress };
        integration.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        (await integration.GetAsync("/api/v1/sessions")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task DisabledAccount_ItsApiKeysRefused()
    {
        var (id, _, _) = await ConsoleClient.InviteAsync(_fixture.Portal, "Engineer");
        var key = await KeyForAsync(id);
        using var integration = new HttpClient { BaseAddress = _fixture.Portal.BaseAddress };
        integration.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        (await integration.GetAsync("/api/v1/sessions")).StatusCode.ShouldBe(HttpStatusCode.OK);

        using var admin = _fixture.Portal.CreateClient();
        (await admin.PostAsync($"/api/v1/admin/users/{id}/disable", null)).EnsureSuccessStatusCode();

        (await integration.GetAsync("/api/v1/sessions")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    private async Task<string> KeyForAsync(string userId)
    {
        using var admin = _fixture.Portal.CreateClient();
        using var created = await admin.PostAsJsonAsync("/api/v1/admin/api-keys", new { name = "helpdesk", userId });
        return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
    }

    private static string Message(string html)
    {
        var message = System.Text.RegularExpressions.Regex.Match(html, "<p class=\"form-error\" role=\"alert\">([^<]*)</p>").Groups[1].Value;
        message.ShouldNotBeNullOrEmpty();
        return message;
    }
}
