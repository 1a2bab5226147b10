using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Portal.Testing;

namespace Portal.Web.Tests.Features.Webhooks;

public class WebhookTests : IAsyncLifetime
{
    private sealed record Received(string Body, string? Signature, string? Timestamp, string? Event, DateTime At);

    private readonly PortalFixture _fixture = new("webhooks", new Dictionary<string, string>
    {
        ["Portal__Probes__AllowList__0"] = "127.0.0.1/32",
        ["Portal__Webhooks__PollInterval"] = "00:00:00.200",
        ["Portal__Webhooks__FirstRetryDelay"] = "00:00:00.500",
        ["Portal__Webhooks__MaxAttempts"] = "4",
        ["Portal__Webhooks__RunsPerLink"] = "3",
    });

    private readonly ConcurrentQueue<Received> _received = new();
    private WebApplication? _receiver;
    private int _failuresLeft = 1;
    private int _port;

    public async Task InitializeAsync()
    {
        await _fixture.InitializeAsync();
        _port = PortalProcess.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{_port}");
        _receiver = builder.Build();
        _receiver.MapPost("/hook", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            _received.Enqueue(new Received(body, context.Request.Headers["X-Portal-Signature"], context.Request.Headers["X-Portal-Timestamp"], context.Request.Headers["X-Portal-Event"], DateTime.UtcNow));
            // The first delivery fails, as a receiver that is down for a moment would.
            return Interlocked.Decrement(ref _failuresLeft) >= 0 ? Results.StatusCode(500) : Results.NoContent();
        });
        await _receiver.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_receiver is not null)
        {
            await _receiver.DisposeAsync();
        }

        await _fixture.DisposeAsync();
    }

    [Fact]
    public async Task RunsOfOneLink_OnlyTheFirstRunsPerLinkFireTheWebhook_EveryRunStillCompletes()
    {
        using var admin = _fixture.Portal.CreateClient();
        (await admin.PostAsJsonAsync("/api/v1/admin/webhooks", new { url = $"http://127.0.0.1:{_port}/hook" })).StatusCode.ShouldBe(HttpStatusCode.Created);
        var (session, token, _) = await _fixture.CreateSessionAsync(new { customerName = "Looping page" });

        for (var i = 0; i < 5; i++)
        {
            await _fixture.PostCleanRunAsync(token, Guid.NewGuid());
        }

        (await _fixture.CountAsync("SELECT count(*) FROM runs WHERE session_id = $1 AND status = 'completed'", session)).ShouldBe(5);
        (await _fixture.CountAsync("SELECT count(DISTINCT run_id) FROM webhook_deliveries WHERE session_id = $1", session)).ShouldBe(3, "Portal__Webhooks__RunsPerLink is 3 here");
    }

    [Fact]
    public async Task RunCompleted_ReceiverFailsOnce_RetriedAndDeliveredWithValidSignature()
    {
        using var admin = _fixture.Portal.CreateClient();
        using var created = await admin.PostAsJsonAsync("/api/v1/admin/webhooks", new { url = $"http://127.0.0.1:{_port}/hook" });
        created.StatusCode.ShouldBe(HttpStatusCode.Created);
        var secret = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("secret").GetString()!;
        var (session, token, _) = await _fixture.CreateSessionAsync(new { customerName = "Hooked", ticketRef = "T-42" });
        var run = Guid.NewGuid();

        await _fixture.PostCleanRunAsync(token, run);

        await Eventually.TrueAsync(() => Task.FromResult(_received.Count >= 2), "a failed delivery and its retry", TimeSpan.FromSeconds(20));
        var attempts = _received.ToArray();
        attempts[0].Body.ShouldBe(attempts[1].Body);
        foreach (var attempt in attempts)
        {
            var expected = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{attempt.Timestamp}.{attempt.Body}")));
            attempt.Signature.ShouldBe(expected);
            attempt.Event.ShouldBe("run.completed");
        }

        var payload = JsonDocument.Parse(attempts[^1].Body).RootElement;
        payload.GetProperty("runId").GetGuid().ShouldBe(run);
        payload.GetProperty("sessionId").GetGuid().ShouldBe(session);
        payload.GetProperty("ticketRef").GetString().ShouldBe("T-42");
        payload.GetProperty("findings")[0].GetProperty("code").GetString().ShouldBe("all-clear");
        await Eventually.TrueAsync(async () =>
        {
            var log = await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/webhooks/deliveries");
            return log.EnumerateArray().Any(d => d.GetProperty("runId").GetGuid() == run && d.GetProperty("attempts").GetInt32() == 2
                && d.GetProperty("deliveredAt").ValueKind == JsonValueKind.String && d.GetProperty("lastStatus").GetInt32() == 204);
        }, "the delivery log to show two attempts, the second delivered", TimeSpan.FromSeconds(10));
        // The customer page resends a completion it got no acknowledgement for: the event is still delivered once.
        await _fixture.CompleteRunAsync(token, run);
        (await _fixture.CountAsync("SELECT count(*) FROM webhook_deliveries WHERE run_id = $1", run)).ShouldBe(1);
        var wrong = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret + "x"), Encoding.UTF8.GetBytes($"{attempts[0].Timestamp}.{attempts[0].Body}")));
        attempts[0].Signature.ShouldNotBe(wrong);
    }

    [Fact]
    public async Task RunCompleted_ReceiverKeepsFailing_RetriesBackOffThenGivesUp()
    {
        _failuresLeft = int.MaxValue;
        using var admin = _fixture.Portal.CreateClient();
        using var created = await admin.PostAsJsonAsync("/api/v1/admin/webhooks", new { url = $"http://127.0.0.1:{_port}/hook" });
        created.StatusCode.ShouldBe(HttpStatusCode.Created);
        var (_, token, _) = await _fixture.CreateSessionAsync(new { customerName = "Receiver down" });
        var run = Guid.NewGuid();

        await _fixture.PostCleanRunAsync(token, run);

        // Four attempts (MaxAttempts), each wait twice the one before: 0.5 s, 1 s, 2 s.
        await Eventually.TrueAsync(async () =>
        {
            var log = await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/webhooks/deliveries");
            return log.EnumerateArray().Any(d => d.GetProperty("runId").GetGuid() == run && d.GetProperty("attempts").GetInt32() == 4
                && d.GetProperty("nextAttemptAt").ValueKind == JsonValueKind.Null && d.GetProperty("deliveredAt").ValueKind == JsonValueKind.Null
                && d.GetProperty("lastStatus").GetInt32() == 500);
        }, "the delivery log to show four failed attempts and no further one", TimeSpan.FromSeconds(20));
        await Task.Delay(TimeSpan.FromSeconds(2));
        var times = _received.Select(r => r.At).ToArray();
        times.Length.ShouldBe(4);
        var gaps = times.Zip(times.Skip(1), (a, b) => (b - a).TotalSeconds).ToArray();
        gaps[0].ShouldBeGreaterThanOrEqualTo(0.45);
        gaps[1].ShouldBeGreaterThanOrEqualTo(0.95);
        gaps[2].ShouldBeGreaterThanOrEqualTo(1.95);
    }

    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data")]
    [InlineData("http://10.0.0.1/hook")]
    [InlineData("http://localhost:9/hook")]
    [InlineData("ftp://example.com/hook")]
    public async Task Create_ForbiddenUrl_400AndNotStored(string url)
    {
        using var admin = _fixture.Portal.CreateClient();

        using var response = await admin.PostAsJsonAsync("/api/v1/admin/webhooks", new { url });

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await _fixture.CountAsync("SELECT count(*) FROM webhooks WHERE url = $1", url)).ShouldBe(0);
    }
}
