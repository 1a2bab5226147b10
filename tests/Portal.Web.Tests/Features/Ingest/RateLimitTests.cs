using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Portal.Testing;

namespace Portal.Web.Tests.Features.Ingest;

public sealed class RateLimitTests : IAsyncLifetime
{
    private PortalProcess _portal = default!;

    public async Task InitializeAsync() =>
        _portal = await PortalProcess.StartAsync("ratelimit", new Dictionary<string, string> { ["Portal__Limits__MessagesPerMinutePerLink"] = "3" });

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Fact]
    public async Task PostResult_OverThePerLinkLimit_429ProblemDetailsWhileOtherLinksStillWork()
    {
        var a = await CreateAsync();
        var b = await CreateAsync();
        using var client = _portal.CreateClient(withApiKey: false);
        var run = Guid.NewGuid();

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            using var response = await client.PostAsJsonAsync($"/api/runs/{a}/results", new { id = Guid.NewGuid(), runId = run, step = "ws.echo", status = "pass" });
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
                response.Headers.RetryAfter.ShouldNotBeNull();
            }
        }

        using var other = await client.PostAsJsonAsync($"/api/runs/{b}/results", new { id = Guid.NewGuid(), runId = Guid.NewGuid(), step = "ws.echo", status = "pass" });

        statuses.ShouldBe([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests]);
        other.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task HubReport_OverThePerLinkLimit_ErrorInsteadOfAcknowledgement()
    {
        var token = await CreateAsync();
        using var hub = await RawHubClient.ConnectAsync(
            new Uri($"ws://{_portal.BaseAddress.Authority}/hubs/run?access_token={token}"), _portal.BaseAddress.GetLeftPart(UriPartial.Authority));
        var run = Guid.NewGuid();

        var answers = new List<JsonElement>();
        for (var i = 0; i < 4; i++)
        {
            answers.Add(await hub.InvokeAsync("Report", new { id = Guid.NewGuid(), runId = run, step = "ws.echo", status = "pass" }));
        }

        answers.Take(3).Select(a => a.TryGetProperty("result", out var r) && r.GetProperty("stored").GetBoolean()).ShouldBe([true, true, true]);
        answers[3].GetProperty("error").GetString()!.ShouldContain("Too many messages");
    }

    [Fact]
    public async Task HubReport_ManyOverTheLimit_LogStaysProportionate()
    {
        var token = await CreateAsync();
        using var hub = await RawHubClient.ConnectAsync(
            new Uri($"ws://{_portal.BaseAddress.Authority}/hubs/run?access_token={token}"), _portal.BaseAddress.GetLeftPart(UriPartial.Authority));
        var run = Guid.NewGuid();
        var before = _portal.Output.Count;

        for (var i = 0; i < 200; i++)
        {
            await hub.InvokeAsync("Report", new { id = Guid.NewGuid(), runId = run, step = "ws.echo", status = "pass" });
        }

        // 197 refusals of one link: a few lines of log, no stack traces (was: a "fail:" entry with a stack trace each).
        var logged = _portal.Output.Skip(before).ToList();
        logged.Count(l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal)).ShouldBe(0, string.Join('\n', logged.Take(40)));
        logged.Count.ShouldBeLessThan(20, string.Join('\n', logged.Take(40)));
    }

    [Fact]
    public async Task HubAndHttp_SameLink_ShareOneBudget()
    {
        var token = await CreateAsync();
        using var hub = await RawHubClient.ConnectAsync(
            new Uri($"ws://{_portal.BaseAddress.Authority}/hubs/run?access_token={token}"), _portal.BaseAddress.GetLeftPart(UriPartial.Authority));
        using var client = _portal.CreateClient(withApiKey: false);
        var run = Guid.NewGuid();

        var viaHub = new List<bool>();
        for (var i = 0; i < 2; i++)
        {
            var answer = await hub.InvokeAsync("Report", new { id = Guid.NewGuid(), runId = run, step = "ws.echo", status = "pass" });
            viaHub.Add(answer.TryGetProperty("result", out _));
        }

        using var third = await client.PostAsJsonAsync($"/api/runs/{token}/results", new { id = Guid.NewGuid(), runId = run, step = "ws.echo", status = "pass" });
        using var fourth = await client.PostAsJsonAsync($"/api/runs/{token}/results", new { id = Guid.NewGuid(), runId = run, step = "ws.echo", status = "pass" });

        viaHub.ShouldBe([true, true]);
        third.StatusCode.ShouldBe(HttpStatusCode.OK);
        fourth.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task PostResult_OverThePerLinkLimit_RefusalRecordedOnceAgainstTheRunAsThePortals()
    {
        var (session, token, _) = await _portal.CreateSessionAsync(new { customerName = "Refused" });
        using var client = _portal.CreateClient(withApiKey: false);
        using var api = _portal.CreateClient();
        var run = Guid.NewGuid();

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            using var response = await client.PostAsJsonAsync($"/api/runs/{token}/results", new { id = Guid.NewGuid(), runId = run, step = "ws.echo", status = "pass" });
            statuses.Add(response.StatusCode);
        }

        JsonElement detail = default;
        await Eventually.TrueAsync(
            async () =>
            {
                detail = await api.GetFromJsonAsync<JsonElement>($"/api/v1/sessions/{session}");
                return detail.GetProperty("findings").EnumerateArray().Any(f => f.GetProperty("code").GetString() == "portal-refused");
            },
            "the portal-refused finding");

        // Three refused messages, one record: a flood of refusals costs the portal no more than the first.
        statuses.Count(s => s == HttpStatusCode.TooManyRequests).ShouldBe(3);
        var refusals = detail.GetProperty("results").EnumerateArray().Where(r => r.GetProperty("step").GetString() == "server.refusal").ToList();
        refusals.Count.ShouldBe(1);
        refusals[0].GetProperty("runId").GetGuid().ShouldBe(run);
        refusals[0].GetProperty("source").GetString().ShouldBe("server");
        refusals[0].GetProperty("knownStep").GetBoolean().ShouldBeTrue();
        refusals[0].GetProperty("detail").GetProperty("reason").GetString().ShouldBe("link-budget");
        refusals[0].GetProperty("metrics").GetProperty("status").GetInt32().ShouldBe(429);
        var finding = detail.GetProperty("findings").EnumerateArray().Single(f => f.GetProperty("code").GetString() == "portal-refused");
        finding.GetProperty("about").GetString().ShouldBe("portal");
        finding.GetProperty("summary").GetString()!.ShouldContain("3 a minute");
        finding.GetProperty("recommendation").GetString()!.ShouldContain("Portal__Limits__MessagesPerMinutePerLink");
    }

    [Fact]
    public async Task HubReport_OverThePerLinkLimit_RefusalRecordedWithTheHubAsTransport()
    {
        var (session, token, _) = await _portal.CreateSessionAsync(new { customerName = "Refused" });
        using var hub = await RawHubClient.ConnectAsync(
            new Uri($"ws://{_portal.BaseAddress.Authority}/hubs/run?access_token={token}"), _portal.BaseAddress.GetLeftPart(UriPartial.Authority));
        using var api = _portal.CreateClient();
        var run = Guid.NewGuid();

        for (var i = 0; i < 4; i++)
        {
            await hub.InvokeAsync("Report", new { id = Guid.NewGuid(), runId = run, step = "ws.echo", status = "pass" });
        }

        JsonElement refusal = default;
        await Eventually.TrueAsync(
            async () =>
            {
                var detail = await api.GetFromJsonAsync<JsonElement>($"/api/v1/sessions/{session}");
                refusal = detail.GetProperty("results").EnumerateArray().FirstOrDefault(r => r.GetProperty("step").GetString() == "server.refusal");
                return refusal.ValueKind == JsonValueKind.Object;
            },
            "the hub's refusal to be recorded");

        refusal.GetProperty("runId").GetGuid().ShouldBe(run);
        refusal.GetProperty("detail").GetProperty("transport").GetString().ShouldBe("hub");
        refusal.GetProperty("detail").GetProperty("reason").GetString().ShouldBe("link-budget");
    }

    private async Task<string> CreateAsync() => (await _portal.CreateSessionAsync(new { customerName = "Limits" })).Token;
}
