using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Portal.Testing;

namespace Portal.Web.Tests.Features.Diagnostics;

public class WebSocketEndpointTests(PortalFixture fixture) : IClassFixture<PortalFixture>
{
    private readonly PortalFixture _fixture = fixture;

    private Uri Ws(string pathAndQuery) => new($"ws://{_fixture.Portal.BaseAddress.Authority}{pathAndQuery}");

    /// <summary>The echo's path with a live link's key, as a customer page opens it.</summary>
    private async Task<string> EchoAsync() => $"/diag/ws/echo?dk={(await _fixture.Portal.CreateDiagKeyAsync()).Key}";

    private string SelfOrigin => _fixture.Portal.BaseAddress.GetLeftPart(UriPartial.Authority);

    private static ClientWebSocket Client(string? origin)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        if (origin is not null)
        {
            socket.Options.SetRequestHeader("Origin", origin);
        }

        return socket;
    }

    private static async Task<(WebSocketMessageType Type, byte[] Data)> ReceiveAsync(ClientWebSocket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[2 * 1024 * 1024];
        var count = 0;
        WebSocketReceiveResult received;
        do
        {
            received = await socket.ReceiveAsync(new ArraySegment<byte>(buffer, count, buffer.Length - count), timeout.Token);
            count += received.Count;
        }
        while (!received.EndOfMessage);
        return (received.MessageType, buffer[..count]);
    }

    [Theory]
    [InlineData("/_blazor")]
    [InlineData("/some/future/endpoint")]
    public async Task Upgrade_ForeignOriginWhereACookieAuthenticates_Refused403(string path)
    {
        var (_, token, _) = await _fixture.CreateSessionAsync();
        using var socket = Client("http://evil.example");

        var ex = await Should.ThrowAsync<WebSocketException>(() => socket.ConnectAsync(Ws($"{path}?access_token={token}"), CancellationToken.None));

        socket.HttpStatusCode.ShouldBe(HttpStatusCode.Forbidden, ex.Message);
    }

    [Fact]
    public async Task Echo_ForeignOrigin_AcceptedAndEchoes()
    {
        // A proxy that rewrites Host or scheme makes every customer's Origin look foreign: the measurement must still run.
        using var socket = Client("http://127.0.0.1:1");

        await socket.ConnectAsync(Ws(await EchoAsync()), CancellationToken.None);
        await socket.SendAsync("hello"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
        var (_, data) = await ReceiveAsync(socket);

        Encoding.UTF8.GetString(data).ShouldBe("hello");
    }

    [Fact]
    public async Task Hub_MismatchedOrigin_AcceptedAndRecordedInTheConnectionObservation()
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        using var hub = await RawHubClient.ConnectAsync(Ws($"/hubs/run?access_token={token}"), "http://127.0.0.1:1");
        var run = Guid.NewGuid();

        await hub.InvokeAsync("Observe", run, Guid.NewGuid(), "http://127.0.0.1:1");

        await using var read = _fixture.Database.CreateCommand("SELECT detail::text FROM results WHERE session_id = $1 AND step = 'server.connection'");
        read.Parameters.Add(new() { Value = session });
        var detail = JsonDocument.Parse((string)(await read.ExecuteScalarAsync())!).RootElement;
        detail.GetProperty("originHeader").GetString().ShouldBe("http://127.0.0.1:1");
        detail.GetProperty("frontProxy").GetBoolean().ShouldBeTrue();
        // The Host differs from the page's origin and no X-Forwarded-For came: a front proxy that also hides the customer's address.
        detail.GetProperty("deploymentProblems").EnumerateArray().Select(p => p.GetString()).ShouldBe(["client-address-hidden", "host-rewritten"]);
    }

    [Fact]
    public async Task Echo_SameOrigin_EchoesTextAndBinaryThenClosesCleanly()
    {
        using var socket = Client(SelfOrigin);
        await socket.ConnectAsync(Ws(await EchoAsync()), CancellationToken.None);
        var binary = Enumerable.Range(0, 70_000).Select(i => (byte)i).ToArray();

        await socket.SendAsync(Encoding.UTF8.GetBytes("hello"), WebSocketMessageType.Text, true, CancellationToken.None);
        var text = await ReceiveAsync(socket);
        await socket.SendAsync(binary, WebSocketMessageType.Binary, true, CancellationToken.None);
        var echoed = await ReceiveAsync(socket);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);

        text.Type.ShouldBe(WebSocketMessageType.Text);
        Encoding.UTF8.GetString(text.Data).ShouldBe("hello");
        echoed.Type.ShouldBe(WebSocketMessageType.Binary);
        echoed.Data.ShouldBe(binary);
        socket.CloseStatus.ShouldBe(WebSocketCloseStatus.NormalClosure);
    }

    [Fact]
    public async Task Echo_MessageOverLimit_Closed1009()
    {
        using var socket = Client(SelfOrigin);
        await socket.ConnectAsync(Ws(await EchoAsync()), CancellationToken.None);

        await socket.SendAsync(new byte[(1024 * 1024) + 1], WebSocketMessageType.Binary, true, CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var result = await socket.ReceiveAsync(new byte[1024], timeout.Token);

        result.MessageType.ShouldBe(WebSocketMessageType.Close);
        socket.CloseStatus.ShouldBe(WebSocketCloseStatus.MessageTooBig);
    }

    [Fact]
    public async Task Echo_PlainHttp_426()
    {
        using var client = _fixture.Portal.CreateClient(withApiKey: false);

        using var response = await client.GetAsync(await EchoAsync());

        response.StatusCode.ShouldBe(HttpStatusCode.UpgradeRequired);
    }

    [Fact]
    public async Task Hub_JsonProtocolOverWebSocket_ReportIsStoredAndAcknowledged()
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        using var hub = await ConnectHubAsync(token);
        var id = Guid.NewGuid();
        var run = Guid.NewGuid();

        var completion = await hub.InvokeAsync("Report", new { id, runId = run, step = "ws.echo", status = "pass", metrics = new { rttMedianMs = 2.0 } });

        completion.GetProperty("result").GetProperty("id").GetGuid().ShouldBe(id);
        completion.GetProperty("result").GetProperty("stored").GetBoolean().ShouldBeTrue();
        completion.GetProperty("result").GetProperty("transport").GetString().ShouldBe("websockets");
        (await _fixture.CountAsync("SELECT count(*) FROM results WHERE id = $1 AND session_id = $2 AND transport = 'websockets'", id, session)).ShouldBe(1);
    }

    [Fact]
    public async Task Hub_InvalidResult_ErrorAndNothingStored()
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        using var hub = await ConnectHubAsync(token);

        var completion = await hub.InvokeAsync("Report", new { id = Guid.NewGuid(), runId = Guid.NewGuid(), step = "BAD STEP", status = "pass" });

        completion.GetProperty("error").GetString()!.ShouldContain("step name");
        (await _fixture.CountAsync("SELECT count(*) FROM results WHERE session_id = $1", session)).ShouldBe(0);
    }

    [Fact]
    public async Task Hub_ResultOverSizeLimit_ConnectionClosedAndNothingStored()
    {
        var (session, token, _) = await _fixture.CreateSessionAsync();
        using var hub = await ConnectHubAsync(token);

        var answer = await hub.InvokeAsync("Report", new { id = Guid.NewGuid(), runId = Guid.NewGuid(), step = "ws.echo", status = "pass", detail = new { blob = new string('x', 70_000) } });

        // SignalR answers a message above MaximumReceiveMessageSize with a close message and ends the connection.
        answer.GetProperty("type").GetInt32().ShouldBe(7);
        (await _fixture.CountAsync("SELECT count(*) FROM results WHERE session_id = $1", session)).ShouldBe(0);
    }

    [Fact]
    public async Task Hub_NoToken_Refused401()
    {
        using var socket = Client(SelfOrigin);

        await Should.ThrowAsync<WebSocketException>(() => socket.ConnectAsync(Ws("/hubs/run"), CancellationToken.None));

        socket.HttpStatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    private Task<RawHubClient> ConnectHubAsync(string token) => RawHubClient.ConnectAsync(Ws($"/hubs/run?access_token={token}"), SelfOrigin);
}
