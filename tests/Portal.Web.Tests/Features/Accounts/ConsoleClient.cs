using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Portal.Testing;

namespace Portal.Web.Tests.Features.Accounts;

/// <summary>
/// A console user without a browser: a cookie jar and the log-in, invitation and log-out forms posted as a browser
/// posts them (antiforgery token included). Redirects are not followed, so a test sees where the portal sends it.
/// </summary>
internal sealed partial class ConsoleClient : IDisposable
{
    private readonly HttpClientHandler _handler;

    private ConsoleClient(PortalProcess portal, Uri? address = null)
    {
        Portal = portal;
        _handler = new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false, UseCookies = true };
        if (address?.Scheme == Uri.UriSchemeHttps)
        {
            // The test's own self-signed certificate.
            _handler.ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator;
        }

        Http = new HttpClient(_handler) { BaseAddress = address ?? portal.BaseAddress };
    }

    public PortalProcess Portal { get; }

    public HttpClient Http { get; }

    /// <summary>The console's authentication cookie, as a thief would copy it.</summary>
    public string? AuthCookie => _handler.CookieContainer.GetCookies(Portal.BaseAddress)["portal.auth"]?.Value;

    public static ConsoleClient Anonymous(PortalProcess portal) => new(portal);

    /// <summary>An anonymous client of the portal on another of its addresses (an https one, say).</summary>
    public static ConsoleClient At(PortalProcess portal, Uri address) => new(portal, address);

    /// <summary>A client that only holds a copied authentication cookie.</summary>
    public static ConsoleClient WithCookie(PortalProcess portal, string cookie)
    {
        var client = new ConsoleClient(portal);
        client._handler.CookieContainer.Add(portal.BaseAddress, new Cookie("portal.auth", cookie));
        return client;
    }

    /// <summary>Logs in through the form; the page's answer (a redirect when it worked).</summary>
    public async Task<HttpResponseMessage> LogInAsync(string email, string password) =>
        await PostFormAsync("/account/login", "login", new() { ["Input.Email"] = email, ["Input.Password"] = password });

    /// <summary>Posts a form of a page as the browser does: the page's antiforgery token and the form's handler name.</summary>
    public async Task<HttpResponseMessage> PostFormAsync(string page, string formName, Dictionary<string, string> fields, string? action = null)
    {
        var html = await Http.GetStringAsync(page);
        var form = new Dictionary<string, string>(fields)
        {
            ["__RequestVerificationToken"] = WebUtility.HtmlDecode(TokenInput().Match(html).Groups[1].Value),
            ["_handler"] = formName,
        };
        foreach (Match hidden in HiddenInput().Matches(html))
        {
            form.TryAdd(WebUtility.HtmlDecode(hidden.Groups[1].Value), WebUtility.HtmlDecode(hidden.Groups[2].Value));
        }

        using var content = new FormUrlEncodedContent(form);
        return await Http.PostAsync(action ?? page, content);
    }

    /// <summary>An account invited by the admin API with this role, its password set through the invitation page.</summary>
    public static async Task<(string Id, string Email, string Password)> InviteAsync(PortalProcess portal, string role, string password = "amber-kettle-drift-77")
    {
        using var api = portal.CreateClient();
        var email = $"{role.ToLowerInvariant()}-{Guid.NewGuid():N}@portal.test";
        using var invited = await api.PostAsJsonAsync("/api/v1/admin/users", new { email, role });
        invited.StatusCode.ShouldBe(HttpStatusCode.Created, await invited.Content.ReadAsStringAsync());
        var user = await invited.Content.ReadFromJsonAsync<JsonElement>();
        var path = user.GetProperty("invitePath").GetString()!;
        using var client = Anonymous(portal);
        using var set = await client.PostFormAsync(path, "invite", new() { ["Input.Password"] = password }, "/account/invite");
        ((int)set.StatusCode).ShouldBeInRange(200, 399);
        return (user.GetProperty("id").GetString()!, email, password);
    }

    /// <summary>A new account with this role, logged in through the form: the client holding its cookie, and the account.</summary>
    public static async Task<(ConsoleClient Browser, string Id, string Email, string Password)> LoggedInAsync(PortalProcess portal, string role)
    {
        var (id, email, password) = await InviteAsync(portal, role);
        var browser = Anonymous(portal);
        (await browser.LogInAsync(email, password)).StatusCode.ShouldBe(HttpStatusCode.Redirect);
        return (browser, id, email, password);
    }

    public void Dispose()
    {
        Http.Dispose();
        _handler.Dispose();
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex TokenInput();

    [GeneratedRegex("<input type=\"hidden\" name=\"(Input\\.[A-Za-z]+)\" value=\"([^\"]*)\"")]
    private static partial Regex HiddenInput();
}
