using System.Net;
using Portal.Testing;

namespace Portal.Web.Tests.Features.Accounts;

/// <summary>
/// Two instances on "two machines" — the same database, different home folders, so nothing of the key ring is shared
/// through the file system — accept each other's cookies and log-in forms: the key ring lives in PostgreSQL.
/// </summary>
public sealed class KeyRingTests : IAsyncLifetime
{
    private PortalProcess _first = null!;
    private PortalProcess _second = null!;

    public async Task InitializeAsync()
    {
        var database = await PostgresServer.CreateEmptyDatabaseAsync("keyring");
        _first = await PortalProcess.StartAsync("keyring-a", new Dictionary<string, string> { ["HOME"] = TempFolder.Create("portal-home-a") }, database);
        _second = await PortalProcess.StartAsync("keyring-b", new Dictionary<string, string> { ["HOME"] = TempFolder.Create("portal-home-b") }, database);
    }

    public async Task DisposeAsync()
    {
        await _second.DisposeAsync();
        await _first.DisposeAsync();
    }

    [Fact]
    public async Task CookieFromOneInstance_AcceptedByTheOther()
    {
        var (_, email, password) = await ConsoleClient.InviteAsync(_first, "Engineer");
        using var browser = ConsoleClient.Anonymous(_first);
        (await browser.LogInAsync(email, password)).StatusCode.ShouldBe(HttpStatusCode.Redirect);

        using var elsewhere = ConsoleClient.WithCookie(_second, browser.AuthCookie!);

        (await elsewhere.Http.GetAsync("/sessions")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task LogInFormServedByOneInstance_PostedToTheOther_LogsIn()
    {
        var (_, email, password) = await ConsoleClient.InviteAsync(_second, "Engineer");
        using var browser = ConsoleClient.Anonymous(_first);

        using var posted = await browser.PostFormAsync("/account/login", "login", new() { ["Input.Email"] = email, ["Input.Password"] = password },
            new Uri(_second.BaseAddress, "/account/login").ToString());

        posted.StatusCode.ShouldBe(HttpStatusCode.Redirect, await posted.Content.ReadAsStringAsync());
        posted.Headers.Location!.ToString().ShouldContain("/sessions");
    }
}
