using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Portal.Testing;

namespace Portal.Web.Tests;

/// <summary>A running portal per test class, on its own database.</summary>
public sealed class PortalFixture : IAsyncLifetime
{
    private readonly string _name;
    private readonly IDictionary<string, string>? _environment;

    /// <summary>The fixture xUnit shares across a test class: a portal with the default settings.</summary>
    public PortalFixture()
        : this("web", null)
    {
    }

    /// <summary>A portal with its own settings (internal: xUnit wants one public constructor on a class fixture).</summary>
    internal PortalFixture(string name, IDictionary<string, string>? environment)
    {
        _name = name;
        _environment = environment;
    }

    public PortalProcess Portal { get; private set; } = default!;

    public NpgsqlDataSource Database { get; private set; } = default!;

    public async Task InitializeAsync()
    {
        Portal = await PortalProcess.StartAsync(_name, _environment);
        Database = NpgsqlDataSource.Create(Portal.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await Database.DisposeAsync();
        await Portal.DisposeAsync();
    }

    /// <summary>Runs a query that returns one number.</summary>
    public async Task<long> CountAsync(string sql, params object[] parameters)
    {
        await using var command = Database.CreateCommand(sql);
        foreach (var p in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = p });
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Creates a session through the API and returns its id and link token.</summary>
    public Task<(Guid Id, string Token, Uri CustomerUrl)> CreateSessionAsync(object? body = null) => Portal.CreateSessionAsync(body);

    /// <summary>Reports one result of a run the way the customer page's HTTP fallback does; returns the result's id.</summary>
    public async Task<Guid> PostResultAsync(string token, Guid runId, string step, string status, object? metrics = null, object? detail = null)
    {
        using var client = Portal.CreateClient(withApiKey: false);
        var id = Guid.NewGuid();
        using var response = await client.PostAsJsonAsync($"/api/runs/{token}/results", new
        {
            id, runId, step, status, metrics = metrics ?? new { }, detail = detail ?? new { }, clientTime = DateTimeOffset.UtcNow,
        });
        response.EnsureSuccessStatusCode();
        return id;
    }

    /// <summary>Ends a run the way the customer page does.</summary>
    public async Task CompleteRunAsync(string token, Guid runId, string verdict = "All tests passed.")
    {
        using var client = Portal.CreateClient(withApiKey: false);
        using var response = await client.PostAsJsonAsync($"/api/runs/{token}/complete", new { runId, verdict });
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Reports a run in which every step passed with good numbers, and completes it.</summary>
    public async Task PostCleanRunAsync(string token, Guid runId)
    {
        await PostResultAsync(token, runId, "http.ping", "pass", new { rttMedianMs = 2.5, samples = 10 }, new { summary = "HTTP works." });
        await PostResultAsync(token, runId, "ws.echo", "pass", new { openMs = 4, samples = 20, rttMedianMs = 1.2, closeCode = 1000 }, new { summary = "WebSocket works." });
        await PostResultAsync(token, runId, "http.download", "pass", new { mbps = 900 }, new { summary = "Download 900 Mbit/s." });
        await PostResultAsync(token, runId, "ws.idle", "pass", new { idleSeconds = 10, survived = 1 }, new { summary = "A quiet WebSocket survived 10 s." });
        await CompleteRunAsync(token, runId);
    }

    /// <summary>The finding codes of a session, as the API shows them.</summary>
    public async Task<string[]> FindingCodesAsync(Guid sessionId)
    {
        using var api = Portal.CreateClient();
        var session = await api.GetFromJsonAsync<JsonElement>($"/api/v1/sessions/{sessionId}");
        return [.. session.GetProperty("findings").EnumerateArray().Select(f => f.GetProperty("code").GetString()!)];
    }

    /// <summary>Waits until the session's finding codes are exactly <paramref name="codes"/> (findings are evaluated just after ingest).</summary>
    public Task WaitForFindingsAsync(Guid sessionId, params string[] codes) =>
        Eventually.TrueAsync(async () => (await FindingCodesAsync(sessionId)).SequenceEqual(codes), $"the findings to be [{string.Join(", ", codes)}]", TimeSpan.FromSeconds(10));
}
