using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Portal.Testing;

namespace Portal.Web.Tests.Features.Ingest;

/// <summary>
/// What the portal reads from the request that carried a customer's run when it sits behind a trusted proxy
/// (the test client on 127.0.0.1 plays the proxy).
/// </summary>
public sealed class ConnectionObserverTests : IAsyncLifetime
{
    private PortalProcess _portal = default!;

    public async Task InitializeAsync() =>
        _portal = await PortalProcess.StartAsync("observer", new Dictionary<string, string> { ["Portal__TrustedProxies__0"] = "127.0.0.1" });

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Theory]
    // A customer on the proxy's own network (the lab, an office behind the portal's own load balancer): every
    // forwarded address is trusted. This once threw, and the page's outbox stalled behind the refused message.
    [InlineData("127.0.0.1", "127.0.0.1")]
    [InlineData("198.51.100.1, 203.0.113.7, 127.0.0.1", "203.0.113.7")]
    public async Task Observe_BehindTrustedProxy_ClientIsTheLastAddressItDidNotAdd(string forwardedFor, string client)
    {
        var connection = await ObserveAsync(("X-Forwarded-For", forwardedFor));

        connection.GetProperty("detail").GetProperty("clientAddress").GetString().ShouldBe(client);
        connection.GetProperty("metrics").GetProperty("foreignProxyHeaders").GetInt32().ShouldBe(0);
    }

    [Fact]
    public async Task Observe_ProxyHeadersTheTrustedProxyDoesNotAdd_Foreign()
    {
        var connection = await ObserveAsync(("X-Forwarded-For", "203.0.113.7"), ("Via", "1.1 squid"));

        connection.GetProperty("detail").GetProperty("foreignProxyHeaders").EnumerateArray().Select(h => h.GetString()).ShouldBe(["Via"]);
    }

    private async Task<JsonElement> ObserveAsync(params (string Name, string Value)[] headers)
    {
        using var api = _portal.CreateClient();
        var (session, token, _) = await _portal.CreateSessionAsync(new { customerName = "Behind a proxy" });
        using var customer = _portal.CreateClient(withApiKey: false);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/runs/{token}/observe") { Content = JsonContent.Create(new { runId = Guid.NewGuid(), id = Guid.NewGuid() }) };
        foreach (var (name, value) in headers)
        {
            request.Headers.Add(name, value);
        }

        using var observed = await customer.SendAsync(request);
        observed.StatusCode.ShouldBe(HttpStatusCode.OK);
        var detail = await api.GetFromJsonAsync<JsonElement>($"/api/v1/sessions/{session}");
        return detail.GetProperty("results").EnumerateArray().Single(r => r.GetProperty("step").GetString() == "server.connection");
    }
}
