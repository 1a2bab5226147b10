using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Portal.Testing;

namespace Portal.Web.Tests.Features.Admin;

/// <summary>The admin's view of the portal's own deployment, learned from customers' connections, and its start-up log.</summary>
public sealed class DeploymentViewTests : IAsyncLifetime
{
    private PortalProcess _portal = default!;

    public async Task InitializeAsync() => _portal = await PortalProcess.StartAsync("deployment-view");

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Fact]
    public async Task Deployment_PageCameThroughAProxyRewritingHost_ProblemWithItsFixAndThePathAndLoggedAtTheNextStart()
    {
        var (_, token, _) = await _portal.CreateSessionAsync(new { customerName = "Through a proxy" });
        using var api = _portal.CreateClient();
        using (var fresh = await api.GetAsync("/api/v1/admin/deployment"))
        {
            (await fresh.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("issues").GetArrayLength().ShouldBe(0);
        }

        // The page says it was loaded from port 1; the portal listens elsewhere and got its own Host: a proxy rewrote it.
        using (var hub = await RawHubClient.ConnectAsync(new Uri($"ws://{_portal.BaseAddress.Authority}/hubs/run?access_token={token}"), "http://127.0.0.1:1"))
        {
            await hub.InvokeAsync("Observe", Guid.NewGuid(), Guid.NewGuid(), "http://127.0.0.1:1");
        }

        using var response = await api.GetAsync("/api/v1/admin/deployment");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var view = await response.Content.ReadFromJsonAsync<JsonElement>();
        var path = view.GetProperty("paths").EnumerateArray().Single();
        path.GetProperty("pageOrigin").GetString().ShouldBe("http://127.0.0.1:1");
        path.GetProperty("host").GetString().ShouldBe(_portal.BaseAddress.Authority);
        path.GetProperty("frontProxy").GetBoolean().ShouldBeTrue();
        path.GetProperty("connections").GetInt64().ShouldBe(1);
        var issues = view.GetProperty("issues").EnumerateArray().ToDictionary(i => i.GetProperty("code").GetString()!);
        issues.Keys.ShouldBe(["client-address-hidden", "host-rewritten"], ignoreOrder: true);
        issues["host-rewritten"].GetProperty("fix").GetString()!.ShouldContain("proxy_set_header Host $http_host");
        issues["host-rewritten"].GetProperty("what").GetString()!.ShouldContain("http://127.0.0.1:1");

        // The next start logs one line per problem, with its fix.
        await using var again = await PortalProcess.StartAsync("deployment-view-again", connectionString: _portal.ConnectionString);
        await Eventually.TrueAsync(
            () => Task.FromResult(again.Output.Any(l => l.Contains("Deployment: host-rewritten on 1 customer connection(s)", StringComparison.Ordinal))),
            "the start-up log to name the rewritten Host");
        again.Output.ShouldContain(l => l.Contains("Deployment: client-address-hidden", StringComparison.Ordinal) && l.Contains("X-Forwarded-For", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Start_DefaultIdleSecondsTheDatabaseRefuses_StopsWithTheSettingNamed()
    {
        var failed = await Should.ThrowAsync<InvalidOperationException>(() =>
            PortalProcess.StartAsync("idle-setting", new Dictionary<string, string> { ["Portal__Links__DefaultIdleSeconds"] = "3" }, _portal.ConnectionString));

        failed.Message.ShouldContain("Portal:Links:DefaultIdleSeconds must be between 5 and 900 seconds.");
    }

    [Fact]
    public async Task Check_PublicOriginNotAnOrigin_400ProblemAndLoggedAtStart()
    {
        await using var portal = await PortalProcess.StartAsync("deployment-bad-origin", new Dictionary<string, string> { ["Portal__PublicOrigin"] = "portal.example.com/app" }, _portal.ConnectionString);
        using var api = portal.CreateClient();

        using var response = await api.PostAsync("/api/v1/admin/deployment/check", null);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        (await response.Content.ReadAsStringAsync()).ShouldContain("Portal__PublicOrigin");
        portal.Output.ShouldContain(l => l.Contains("Deployment: Portal__PublicOrigin 'portal.example.com/app' is not an origin", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Deployment_EngineerKey_Forbidden()
    {
        using var admin = _portal.CreateClient();
        using var invited = await admin.PostAsJsonAsync("/api/v1/admin/users", new { email = "eng@portal.test", role = "Engineer" });
        var userId = (await invited.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        using var created = await admin.PostAsJsonAsync("/api/v1/admin/api-keys", new { name = "engineer", userId });
        var key = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString();
        using var engineer = _portal.CreateClient(withApiKey: false);
        engineer.DefaultRequestHeaders.Authorization = new("Bearer", key);

        using var view = await engineer.GetAsync("/api/v1/admin/deployment");
        using var check = await engineer.PostAsync("/api/v1/admin/deployment/check", null);

        view.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        check.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }
}
