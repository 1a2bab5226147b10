using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Portal.Web.Tests.Features.Operations;

/// <summary>
/// What PostgreSQL cannot store — NUL, a lone surrogate, a number beyond a double, JSON nested too deep, bytes that
/// are not UTF-8 — gets a 400 naming the field on every endpoint that takes input, never a 500, and nothing already
/// stored is touched.
/// </summary>
public class MalformedInputTests(PortalFixture fixture) : IClassFixture<PortalFixture>
{
    private readonly PortalFixture _fixture = fixture;

    [Theory]
    [InlineData("""{"customerName":"Ann\u0000Smith"}""", "customerName", "NUL")]
    [InlineData("""{"customerName":"Ann \ud800 Smith"}""", "customerName", "lone surrogate")]
    [InlineData("""{"ticketRef":"T-\u0000"}""", "ticketRef", "NUL")]
    [InlineData("""{"customerName":"Ann","targets":["wss://example.com/\u0000"]}""", "targets[0]", "NUL")]
    public async Task CreateSession_UnstorableText_Is400NamingFieldAndNothingStored(string body, string field, string reason)
    {
        using var api = _fixture.Portal.CreateClient();
        var before = await _fixture.CountAsync("SELECT count(*) FROM sessions");

        using var response = await api.PostAsync("/api/v1/sessions", Json(body));

        await ShouldBeProblemAsync(response, field, reason);
        (await _fixture.CountAsync("SELECT count(*) FROM sessions")).ShouldBe(before);
    }

    [Theory]
    [InlineData("""{"body":"a note \u0000 with NUL"}""", "NUL")]
    [InlineData("""{"body":"\udc00"}""", "lone surrogate")]
    public async Task AddNote_UnstorableText_Is400AndNoNote(string body, string reason)
    {
        var (session, _, _) = await _fixture.CreateSessionAsync();
        using var api = _fixture.Portal.CreateClient();

        using var response = await api.PostAsync($"/api/v1/sessions/{session}/notes", Json(body));

        await ShouldBeProblemAsync(response, "body", reason);
        (await _fixture.CountAsync("SELECT count(*) FROM notes WHERE session_id = $1", session)).ShouldBe(0);
    }

    [Theory]
    [InlineData("""{"rtt":1e400000}""", "{}", "metrics.rtt", "out of range")]
    [InlineData("""{"rtt":-1e309}""", "{}", "metrics.rtt", "out of range")]
    [InlineData("{}", """{"summary":"x\ud800y"}""", "detail.summary", "lone surrogate")]
    [InlineData("{}", """{"k\u0000":1}""", "detail.k", "NUL")]
    [InlineData("{}", """{"a":[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}""", "detail.a", "nested more than")]
    public async Task PostResult_UnstorableJson_Is400NamingPathAndRunUntouched(string metrics, string detail, string path, string reason)
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        var run = Guid.NewGuid();
        await _fixture.PostResultAsync(token, run, "ws.echo", "pass", new { rttMedianMs = 2 });
        using var client = _fixture.Portal.CreateClient(withApiKey: false);
        var body = $$"""{"id":"{{Guid.NewGuid()}}","runId":"{{run}}","step":"http.ping","status":"pass","metrics":{{metrics}},"detail":{{detail}}}""";

        using var response = await client.PostAsync($"/api/runs/{token}/results", Json(body));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync());
        var text = await response.Content.ReadAsStringAsync();
        text.ShouldContain(path);
        text.ShouldContain(reason);
        (await _fixture.CountAsync("SELECT count(*) FROM results WHERE session_id = $1 AND step = 'ws.echo'", session)).ShouldBe(1);
        (await _fixture.CountAsync("SELECT count(*) FROM results WHERE session_id = $1 AND step = 'http.ping'", session)).ShouldBe(0);
    }

    [Fact]
    public async Task Complete_VerdictWithNul_Is400AndRunStillRunning()
    {
        var (_, token, _) = await _fixture.CreateSessionAsync();
        var run = Guid.NewGuid();
        await _fixture.PostResultAsync(token, run, "ws.echo", "pass");
        using var client = _fixture.Portal.CreateClient(withApiKey: false);

        using var response = await client.PostAsync($"/api/runs/{token}/complete", Json($$"""{"runId":"{{run}}","verdict":"done\u0000"}"""));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync()).ShouldContain("NUL");
        (await _fixture.CountAsync("SELECT count(*) FROM runs WHERE id = $1 AND status = 'running'", run)).ShouldBe(1);
    }

    [Fact]
    public async Task CreateSession_InvalidUtf8_Is400()
    {
        using var api = _fixture.Portal.CreateClient();
        using var content = new ByteArrayContent([.. "{\"customerName\":\""u8, 0xC3, 0x28, .. "\"}"u8]);
        content.Headers.ContentType = new("application/json");

        using var response = await api.PostAsync("/api/v1/sessions", content);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task ShouldBeProblemAsync(HttpResponseMessage response, string field, string reason)
    {
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, text);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var problem = JsonSerializer.Deserialize<JsonElement>(text);
        problem.GetProperty("errors").TryGetProperty(field, out var messages).ShouldBeTrue(text);
        messages[0].GetString()!.ShouldContain(reason);
    }
}
