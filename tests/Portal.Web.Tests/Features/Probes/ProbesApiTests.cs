using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Portal.Testing;

namespace Portal.Web.Tests.Features.Probes;

/// <summary>
/// <c>POST /api/v1/sessions/{id}/probes</c> on a real portal whose allow-list opens 127.0.0.1 only: the portal probes
/// its own echo endpoint, refuses what the guard forbids, limits each engineer, and probes a session's targets
/// when its customer run starts.
/// </summary>
public sealed class ProbesApiTests(ProbesPortalFixture probes) : IClassFixture<ProbesPortalFixture>
{
    // One portal for the class; the engineer's rate limit, which these tests would spend, has a class of its own.
    private readonly PortalFixture _fixture = probes.Inner;
    private readonly PortalProcess _portal = probes.Inner.Portal;

    [Fact]
    public async Task Post_AllowListedEchoTarget_StoresProbeResultsOnACompletedRun()
    {
        var session = await CreateSessionAsync(new { customerName = "Probe me", idleSeconds = 5 });
        using var api = _portal.CreateClient();
        // The echo serves holders of a live link's key: the probe carries one, as a customer's page does.
        var (_, key) = await _portal.CreateDiagKeyAsync();
        var echo = $"ws://127.0.0.1:{_portal.BaseAddress.Port}/diag/ws/echo?dk={key}";

        using var response = await api.PostAsJsonAsync($"/api/v1/sessions/{session}/probes", new { targets = new[] { echo } });

        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var runId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("runId").GetGuid();
        await Eventually.TrueAsync(async () => await ScalarAsync("SELECT count(*) FROM runs WHERE id = $1 AND status = 'completed'", runId) == 1, "the probe run completes", TimeSpan.FromSeconds(30));
        var steps = await StepsAsync(runId);
        steps.Keys.ShouldBe(["probe.dns", "probe.tcp", "probe.ws", "probe.ws.idle"], ignoreOrder: true);
        (await ScalarAsync("SELECT count(*) FROM results WHERE run_id = $1 AND NOT known_step", runId)).ShouldBe(0);
        steps["probe.ws"].Status.ShouldBe("pass", steps["probe.ws"].Detail);
        steps["probe.ws"].Metrics.GetProperty("status").GetInt32().ShouldBe(101);
        steps["probe.ws"].Metrics.GetProperty("echoMs").ValueKind.ShouldBe(JsonValueKind.Number);
        steps["probe.ws.idle"].Metrics.GetProperty("survived").GetInt32().ShouldBe(1);
        (await ScalarAsync("SELECT count(*) FROM results WHERE run_id = $1 AND source <> 'server'", runId)).ShouldBe(0);

        // A run may probe several targets: the report names each result's target under its step.
        var html = await api.GetStringAsync($"/api/v1/sessions/{session}/report?format=html");
        html.ShouldContain($"<td>probe.ws<div class=\"muted metrics\">{echo}</div></td>");
    }

    [Theory]
    [InlineData("http://127.0.0.2/", "loopback")]
    [InlineData("http://169.254.169.254/latest/meta-data/", "metadata")]
    [InlineData("https://10.0.0.1/", "private")]
    [InlineData("http://localhost:8080/", "loopback")]
    [InlineData("http://0x7f.0.0.1/", "hex")]
    [InlineData("http://[::ffff:192.168.0.1]/", "private")]
    [InlineData("ftp://example.com/", "scheme")]
    public async Task Post_ForbiddenTarget_Is400NamingTargetAndReason(string target, string reason)
    {
        var session = await CreateSessionAsync(new { customerName = "Guarded" });
        using var api = _portal.CreateClient();

        using var response = await api.PostAsJsonAsync($"/api/v1/sessions/{session}/probes", new { targets = new[] { target } });

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var detail = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()!;
        detail.ShouldContain(target.TrimEnd('/'));
        detail.ShouldContain(reason, Case.Insensitive);
        (await ScalarAsync("SELECT count(*) FROM runs WHERE session_id = $1", session)).ShouldBe(0);
    }

    [Theory]
    [InlineData("ws://example.com/x HTTP/1.1\r\nX-Injected: yes\r\n\r\nPOST /smuggled", "a space")]
    [InlineData("ws://example.com/x\r\nX-Injected: yes", "control character (U+000D)")]
    [InlineData("https://exämple.com/", "non-ASCII")]
    public async Task PostSession_TargetWithControlCharactersOrSpaces_Is400NamingItAndNothingStored(string target, string reason)
    {
        using var api = _portal.CreateClient();
        var before = await ScalarAsync("SELECT count(*) FROM sessions");

        using var response = await api.PostAsJsonAsync("/api/v1/sessions", new { customerName = "Smuggler", targets = new[] { target } });

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var detail = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()!;
        detail.ShouldContain(reason);
        detail.ShouldContain(target[..11]);
        detail.ShouldNotContain("\r");
        detail.ShouldNotContain("\n");
        (await ScalarAsync("SELECT count(*) FROM sessions")).ShouldBe(before);
    }

