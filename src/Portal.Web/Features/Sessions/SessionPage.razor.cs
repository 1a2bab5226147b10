using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.SignalR;
using Portal.Core.Results;
using Portal.Web.Features.Ingest;
using Radzen;
using Portal.Data.Events;
using Portal.Web.Features.CustomerLink;

namespace Portal.Web.Features.Sessions;

/// <summary>One session, live: its runs and their results appear as the customer's browser reports them.</summary>
public partial class SessionPage
{
    private SessionDetail? _session;
    private bool _notFound;
    private bool _live;
    private string? _newLink;
    private string? _notice;
    private bool _showImport;
    private bool _showProbe;
    private string? _probeTargets;
    private string? _reportCode;
    private IDisposable? _watch;
    private readonly SemaphoreSlim _reload = new(1, 1);
    private readonly CancellationTokenSource _disposed = new();

    [Inject]
    private SessionService Sessions { get; set; } = default!;

    [Inject]
    private PortalEvents Events { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private IHubContext<RunHub> RunHub { get; set; } = default!;

    [Inject]
    private ResultReception Reception { get; set; } = default!;

    [Inject]
    private Probes.ProbeService Probes { get; set; } = default!;

    /// <summary>Who is logged in.</summary>
    [CascadingParameter]
    private Task<Microsoft.AspNetCore.Components.Authorization.AuthenticationState>? AuthenticationState { get; set; }

    /// <summary>The session's id, from the address.</summary>
    [Parameter]
    public Guid Id { get; set; }

    private string Title => _session?.CustomerName ?? "Session";

    /// <inheritdoc />
    protected override async Task OnParametersSetAsync()
    {
        _watch?.Dispose();
        // Watch before loading, so nothing that is stored between the two is missed.
        _watch = Events.Watch(Id, OnEventAsync);
        _live = true;
        await LoadAsync();
    }

    private async Task LoadAsync()
    {
        await _reload.WaitAsync(_disposed.Token);
        try
        {
            _session = await Sessions.GetAsync(Id, _disposed.Token);
            _notFound = _session is null;
        }
        finally
        {
            _reload.Release();
        }
    }

    private async Task OnEventAsync(PortalEvent portalEvent)
    {
        if (_disposed.IsCancellationRequested)
        {
            return;
        }

        await LoadAsync();
        await InvokeAsync(StateHasChanged);
    }

    private async Task RunAgainAsync()
    {
        await RunHub.Clients.Group(Ingest.RunHub.Group(Id)).SendAsync("runAgain", _disposed.Token);
        _notice = "Asked the customer's page to run the test again. A new run appears here when it starts.";
    }

    /// <summary>A run the portal made by probing (no browser behind it), not a customer's.</summary>
    private bool IsProbeRun(RunDetail run) =>
        run.UserAgent is null && _session!.Results.Where(r => r.RunId == run.Id).All(r => r.Transport == "probe");

    private void ToggleProbe()
    {
        _showProbe = !_showProbe;
        _probeTargets ??= string.Join('\n', _session?.Targets ?? []);
    }

    private async Task ProbeAsync()
    {
        var targets = (_probeTargets ?? string.Empty).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var user = AuthenticationState is null ? null : (await AuthenticationState).User.FindFirst(System.Security.Claims.ClaimTypes.NameIdentifier)?.Value;
        var outcome = await Probes.RequestAsync(Id, targets, user ?? "unknown", _disposed.Token);
        _notice = outcome.State switch
        {
            Features.Probes.ProbeRequestState.Accepted => $"Probing {string.Join(", ", outcome.Targets!)}. Results appear below as they come.",
            Features.Probes.ProbeRequestState.RateLimited => "Too many probes in the last minute; try again shortly.",
            Features.Probes.ProbeRequestState.NotFound => "This session no longer exists.",
            _ => string.Join(" ", outcome.Errors!),
        };
        if (outcome.State == Features.Probes.ProbeRequestState.Accepted)
        {
            _showProbe = false;
        }
    }

    private async Task ImportAsync()
    {
        if (!ReportCode.TryDecode(_reportCode, out var runId, out var results, out var error))
        {
            _notice = error;
            return;
        }

        var stored = 0;
        var problems = new List<string>();
        foreach (var result in results)
        {
            var reception = await Reception.ReceiveAsync(Id, result, ResultSource.Client, "report-code", null, _disposed.Token);
            if (reception.Ack is { Stored: true })
            {
                stored++;
            }
            else if (reception.Problem is { } problem)
            {
                problems.Add($"{result.Step}: {problem}");
            }
        }

        await Reception.CompleteAsync(Id, runId, "Imported from a report code.", "report-code", null, _disposed.Token);
        _notice = $"Imported {stored} of {results.Count} results from the report code." + (problems.Count > 0 ? " Refused: " + string.Join(" ", problems) : "");
        _reportCode = null;
        _showImport = false;
        await LoadAsync();
    }

    private async Task RenewLinkAsync()
    {
        var token = await Sessions.RenewLinkAsync(Id, _disposed.Token);
        if (token is not null)
        {
            _newLink = CustomerLinks.Url(Navigation.BaseUri, token);
            await LoadAsync();
        }
    }

    private static string Format(DateTimeOffset time) => time.ToLocalTime().ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);

    private static BadgeStyle StatusStyle(string status) => status switch
    {
        "pass" => BadgeStyle.Success,
        "warn" => BadgeStyle.Warning,
        "fail" or "error" => BadgeStyle.Danger,
        _ => BadgeStyle.Light,
    };

    private static string Summary(ResultDetail result) =>
        result.Detail.ValueKind == JsonValueKind.Object && result.Detail.TryGetProperty("summary", out var s) && s.ValueKind == JsonValueKind.String
            ? s.GetString()!
            : result.Step;

    private static string Metrics(ResultDetail result)
    {
        if (result.Metrics.ValueKind != JsonValueKind.Object)
        {
            return "";
        }

        var sb = new StringBuilder();
        foreach (var property in result.Metrics.EnumerateObject())
        {
            if (sb.Length > 0)
            {
                sb.Append(" · ");
            }

            sb.Append(property.Name).Append(' ').Append(property.Value.ValueKind == JsonValueKind.Null ? "—" : property.Value.GetRawText());
        }

        return sb.ToString();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _watch?.Dispose();
        _disposed.Cancel();
        _disposed.Dispose();
        _reload.Dispose();
    }
}
