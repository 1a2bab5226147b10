using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Portal.Web.Tests.Features.Admin;

public class AdminApiTests(PortalFixture fixture) : IClassFixture<PortalFixture>
{
    private readonly PortalFixture _fixture = fixture;

    private HttpClient Client(string? key)
    {
        var client = _fixture.Portal.CreateClient(withApiKey: false);
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return client;
    }

    private async Task<string> InviteAsync(string email, string role)
    {
        using var admin = _fixture.Portal.CreateClient();
        using var response = await admin.PostAsJsonAsync("/api/v1/admin/users", new { email, role });
        response.StatusCode.ShouldBe(HttpStatusCode.Created);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    private async Task<(Guid Id, string Key)> CreateKeyAsync(string name, string? userId = null)
    {
        using var admin = _fixture.Portal.CreateClient();
        using var response = await admin.PostAsJsonAsync("/api/v1/admin/api-keys", new { name, userId });
        response.StatusCode.ShouldBe(HttpStatusCode.Created);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (json.GetProperty("id").GetGuid(), json.GetProperty("key").GetString()!);
    }

    [Fact]
    public async Task ApiKey_CreateUseRevoke_WorksThen401()
    {
        var (id, key) = await CreateKeyAsync("helpdesk");
        using var client = Client(key);

        using var before = await client.GetAsync("/api/v1/sessions");
        using var admin = _fixture.Portal.CreateClient();
        using var revoke = await admin.DeleteAsync($"/api/v1/admin/api-keys/{id}");
        using var after = await client.GetAsync("/api/v1/sessions");

        before.StatusCode.ShouldBe(HttpStatusCode.OK);
        revoke.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        after.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        // Only the hash is kept: the key itself appears nowhere in the database.
        (await _fixture.CountAsync("SELECT count(*) FROM api_keys WHERE id = $1 AND key_hash = sha256(convert_to($2, 'UTF8'))", id, key)).ShouldBe(1);
        (await _fixture.CountAsync("SELECT count(*) FROM api_keys WHERE prefix = $1", key)).ShouldBe(0);
        var listed = await admin.GetStringAsync("/api/v1/admin/api-keys");
        listed.ShouldNotContain(key);
    }

    [Fact]
    public async Task AdminApi_EngineerKey_Forbidden()
    {
        var engineer = await InviteAsync($"engineer-{Guid.NewGuid():N}@portal.test", "Engineer");
        var (_, key) = await CreateKeyAsync("engineer key", engineer);
        using var client = Client(key);

        using var sessions = await client.GetAsync("/api/v1/sessions");
        using var users = await client.GetAsync("/api/v1/admin/users");
        using var invite = await client.PostAsJsonAsync("/api/v1/admin/users", new { email = "sneaky@portal.test", role = "Admin" });
        using var promote = await client.PutAsJsonAsync($"/api/v1/admin/users/{engineer}/role", new { role = "Admin" });
        using var keys = await client.PostAsJsonAsync("/api/v1/admin/api-keys", new { name = "more" });

        sessions.StatusCode.ShouldBe(HttpStatusCode.OK);
        users.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        invite.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        promote.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        keys.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await _fixture.CountAsync("SELECT count(*) FROM asp_net_users WHERE email = 'sneaky@portal.test'")).ShouldBe(0);
    }

    [Fact]
    public async Task Users_DisabledAccount_ItsKeysStopWorkingUntilEnabled()
    {
        var engineer = await InviteAsync($"leaver-{Guid.NewGuid():N}@portal.test", "Engineer");
        var (_, key) = await CreateKeyAsync("leaver key", engineer);
        using var client = Client(key);
        using var admin = _fixture.Portal.CreateClient();

        (await admin.PostAsync($"/api/v1/admin/users/{engineer}/disable", null)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        using var disabled = await client.GetAsync("/api/v1/sessions");
        (await admin.PostAsync($"/api/v1/admin/users/{engineer}/enable", null)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        using var enabled = await client.GetAsync("/api/v1/sessions");

        disabled.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        enabled.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData("not-an-email", "Engineer")]
    [InlineData("someone@portal.test", "Overlord")]
    public async Task Invite_BadInput_400AndNoAccount(string email, string role)
    {
        using var admin = _fixture.Portal.CreateClient();

        using var response = await admin.PostAsJsonAsync("/api/v1/admin/users", new { email, role });

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await _fixture.CountAsync("SELECT count(*) FROM asp_net_users WHERE email = $1", email)).ShouldBe(0);
    }

    [Fact]
    public async Task CustomerToken_EveryApiEndpoint_401()
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        using var anonymous = _fixture.Portal.CreateClient(withApiKey: false);
        var document = await anonymous.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        using var customer = Client(token);
        var refused = new List<string>();
        var allowed = new List<string>();

        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            var url = path.Name.Replace("{id}", session.ToString(), StringComparison.Ordinal)
                .Replace("{linkId}", Guid.NewGuid().ToString(), StringComparison.Ordinal);
            url = System.Text.RegularExpressions.Regex.Replace(url, "\\{[^}]+\\}", Guid.NewGuid().ToString());
            foreach (var operation in path.Value.EnumerateObject())
            {
                using var request = new HttpRequestMessage(new HttpMethod(operation.Name.ToUpperInvariant()), url);
                if (operation.Name is "post" or "put")
                {
                    request.Content = JsonContent.Create(new { });
                }

                using var response = await customer.SendAsync(request);
                (response.StatusCode == HttpStatusCode.Unauthorized ? refused : allowed).Add($"{operation.Name} {path.Name} {(int)response.StatusCode}");
            }
        }