    [Fact]
    public async Task PostSession_ForbiddenTarget_Is400AndNothingStored()
    {
        using var api = _portal.CreateClient();
        var before = await ScalarAsync("SELECT count(*) FROM sessions");

        using var response = await api.PostAsJsonAsync("/api/v1/sessions", new { customerName = "Sneaky", targets = new[] { "wss://example.com/ok", "http://169.254.169.254/" } });

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync()).ShouldContain("169.254.169.254");
        (await ScalarAsync("SELECT count(*) FROM sessions")).ShouldBe(before);
    }

    [Fact]
    public async Task Post_MalformedJson_Is400AndNothingQueued()
    {
        var session = await CreateSessionAsync(new { customerName = "Typo" });
        using var api = _portal.CreateClient();

        using var response = await api.PostAsync($"/api/v1/sessions/{session}/probes", new StringContent("{\"targets\": [", System.Text.Encoding.UTF8, "application/json"));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        (await ScalarAsync("SELECT count(*) FROM runs WHERE session_id = $1", session)).ShouldBe(0);
    }

    [Fact]
    public async Task Post_WithoutApiKey_Is401()
    {
        var session = await CreateSessionAsync(new { customerName = "Anonymous" });
        using var anonymous = _portal.CreateClient(withApiKey: false);

        using var response = await anonymous.PostAsJsonAsync($"/api/v1/sessions/{session}/probes", new { targets = new[] { "https://example.com/" } });

        response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task CustomerRunStart_ProbesSessionTargetsOntoThatRun()
    {
        var (_, key) = await _portal.CreateDiagKeyAsync();
        var target = $"http://127.0.0.1:{_portal.BaseAddress.Port}/diag/ping?dk={key}";
        using var api = _portal.CreateClient();
        using var created = await api.PostAsJsonAsync("/api/v1/sessions", new { customerName = "Auto", targets = new[] { target } });
        created.StatusCode.ShouldBe(HttpStatusCode.Created);
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        var token = new Uri(body.GetProperty("customerUrl").GetString()!).Segments[^1];
        var runId = Guid.NewGuid();
        using var customer = _portal.CreateClient(withApiKey: false);

        using var observed = await customer.PostAsJsonAsync($"/api/runs/{token}/observe", new { runId, id = Guid.NewGuid() });

        observed.StatusCode.ShouldBe(HttpStatusCode.OK);
        await Eventually.TrueAsync(async () => await ScalarAsync("SELECT count(*) FROM results WHERE run_id = $1 AND step = 'probe.http'", runId) == 1, "the session's target is probed onto the customer's run", TimeSpan.FromSeconds(30));
        var steps = await StepsAsync(runId);
        steps["probe.http"].Metrics.GetProperty("status").GetInt32().ShouldBe(204);
        steps.Keys.ShouldContain("server.connection");
    }

    private async Task<Guid> CreateSessionAsync(object body) => (await _fixture.CreateSessionAsync(body)).Id;

    private Task<long> ScalarAsync(string sql, params object[] parameters) => _fixture.CountAsync(sql, parameters);

    private async Task<Dictionary<string, (string Status, JsonElement Metrics, string Detail)>> StepsAsync(Guid runId)
    {
        await using var command = _fixture.Database.CreateCommand("SELECT step, status, metrics::text, detail::text FROM results WHERE run_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = runId });
        var steps = new Dictionary<string, (string, JsonElement, string)>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            steps[reader.GetString(0)] = (reader.GetString(1), JsonDocument.Parse(reader.GetString(2)).RootElement, reader.GetString(3));
        }

        return steps;
    }
}

/// <summary>The portal <see cref="ProbesApiTests"/> share: 127.0.0.1 allowed, the engineer's probe limit out of the way.</summary>
public sealed class ProbesPortalFixture : IAsyncLifetime
{
    public PortalFixture Inner { get; } = new("probes", new Dictionary<string, string>
    {
        ["Portal__Probes__AllowList__0"] = "127.0.0.1/32",
        ["Portal__Probes__RequestsPerMinutePerEngineer"] = "1000",
    });

    public Task InitializeAsync() => Inner.InitializeAsync();

    public Task DisposeAsync() => Inner.DisposeAsync();
}

/// <summary>Each engineer may ask for a few probes a minute; beyond them, 429 with Retry-After.</summary>
public sealed class ProbeRateLimitTests : IAsyncLifetime
{
    private readonly PortalFixture _fixture = new("probe-limit", new Dictionary<string, string>
    {
        ["Portal__Probes__AllowList__0"] = "127.0.0.1/32",
        ["Portal__Probes__RequestsPerMinutePerEngineer"] = "4",
    });

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task Post_TooOften_Is429WithRetryAfter()
    {
        var session = await CreateSessionAsync(new { customerName = "Busy" });
        using var api = _fixture.Portal.CreateClient();
        var target = $"http://127.0.0.1:{_fixture.Portal.BaseAddress.Port}/diag/ping";
        var statuses = new List<HttpStatusCode>();

        for (var i = 0; i < 6; i++)
        {
            using var response = await api.PostAsJsonAsync($"/api/v1/sessions/{session}/probes", new { targets = new[] { target } });
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                response.Headers.RetryAfter.ShouldNotBeNull();
                (await response.Content.ReadAsStringAsync()).ShouldContain("Too many probe requests");
            }
        }

        statuses.ShouldContain(HttpStatusCode.TooManyRequests);
        statuses.Count(s => s == HttpStatusCode.Accepted).ShouldBeLessThanOrEqualTo(4);
    }

    private async Task<Guid> CreateSessionAsync(object body) => (await _fixture.CreateSessionAsync(body)).Id;
}
