using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Components;
using Portal.Core.Results;
using Portal.Data.Events;
using Portal.Web.Features.CustomerLink;
using Portal.Web.Features.Ingest;
using Portal.Web.Features.Reports;
using Radzen;

namespace Portal.Web.Features.Sessions;

/// <summary>
/// One session, live: findings on top, charts, shared notes and who else is watching, then every run's results as
/// the customer's browser and the probes report them.
/// </summary>
public partial class SessionPage
{
    private enum Panel { None, Probe, Import, Compare, Share }

    private readonly Guid _pageId = Guid.NewGuid();
    private readonly SemaphoreSlim _reload = new(1, 1);
    private readonly HashSet<string> _pendingKinds = new(StringComparer.Ordinal);
    private readonly HashSet<Guid> _pendingResults = [];
    private bool _reloading;
    private readonly CancellationTokenSource _disposed = new();
    private SessionDetail? _session;
    private IReadOnlyList<NoteDetail> _notes = [];
    private IReadOnlyList<Watcher> _watchers = [];
    private IReadOnlyList<ShareLinkSummary> _shareLinks = [];
    private bool _notFound;
    private bool _live;
    private Panel _panel;
    private string? _newLink;
    private string? _sharedUrl;
    private int _shareDays = 7;
    private string? _notice;
    private string? _probeTargets;
    private string? _reportCode;
    private string? _noteText;
    private Guid? _compareA;
    private Guid? _compareB;
    private IDisposable? _watch;
    private Timer? _heartbeat;
    private (string Id, string Name)? _me;

    [Inject]
    private Diagnostics.PortalOrigins Origins { get; set; } = default!;

    [Inject]
    private SessionService Sessions { get; set; } = default!;

    [Inject]
    private Collaboration Collaboration { get; set; } = default!;

    [Inject]
    private CircuitConnection Connection { get; set; } = default!;

    [Inject]
    private ShareLinks ShareLinks { get; set; } = default!;