        allowed.ShouldBeEmpty();
        refused.Count.ShouldBeGreaterThan(20);
        (await _fixture.CountAsync("SELECT count(*) FROM notes WHERE session_id = $1", session)).ShouldBe(0);
    }

    [Fact]
    public async Task OpenApi_Document_DescribesEveryV1Endpoint()
    {
        using var anonymous = _fixture.Portal.CreateClient(withApiKey: false);

        var document = await anonymous.GetFromJsonAsync<JsonElement>("/openapi/v1.json");

        var operations = document.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Where(o => o.Name is "get" or "post" or "put" or "delete" or "patch").Select(o => $"{o.Name.ToUpperInvariant()} {p.Name}"))
            .Order(StringComparer.Ordinal).ToList();
        string[] expected =
        [
            "POST /api/v1/sessions", "GET /api/v1/sessions", "GET /api/v1/sessions/{id}", "GET /api/v1/sessions/{id}/report",
            "POST /api/v1/sessions/{id}/probes", "GET /api/v1/sessions/{id}/share-links", "POST /api/v1/sessions/{id}/share-links",
            "DELETE /api/v1/sessions/{id}/share-links/{linkId}", "GET /api/v1/sessions/{id}/notes", "POST /api/v1/sessions/{id}/notes",
            "POST /api/v1/sessions/{id}/close", "POST /api/v1/sessions/{id}/reopen", "POST /api/v1/sessions/{id}/revoke-link", "POST /api/v1/sessions/{id}/run-again",
            "GET /api/v1/admin/users", "POST /api/v1/admin/users", "POST /api/v1/admin/users/{id}/disable", "POST /api/v1/admin/users/{id}/enable",
            "PUT /api/v1/admin/users/{id}/role", "GET /api/v1/admin/api-keys", "POST /api/v1/admin/api-keys", "DELETE /api/v1/admin/api-keys/{id}",
            "GET /api/v1/admin/settings", "PUT /api/v1/admin/settings", "POST /api/v1/admin/retention/sweep",
            "GET /api/v1/admin/webhooks", "POST /api/v1/admin/webhooks", "DELETE /api/v1/admin/webhooks/{id}", "GET /api/v1/admin/webhooks/deliveries",
            "GET /api/v1/admin/deployment", "POST /api/v1/admin/deployment/check",
        ];

        // Exactly the v1 API: every call described, nothing else (no console, customer or diagnostics path).
        operations.ShouldBe(expected.Order(StringComparer.Ordinal).ToList());
        document.GetProperty("components").GetProperty("securitySchemes").GetProperty("apiKey").GetProperty("scheme").GetString().ShouldBe("bearer");
    }

    [Fact]
    public async Task Retention_Sweep_DeletesOnlySessionsOlderThanThePeriod()
    {
        var (old, _, _) = await _fixture.CreateSessionAsync(new { customerName = "Old customer" });
        var (recent, _, _) = await _fixture.CreateSessionAsync(new { customerName = "Recent customer" });
        await _fixture.CountAsync("WITH u AS (UPDATE sessions SET created_at = now() - interval '40 days' WHERE id = $1 RETURNING 1) SELECT count(*) FROM u", old);
        using var admin = _fixture.Portal.CreateClient();

        using var set = await admin.PutAsJsonAsync("/api/v1/admin/settings", new { retentionDays = 30 });
        using var sweep = await admin.PostAsync("/api/v1/admin/retention/sweep", null);
        using var reset = await admin.PutAsJsonAsync("/api/v1/admin/settings", new { keepForever = true });

        set.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await sweep.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("deleted").GetInt32().ShouldBeGreaterThanOrEqualTo(1);
        (await _fixture.CountAsync("SELECT count(*) FROM sessions WHERE id = $1", old)).ShouldBe(0);
        (await _fixture.CountAsync("SELECT count(*) FROM sessions WHERE id = $1", recent)).ShouldBe(1);
        (await reset.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("retentionDays").ValueKind.ShouldBe(JsonValueKind.Null);
    }

    [Theory]
    [InlineData("{\"retentionDays\":0}")]
    [InlineData("{\"allowList\":[\"10.0.0.0/8\",\"not a host!\"]}")]
    public async Task Settings_Invalid_400AndNothingChanged(string body)
    {
        using var admin = _fixture.Portal.CreateClient();

        using var response = await admin.PutAsync("/api/v1/admin/settings", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await _fixture.CountAsync("SELECT count(*) FROM settings WHERE key = 'probes.allowList' AND value ? '10.0.0.0/8'")).ShouldBe(0);
    }

    [Fact]
    public async Task AllowList_AddedInConsole_ProbesMayReachIt()
    {
        var (session, _, _) = await _fixture.CreateSessionAsync();
        using var admin = _fixture.Portal.CreateClient();
        using var refusedBefore = await admin.PostAsJsonAsync($"/api/v1/sessions/{session}/probes", new { targets = new[] { "http://10.9.8.7/" } });

        using var set = await admin.PutAsJsonAsync("/api/v1/admin/settings", new { allowList = new[] { "10.9.8.0/24" } });
        using var acceptedAfter = await admin.PostAsJsonAsync($"/api/v1/sessions/{session}/probes", new { targets = new[] { "http://10.9.8.7/" } });
        using var stillRefused = await admin.PostAsJsonAsync($"/api/v1/sessions/{session}/probes", new { targets = new[] { "http://10.9.9.7/" } });
        await admin.PutAsJsonAsync("/api/v1/admin/settings", new { allowList = Array.Empty<string>() });

        refusedBefore.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        set.StatusCode.ShouldBe(HttpStatusCode.OK);
        acceptedAfter.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        stillRefused.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
    }
}
