using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Portal.Testing;

namespace Portal.Web.Tests.Features.Diagnostics;

/// <summary>A portal whose test-endpoint budgets are small enough to reach in a test.</summary>
public sealed class DiagLimitsFixture : IAsyncLifetime
{
    /// <summary>Bytes a link may move through the test endpoints a minute here: 10 MiB.</summary>
    public const int BytesPerMinute = 10 * 1024 * 1024;

    /// <summary>Connections a link may hold here.</summary>
    public const int Connections = 3;

    /// <summary>Echo names a link may give here.</summary>
    public const int Names = 3;

    public PortalFixture Inner { get; } = new("diag-limits", new Dictionary<string, string>
    {
        ["Portal__Limits__DiagBytesPerMinutePerLink"] = BytesPerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Portal__Limits__DiagConnectionsPerLink"] = Connections.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Portal__Limits__EchoNamesPerLink"] = Names.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Portal__Limits__EchoUnfinishedMessage"] = "00:00:02",
    });

    public Task InitializeAsync() => Inner.InitializeAsync();

    public Task DisposeAsync() => Inner.DisposeAsync();
}

/// <summary>
/// The test endpoints (<c>/diag/*</c> and the echo socket) serve holders of a live link's key, within the link's
/// budget: anonymous callers get 401, a revoked link's page 401, a page beyond its budget 429 — each as
/// <c>problem+json</c>, the refusal recorded against the link's run.
/// </summary>
public sealed class DiagAccessTests(DiagLimitsFixture limits) : IClassFixture<DiagLimitsFixture>
{
    private readonly PortalFixture _fixture = limits.Inner;

    private PortalProcess Portal => _fixture.Portal;

    private Uri Ws(string pathAndQuery) => new($"ws://{Portal.BaseAddress.Authority}{pathAndQuery}");

