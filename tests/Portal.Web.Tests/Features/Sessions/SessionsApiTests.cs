using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Portal.Web.Tests.Features.Sessions;

public class SessionsApiTests(PortalFixture fixture) : IClassFixture<PortalFixture>
{
    private readonly PortalFixture _fixture = fixture;

    [Fact]
    public async Task Post_ValidRequest_CreatesSessionReadableByGet()
    {
        using var client = _fixture.Portal.CreateClient();

        using var created = await client.PostAsJsonAsync("/api/v1/sessions", new
        {
            customerName = "Acme Corp",
            ticketRef = "T-42",
            targets = new[] { "wss://example.com/socket" },
            idleSeconds = 30,
        });

        created.StatusCode.ShouldBe(HttpStatusCode.Created);
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        var id = body.GetProperty("id").GetGuid();
        created.Headers.Location!.ToString().ShouldBe($"/api/v1/sessions/{id}");
        var url = new Uri(body.GetProperty("customerUrl").GetString()!);
        url.GetLeftPart(UriPartial.Authority).ShouldBe(_fixture.Portal.BaseAddress.GetLeftPart(UriPartial.Authority));
        url.AbsolutePath.ShouldMatch("^/t/[A-Za-z0-9_-]{43}$");
        var expires = body.GetProperty("expiresAt").GetDateTimeOffset();
        (expires - DateTimeOffset.UtcNow).TotalDays.ShouldBeInRange(6.99, 7.01);

        var read = await client.GetFromJsonAsync<JsonElement>($"/api/v1/sessions/{id}");
        read.GetProperty("customerName").GetString().ShouldBe("Acme Corp");
        read.GetProperty("ticketRef").GetString().ShouldBe("T-42");
        read.GetProperty("idleSeconds").GetInt32().ShouldBe(30);
        read.GetProperty("targets")[0].GetString().ShouldBe("wss://example.com/socket");
        read.GetProperty("status").GetString().ShouldBe("open");
        read.GetProperty("runs").GetArrayLength().ShouldBe(0);
        read.GetProperty("results").GetArrayLength().ShouldBe(0);
        read.GetProperty("findings").GetArrayLength().ShouldBe(0);
    }

    [Fact]
    public async Task Post_ValidRequest_StoresOnlyTheTokensHash()
    {
        var (id, token, _) = await _fixture.CreateSessionAsync();

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(token));

        (await _fixture.CountAsync("SELECT count(*) FROM sessions WHERE id = $1 AND token_hash = $2", id, hash)).ShouldBe(1);
        (await _fixture.CountAsync("SELECT count(*) FROM sessions WHERE position($1 in row(sessions.*)::text) > 0", token)).ShouldBe(0);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("ptl_wrong-key-0123456789abcdefghijklmnopqrstuvw")]
    [InlineData("not-even-a-key")]
    public async Task Post_WithoutValidKey_401AndNothingStored(string? key)
    {
        using var client = _fixture.Portal.CreateClient(withApiKey: false);
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        var before = await _fixture.CountAsync("SELECT count(*) FROM sessions");

        using var response = await client.PostAsJsonAsync("/api/v1/sessions", new { customerName = "Nobody" });

        response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        response.Headers.WwwAuthenticate.ToString().ShouldContain("Bearer");
        (await _fixture.CountAsync("SELECT count(*) FROM sessions")).ShouldBe(before);
    }

    [Fact]
    public async Task Get_WithoutKey_401()
    {
        var (id, _, _) = await _fixture.CreateSessionAsync();
        using var client = _fixture.Portal.CreateClient(withApiKey: false);

        using var response = await client.GetAsync($"/api/v1/sessions/{id}");

        response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Theory]
    [InlineData("{\"customerName\": ")]
    [InlineData("not json at all")]
    [InlineData("{\"idleSeconds\": \"seventy\"}")]
    public async Task Post_MalformedJson_400ProblemDetailsAndNothingStored(string json)
    {
        using var client = _fixture.Portal.CreateClient();
        var before = await _fixture.CountAsync("SELECT count(*) FROM sessions");

        using var response = await client.PostAsync("/api/v1/sessions", new StringContent(json, Encoding.UTF8, "application/json"));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("detail").GetString()!.ShouldStartWith("The body is not valid JSON");
        (await _fixture.CountAsync("SELECT count(*) FROM sessions")).ShouldBe(before);
    }

    [Theory]
    [InlineData("customerName")]
    [InlineData("ticketRef")]
    [InlineData("idleSeconds")]
    [InlineData("targets")]
    public async Task Post_FieldOutOfBounds_400NamingTheFieldAndNothingStored(string field)
    {
        using var client = _fixture.Portal.CreateClient();
        object body = field switch
        {
            "customerName" => new { customerName = new string('x', 201) },
            "ticketRef" => new { ticketRef = new string('x', 101) },
            "idleSeconds" => new { idleSeconds = 1 },
            _ => new { targets = new[] { "ftp://example.com/" } },
        };
        var before = await _fixture.CountAsync("SELECT count(*) FROM sessions");

        using var response = await client.PostAsJsonAsync("/api/v1/sessions", body);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("errors").TryGetProperty(field, out _).ShouldBeTrue();
        (await _fixture.CountAsync("SELECT count(*) FROM sessions")).ShouldBe(before);
    }

    [Fact]
    public async Task Get_UnknownId_404()
    {
        using var client = _fixture.Portal.CreateClient();

        using var response = await client.GetAsync($"/api/v1/sessions/{Guid.NewGuid()}");

        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }
}
