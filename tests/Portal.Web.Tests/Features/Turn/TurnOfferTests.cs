using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Portal.Web.Tests.Features.Turn;

/// <summary>
/// What a customer's page learns about TURN (<c>GET /diag/turn</c>): only with its link's key; the vendor's configured
/// servers with that link's own credentials — the TURN REST API's expiring user name and its HMAC under the shared
/// secret, which never leaves the portal — or, with nothing to offer, the reason.
/// </summary>
public sealed class TurnOfferTests : IAsyncLifetime
{
    private const string Secret = "a-shared-secret-of-the-vendors-coturn";

    private readonly PortalFixture _configured = new("turn-configured", new Dictionary<string, string>
    {
        ["Portal__Turn__Urls__0"] = "turn:turn.example.com:3478?transport=udp",
        ["Portal__Turn__Urls__1"] = "turn:turn.example.com:3478?transport=tcp",
        ["Portal__Turn__Urls__2"] = "turns:turn.example.com:443?transport=tcp",
        ["Portal__Turn__Secret"] = Secret,
    });

    public Task InitializeAsync() => _configured.InitializeAsync();

    public Task DisposeAsync() => _configured.DisposeAsync();

    [Fact]
    public async Task ConfiguredServers_TheLinksOwnExpiringCredentials_SecretNeverSent()
    {
        var (session, key) = await _configured.Portal.CreateDiagKeyAsync();
        using var client = _configured.Portal.CreateClient(withApiKey: false);

        using var response = await client.GetAsync($"/diag/turn?dk={Uri.EscapeDataString(key)}");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var text = await response.Content.ReadAsStringAsync();
        text.ShouldNotContain(Secret);
        response.Headers.CacheControl!.NoStore.ShouldBeTrue();
        var servers = JsonDocument.Parse(text).RootElement.GetProperty("servers").EnumerateArray().ToList();
        servers.Select(s => s.GetProperty("transport").GetString()).ShouldBe(["udp", "tcp", "tls"]);
        foreach (var server in servers)
        {
            var username = server.GetProperty("username").GetString()!;
            var parts = username.Split(':');
            parts[1].ShouldBe(session.ToString("N"));
            var expires = DateTimeOffset.FromUnixTimeSeconds(long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture));
            (expires - DateTimeOffset.UtcNow).ShouldBeInRange(TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(11));
            server.GetProperty("credential").GetString().ShouldBe(Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(Secret), Encoding.UTF8.GetBytes(username))));
        }
    }

    [Fact]
    public async Task WithoutTheLinksKey_401()
    {
        using var client = _configured.Portal.CreateClient(withApiKey: false);

        using var response = await client.GetAsync("/diag/turn");

        response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await response.Content.ReadAsStringAsync()).ShouldNotContain("credential");
    }

    [Fact]
    public async Task NothingConfiguredAndTheOwnServerOff_NoServersAndWhy()
    {
        // The shared test portals run without their own TURN server (Portal__Turn__Embedded=false).
        var plain = new PortalFixture("turn-none", null);
        await plain.InitializeAsync();
        JsonElement offer;
        try
        {
            var (_, key) = await plain.Portal.CreateDiagKeyAsync();
            using var client = plain.Portal.CreateClient(withApiKey: false);
            offer = await client.GetFromJsonAsync<JsonElement>($"/diag/turn?dk={Uri.EscapeDataString(key)}");
        }
        finally
        {
            await plain.DisposeAsync();
        }

        offer.GetProperty("servers").GetArrayLength().ShouldBe(0);
        offer.GetProperty("reason").GetString()!.ShouldContain("No TURN server is configured");
    }
}