    [Inject]
    private PortalEvents Events { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

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

    private List<RunDetail> CustomerRuns => _session is null ? [] : [.. _session.Runs.Where(r => !IsProbeRun(r))];

    /// <summary>The newest customer run and the newest probe run: whose findings lead the page.</summary>
    private List<RunDetail> LatestRuns => _session is null
        ? []
        : [.. _session.Runs.GroupBy(IsProbeRun).Select(g => g.MaxBy(r => r.StartedAt)!).OrderByDescending(r => r.StartedAt)];

    /// <summary>Every other run, newest first: listed under the findings by their codes, so history stays in sight.</summary>
    private List<RunDetail> EarlierRuns => _session is null ? [] : [.. _session.Runs.Except(LatestRuns).OrderByDescending(r => r.StartedAt)];

    private IEnumerable<object> RunChoices => _session!.Runs.OrderByDescending(r => r.StartedAt).Select(r => new { r.Id, Text = RunLabel(r) });

    /// <inheritdoc />
    protected override async Task OnParametersSetAsync()
    {
        if (_me is null && AuthenticationState is not null)
        {
            var user = (await AuthenticationState).User;
            _me = (user.FindFirstValue(ClaimTypes.NameIdentifier) ?? "unknown", user.Identity?.Name ?? "unknown");
        }

        _watch?.Dispose();
        // Watch before loading, so nothing that is stored between the two is missed.
        _watch = Events.Watch(Id, OnEventAsync);
        _live = true;
        await LoadAsync(everything: true);
        if (_session is not null && _me is { } me && RendererInfo.IsInteractive)
        {
            await Collaboration.JoinAsync(_pageId, Id, me.Id, me.Name, _disposed.Token);
            _watchers = await Collaboration.WatchersAsync(Id, _disposed.Token);
            if (_heartbeat is null)
            {
                _heartbeat = new Timer(_ => _ = BeatAsync(), null, Collaboration.Heartbeat, Collaboration.Heartbeat);
                Connection.Changed += OnConnectionChangedAsync;
            }
        }
    }

    // The browser lost its connection (a closed laptop, a dropped network): the circuit lives on for minutes in case it
    // comes back, but its engineer is not watching. Leave now and join again on reconnection.
    private async Task OnConnectionChangedAsync(bool connected)
    {
        if (_me is not { } me)
        {
            return;
        }

        try
        {
            if (connected)
            {
                await Collaboration.JoinAsync(_pageId, Id, me.Id, me.Name, _disposed.Token);
            }
            else
            {
                await Collaboration.LeaveAsync(_pageId, Id, _disposed.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or Npgsql.NpgsqlException)
        {
            // The page is going away, or the database is briefly unreachable: the heartbeat or the stale period settles it.
        }
    }

    private async Task BeatAsync()
    {
        try
        {
            if (!Connection.Connected)
            {
                return;
            }

            await Collaboration.BeatAsync(_pageId, Id, _disposed.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or Npgsql.NpgsqlException)
        {
            // The page is going away, or the database is briefly unreachable: the next beat tries again.
        }
    }

    private Task LoadAsync(bool everything, string? kind = null) =>
        LoadAsync(everything, kind is null ? [] : new HashSet<string>(StringComparer.Ordinal) { kind }, []);

    private async Task LoadAsync(bool everything, IReadOnlySet<string> kinds, IReadOnlyCollection<Guid> newResults)
    {
        bool Any(params string[] these) => everything || kinds.Contains(PortalEventKinds.Resync) || these.Any(kinds.Contains);
        await _reload.WaitAsync(_disposed.Token);
        try
        {
            if (Any(PortalEventKinds.ResultStored, PortalEventKinds.RunStarted, PortalEventKinds.RunCompleted, PortalEventKinds.FindingsChanged, PortalEventKinds.SessionChanged)
                && !await AppendAsync(everything, kinds, newResults))
            {
                _session = await Sessions.GetAsync(Id, _disposed.Token);
                _notFound = _session is null;
            }

            if (Any(PortalEventKinds.NoteAdded))
            {
                _notes = await Collaboration.NotesAsync(Id, _disposed.Token);
            }

            if (Any(PortalEventKinds.PresenceChanged))
            {
                _watchers = await Collaboration.WatchersAsync(Id, _disposed.Token);
            }

            if (Any(PortalEventKinds.SessionChanged))
            {
                _shareLinks = await ShareLinks.ListAsync(Id, _disposed.Token);
            }
        }
        finally
        {
            _reload.Release();
        }
    }

    /// <summary>
    /// What a live run changes many times a second is read alone: its new results (of runs the page already shows)
    /// are appended, and changed findings replace the findings. Reloading the whole session for each would grow
    /// with the session. Anything else reloads.
    /// </summary>
    private async Task<bool> AppendAsync(bool everything, IReadOnlySet<string> kinds, IReadOnlyCollection<Guid> newResults)
    {
        if (everything || _session is not { } session
            || kinds.Any(k => k is not (PortalEventKinds.ResultStored or PortalEventKinds.FindingsChanged))
            || (kinds.Contains(PortalEventKinds.ResultStored) && newResults.Count == 0))
        {
            return false;
        }

        if (newResults.Count > 0)
        {
            var fresh = await Sessions.ResultsAsync(Id, newResults, _disposed.Token);
            if (fresh.Count != newResults.Count || fresh.Any(r => !session.Runs.Any(run => run.Id == r.RunId)))
            {
                return false;
            }

            var shown = session.Results.Select(r => r.Id).ToHashSet();
            session = session with { Results = [.. session.Results.Concat(fresh.Where(r => !shown.Contains(r.Id))).OrderBy(r => r.ReceivedAt)] };
        }

        if (kinds.Contains(PortalEventKinds.FindingsChanged))
        {
            session = session with { Findings = await Sessions.FindingsAsync(Id, _disposed.Token) };
        }

        _session = session;
        return true;
    }

    /// <summary>
    /// Events that arrive while the page reloads are gathered and answered by one more reload, not one reload each: a
    /// run that reports faster than the page can reload and render would otherwise queue reloads, and every new row
    /// would wait behind all of them.
    /// </summary>
    private async Task OnEventAsync(PortalEvent portalEvent)
    {
        lock (_pendingKinds)
        {
            _pendingKinds.Add(portalEvent.Kind);
            if (portalEvent is { Kind: PortalEventKinds.ResultStored, ResultId: { } resultId })
            {
                _pendingResults.Add(resultId);
            }

            if (_reloading || _disposed.IsCancellationRequested)
            {
                return;
            }

            _reloading = true;
        }

        var drained = false;
        try
        {
            while (TakePending(out var kinds, out var results))
            {
                await LoadAsync(everything: false, kinds, results);
                await InvokeAsync(StateHasChanged);
            }

            drained = true;
        }
        catch (OperationCanceledException)
        {
            // The page closed while it reloaded.
        }
        finally
        {
            if (!drained)
            {
                // A failed reload (the database briefly away) leaves the next event to start again, with a full
                // reload: what this one was to fetch is not known to it.
                lock (_pendingKinds)
                {
                    _pendingKinds.Add(PortalEventKinds.Resync);
                    _reloading = false;
                }
            }
        }
    }

    /// <summary>Takes what the events asked for so far; when nothing is left, ends the reloading (under the same lock).</summary>
    private bool TakePending(out HashSet<string> kinds, out Guid[] results)
    {
        lock (_pendingKinds)
        {
            kinds = [.. _pendingKinds];
            results = [.. _pendingResults];
            _pendingKinds.Clear();
            _pendingResults.Clear();
            _reloading = kinds.Count > 0;
            return _reloading;
        }
    }

    private void Toggle(Panel panel)
    {
        _panel = _panel == panel ? Panel.None : panel;
        if (panel == Panel.Compare && _session is not null)
        {
            // Before and after a fix: the latest two customer runs, else the latest two probe runs, else any two.
            var runs = _session.Runs.OrderByDescending(r => r.StartedAt).ToList();
            var customer = runs.Where(r => !IsProbeRun(r)).ToList();
            var probes = runs.Where(IsProbeRun).ToList();
            var pair = customer.Count >= 2 ? customer : probes.Count >= 2 ? probes : runs;
            _compareB ??= pair.ElementAtOrDefault(0)?.Id;
            _compareA ??= pair.ElementAtOrDefault(1)?.Id;
        }
    }

    private async Task RevokeLinkAsync()
    {
        await Sessions.RevokeLinkAsync(Id, _disposed.Token);
        _newLink = null;
        _notice = "The customer link is revoked: it no longer opens the test. Use New link to send another.";
        await LoadAsync(everything: true);
    }

    private async Task ToggleClosedAsync()
    {
        var close = _session?.Status == Data.SessionStatus.Open;
        await Sessions.SetClosedAsync(Id, close, _disposed.Token);
        _notice = close ? "Session closed. Its link takes no more runs until you reopen it." : "Session reopened.";
        await LoadAsync(everything: true);
    }

    private async Task RunAgainAsync()
    {
        _notice = await Sessions.RequestRunAsync(Id, _disposed.Token) switch
        {
            RunRequest.Sent => "Asked the customer's page to run the test again. A new run appears here when it starts.",
            RunRequest.LinkClosed => "The customer's link no longer takes runs (the session is closed or the link revoked or expired). Reopen the session or send a new link.",
            _ => "This session no longer exists.",
        };
    }

    private bool IsProbeRun(RunDetail run) => _session!.IsProbeRun(run);

    // Numbered like the charts' bars: two runs started in the same minute must not read the same.
    private string RunLabel(RunDetail run) => $"{(IsProbeRun(run) ? "Server probes" : "Run")} #{_session!.NumberOf(run)} · started {Format(run.StartedAt)}";

    private void ToggleProbe()
    {
        Toggle(Panel.Probe);
        _probeTargets ??= string.Join('\n', _session?.Targets ?? []);
    }

    private async Task ProbeAsync()
    {
        var targets = (_probeTargets ?? string.Empty).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var outcome = await Probes.RequestAsync(Id, targets, _me?.Id ?? "unknown", _disposed.Token);
        _notice = outcome.State switch
        {
            Features.Probes.ProbeRequestState.Accepted => $"Probing {string.Join(", ", outcome.Targets!)}. Results appear below as they come.",
            Features.Probes.ProbeRequestState.RateLimited => "Too many probes in the last minute; try again shortly.",
            Features.Probes.ProbeRequestState.NotFound => "This session no longer exists.",
            _ => string.Join(" ", outcome.Errors!),
        };
        if (outcome.State == Features.Probes.ProbeRequestState.Accepted)
        {
            _panel = Panel.None;
        }
    }

    private async Task AddNoteAsync()
    {
        var error = await Collaboration.AddNoteAsync(Id, _me?.Id, _me?.Name ?? "unknown", _noteText, _disposed.Token);
        if (error is null)
        {
            _noteText = null;
            await LoadAsync(everything: false, PortalEventKinds.NoteAdded);
        }
        else
        {
            _notice = error;
        }
    }

    private async Task ShareAsync()
    {
        var (link, error) = await ShareLinks.CreateAsync(Id, Origins.LinkBase(Navigation.BaseUri), TimeSpan.FromDays(Math.Clamp(_shareDays, 1, 30)), _me?.Id, _disposed.Token);
        _sharedUrl = link?.Url;
        _notice = error;
        await LoadAsync(everything: false, PortalEventKinds.SessionChanged);
    }

    private async Task RevokeShareAsync(Guid linkId)
    {
        await ShareLinks.RevokeAsync(Id, linkId, _disposed.Token);
        _sharedUrl = null;
        _notice = "Share link revoked.";
        await LoadAsync(everything: false, PortalEventKinds.SessionChanged);
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
        _panel = Panel.None;
        await LoadAsync(everything: true);
    }

    private async Task RenewLinkAsync()
    {
        var token = await Sessions.RenewLinkAsync(Id, _disposed.Token);
        if (token is not null)
        {
            _newLink = CustomerLinks.Url(Origins.LinkBase(Navigation.BaseUri), token);
            await LoadAsync(everything: true);
        }
    }

    private static string Format(DateTimeOffset time) => time.ToLocalTime().ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Connection.Changed -= OnConnectionChangedAsync;
        _watch?.Dispose();
        if (_heartbeat is not null)
        {
            await _heartbeat.DisposeAsync();
        }

        await _disposed.CancelAsync();
        try
        {
            await Collaboration.LeaveAsync(_pageId, Id, CancellationToken.None);
        }
        catch (Npgsql.NpgsqlException)
        {
            // The row goes stale and is cleared by the next visitor.
        }

        _disposed.Dispose();
        _reload.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>The language the run's customer read the page in (its env result), else the session's choice.</summary>
    private string? CustomerLanguageOf(RunDetail run) => _session?.CustomerLanguageOf(run.Id);

}