    [Theory]
    [InlineData("GET", "/diag/ping")]
    [InlineData("GET", "/diag/time")]
    [InlineData("GET", "/diag/download?bytes=26214400")]
    [InlineData("POST", "/diag/upload")]
    [InlineData("GET", "/diag/sse")]
    [InlineData("GET", "/diag/poll?waitMs=30000")]
    [InlineData("GET", "/diag/cors")]
    [InlineData("GET", "/diag/ws/echo")]
    [InlineData("GET", "/diag/ws/closed/some-name")]
    [InlineData("GET", "/diag/ws/attempt/some-name")]
    [InlineData("GET", "/diag/ping?dk=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task TestEndpoint_WithoutAKey_401ProblemAndNothingServed(string method, string path)
    {
        using var client = Portal.CreateClient(withApiKey: false);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST")
        {
            request.Content = new ByteArrayContent(new byte[1024 * 1024]);
        }

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);

        response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json");
        (await response.Content.ReadAsStringAsync()).ShouldContain("live test link");
    }

    [Fact]
    public async Task EchoUpgrade_WithoutAKey_Refused401_WithTheKey_Echoes()
    {
        var (_, key) = await Portal.CreateDiagKeyAsync();
        using var anonymous = new ClientWebSocket();
        anonymous.Options.CollectHttpResponseDetails = true;

        await Should.ThrowAsync<WebSocketException>(() => anonymous.ConnectAsync(Ws("/diag/ws/echo"), CancellationToken.None));
        anonymous.HttpStatusCode.ShouldBe(HttpStatusCode.Unauthorized);

        using var holder = new ClientWebSocket();
        await holder.ConnectAsync(Ws($"/diag/ws/echo?dk={key}"), CancellationToken.None);
        (await RoundTripAsync(holder, "hello")).ShouldBe("hello");
    }

    [Fact]
    public async Task KeyOfARevokedLink_401_AndTheRefusalIsRecordedOnTheRun()
    {
        var (session, token, url) = await Portal.CreateSessionAsync();
        var key = await Portal.DiagKeyAsync(url);
        var run = await ObserveAsync(token);
        using var customer = Portal.CreateClient(withApiKey: false);
        (await customer.GetAsync($"/diag/ping?dk={key}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        using var api = Portal.CreateClient();
        (await api.PostAsync($"/api/v1/sessions/{session}/revoke-link", null)).EnsureSuccessStatusCode();

        // The link's state is cached for at most a second.
        await Eventually.TrueAsync(async () => (await customer.GetAsync($"/diag/ping?dk={key}")).StatusCode == HttpStatusCode.Unauthorized, "the revoked link's key is refused", TimeSpan.FromSeconds(5));
        await Eventually.TrueAsync(
            async () => await _fixture.CountAsync("SELECT count(*) FROM results WHERE run_id = $1 AND step = 'server.refusal' AND detail->>'reason' = 'link-expired'", run) == 1,
            "the refusal is recorded on the run", TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task OpenEchoSocket_LinkRevoked_TheSocketIsEnded()
    {
        var (session, _, url) = await Portal.CreateSessionAsync();
        var key = await Portal.DiagKeyAsync(url);
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(Ws($"/diag/ws/echo?dk={key}"), CancellationToken.None);
        (await RoundTripAsync(socket, "before")).ShouldBe("before");

        using var api = Portal.CreateClient();
        (await api.PostAsync($"/api/v1/sessions/{session}/revoke-link", null)).EnsureSuccessStatusCode();

        // What the link's page already holds open ends too, not only what it opens next.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await Should.ThrowAsync<Exception>(async () =>
        {
            while (true)
            {
                var received = await socket.ReceiveAsync(new byte[1024], timeout.Token);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    throw new WebSocketException("closed");
                }
            }
        });
        timeout.IsCancellationRequested.ShouldBeFalse("the socket stayed open after the link was revoked");
    }

    [Fact]
    public async Task Downloads_BeyondTheLinksBytesAMinute_429WithRetryAfter_OtherLinksUnaffected()
    {
        var (_, token, url) = await Portal.CreateSessionAsync();
        var key = await Portal.DiagKeyAsync(url);
        var run = await ObserveAsync(token);
        var (_, other) = await Portal.CreateDiagKeyAsync();
        using var client = Portal.CreateClient(withApiKey: false);
        const int Bytes = 4 * 1024 * 1024;

        (await client.GetByteArrayAsync($"/diag/download?bytes={Bytes}&dk={key}")).Length.ShouldBe(Bytes);
        (await client.GetByteArrayAsync($"/diag/download?bytes={Bytes}&dk={key}")).Length.ShouldBe(Bytes);
        using var third = await client.GetAsync($"/diag/download?bytes={Bytes}&dk={key}");

        third.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        third.Headers.RetryAfter.ShouldNotBeNull();
        third.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json");
        (await third.Content.ReadAsStringAsync()).ShouldContain("Portal__Limits__DiagBytesPerMinutePerLink");
        (await client.GetByteArrayAsync($"/diag/download?bytes={Bytes}&dk={other}")).Length.ShouldBe(Bytes);
        await Eventually.TrueAsync(
            async () => await _fixture.CountAsync("SELECT count(*) FROM results WHERE run_id = $1 AND step = 'server.refusal' AND detail->>'reason' = 'test-budget'", run) == 1,
            "the refusal is recorded on the run", TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task ChunkedUploads_TakeFromTheSameBudget()
    {
        var (_, key) = await Portal.CreateDiagKeyAsync();
        using var client = Portal.CreateClient(withApiKey: false);
        var statuses = new List<HttpStatusCode>();

        for (var i = 0; i < 4; i++)
        {
            // No Content-Length: the endpoint counts what it reads.
            using var content = new StreamContent(new MemoryStream(new byte[4 * 1024 * 1024]));
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/diag/upload?dk={key}") { Content = content };
            request.Headers.TransferEncodingChunked = true;
            using var response = await client.SendAsync(request);
            statuses.Add(response.StatusCode);
        }

        statuses.ShouldBe([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests]);
    }

    [Fact]
    public async Task EchoSockets_BeyondTheLinksConnections_429_AndOneClosedFreesItsPlace()
    {
        var (_, key) = await Portal.CreateDiagKeyAsync();
        var open = new List<ClientWebSocket>();
        try
        {
            for (var i = 0; i < DiagLimitsFixture.Connections; i++)
            {
                var socket = new ClientWebSocket();
                open.Add(socket);
                await socket.ConnectAsync(Ws($"/diag/ws/echo?dk={key}"), CancellationToken.None);
            }

            using var refused = new ClientWebSocket();
            refused.Options.CollectHttpResponseDetails = true;
            await Should.ThrowAsync<WebSocketException>(() => refused.ConnectAsync(Ws($"/diag/ws/echo?dk={key}"), CancellationToken.None));
            refused.HttpStatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
            using (var client = Portal.CreateClient(withApiKey: false))
            {
                // A long poll holds a connection too.
                (await client.GetAsync($"/diag/poll?waitMs=0&dk={key}")).StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
            }

            await open[0].CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
            await Eventually.TrueAsync(async () =>
            {
                using var again = new ClientWebSocket();
                try
                {
                    await again.ConnectAsync(Ws($"/diag/ws/echo?dk={key}"), CancellationToken.None);
                    return true;
                }
                catch (WebSocketException)
                {
                    return false;
                }
            }, "a closed socket frees its place", TimeSpan.FromSeconds(5));
        }
        finally
        {
            open.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task EchoNames_BelongToTheirLink_OnePerConnection_AndALinkCannotFillTheRegistry()
    {
        var (_, key) = await Portal.CreateDiagKeyAsync();
        var (_, other) = await Portal.CreateDiagKeyAsync();
        using var client = Portal.CreateClient(withApiKey: false);

        using (var socket = new ClientWebSocket())
        {
            await socket.ConnectAsync(Ws($"/diag/ws/echo?dk={key}"), CancellationToken.None);
            await RoundTripAsync(socket, "!hello first");
            await RoundTripAsync(socket, "!hello second");
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        }

        await Eventually.TrueAsync(async () => (await client.GetAsync($"/diag/ws/closed/first?dk={key}")).StatusCode == HttpStatusCode.OK, "the first name is recorded", TimeSpan.FromSeconds(5));
        (await client.GetAsync($"/diag/ws/closed/second?dk={key}")).StatusCode.ShouldBe(HttpStatusCode.NotFound, "one name per connection");
        (await client.GetAsync($"/diag/ws/closed/first?dk={other}")).StatusCode.ShouldBe(HttpStatusCode.NotFound, "another link cannot read it");

        for (var i = 0; i < DiagLimitsFixture.Names + 2; i++)
        {
            using var socket = new ClientWebSocket();
            await socket.ConnectAsync(Ws($"/diag/ws/echo?dk={key}"), CancellationToken.None);
            await RoundTripAsync(socket, $"!hello more-{i}");
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        }

        var recorded = 0;
        for (var i = 0; i < DiagLimitsFixture.Names + 2; i++)
        {
            recorded += (await client.GetAsync($"/diag/ws/closed/more-{i}?dk={key}")).StatusCode == HttpStatusCode.OK ? 1 : 0;
        }

        recorded.ShouldBe(DiagLimitsFixture.Names - 1, "the link's share of the registry holds 'first' and two more");

        // Another link still has its whole share.
        using var theirs = new ClientWebSocket();
        await theirs.ConnectAsync(Ws($"/diag/ws/echo?dk={other}"), CancellationToken.None);
        await RoundTripAsync(theirs, "!hello theirs");
        (await client.GetAsync($"/diag/ws/closed/theirs?dk={other}")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task EchoMessage_LeftUnfinished_TheSocketIsCut()
    {
        var (_, key) = await Portal.CreateDiagKeyAsync();
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(Ws($"/diag/ws/echo?dk={key}"), CancellationToken.None);

        // Half a message, then nothing: the server holds it 2 s here (30 s by default), then cuts the socket.
        await socket.SendAsync(new byte[512 * 1024], WebSocketMessageType.Binary, endOfMessage: false, CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var cut = await Should.ThrowAsync<WebSocketException>(async () =>
        {
            while (true)
            {
                await socket.ReceiveAsync(new byte[1024], timeout.Token);
            }
        });

        timeout.IsCancellationRequested.ShouldBeFalse(cut.Message);
    }

    [Theory]
    [InlineData("!close 1006", WebSocketCloseStatus.ProtocolError)]
    [InlineData("!close 1015", WebSocketCloseStatus.ProtocolError)]
    [InlineData("!close 2000", WebSocketCloseStatus.ProtocolError)]
    [InlineData("!close 4000 a reason far longer than the 123 bytes a close frame may carry, which the server must shorten instead of failing on it", (WebSocketCloseStatus)4000)]
    public async Task EchoCloseCommand_CodeOrReasonNoCloseFrameMayCarry_ClosedCleanlyNotAServerFault(string command, WebSocketCloseStatus expected)
    {
        // Not in the table: 1005, 1006 and 1015 may never be sent, and a close reason is at most 123 bytes.
        var (_, key) = await Portal.CreateDiagKeyAsync();
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(Ws($"/diag/ws/echo?dk={key}"), CancellationToken.None);

        await socket.SendAsync(Encoding.UTF8.GetBytes(command), WebSocketMessageType.Text, true, CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var received = await socket.ReceiveAsync(new byte[1024], timeout.Token);

        received.MessageType.ShouldBe(WebSocketMessageType.Close);
        socket.CloseStatus.ShouldBe(expected);
        Encoding.UTF8.GetByteCount(socket.CloseStatusDescription ?? "").ShouldBeLessThanOrEqualTo(123);
    }

    private async Task<Guid> ObserveAsync(string token)
    {
        var run = Guid.NewGuid();
        using var customer = Portal.CreateClient(withApiKey: false);
        using var observed = await customer.PostAsJsonAsync($"/api/runs/{token}/observe", new { runId = run, id = Guid.NewGuid() });
        observed.EnsureSuccessStatusCode();
        return run;
    }

    private static async Task<string> RoundTripAsync(ClientWebSocket socket, string text)
    {
        await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[4096];
        var received = await socket.ReceiveAsync(buffer, timeout.Token);
        return Encoding.UTF8.GetString(buffer, 0, received.Count);
    }
}
