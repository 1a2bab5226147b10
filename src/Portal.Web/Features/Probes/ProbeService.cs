using System.Text.Json;
using System.Threading.Channels;
using System.Threading.RateLimiting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Portal.Core.Results;
using Portal.Data;
using Portal.Probes;
using Portal.Web.Features.Ingest;

namespace Portal.Web.Features.Probes;

/// <summary>A batch of probes to run for a session, its results stored on one run.</summary>
/// <param name="SessionId">The session.</param>
/// <param name="RunId">The run the results join: a new probe run, or the customer's run that just started.</param>
/// <param name="Targets">The checked targets.</param>
/// <param name="IdleSeconds">How long the WebSocket idle probe holds a connection quiet.</param>
/// <param name="CompleteRun">True for a probe run of its own, marked completed when the probes end.</param>
/// <param name="Guard">The guard for these targets; the prober's own when null.</param>
/// <param name="PortalDiagKey">Set when the targets are this portal's own origin (the admin's deployment check): its SSE and upload paths are probed too, with this key of the check's session.</param>
public sealed record ProbeJob(Guid SessionId, Guid RunId, IReadOnlyList<ProbeTarget> Targets, int IdleSeconds, bool CompleteRun, AddressGuard? Guard = null, string? PortalDiagKey = null)
{
    /// <summary>Targets another job is still probing are put off and tried again until then; after it, waited for.</summary>
    public DateTimeOffset? NotAfter { get; init; }

    /// <summary>Results and problems of the job's earlier passes (a job whose targets were busy comes back).</summary>
    public (int Results, int Problems) SoFar { get; init; }
}

/// <summary>What became of a request to probe.</summary>
public enum ProbeRequestState
{
    /// <summary>Queued; results follow on the run.</summary>
    Accepted,

    /// <summary>No such session.</summary>
    NotFound,

    /// <summary>A target is malformed or forbidden; see the errors.</summary>
    Invalid,

    /// <summary>The engineer asked too often; try again later.</summary>
    RateLimited,
}

/// <summary>The answer to a probe request.</summary>
public sealed record ProbeRequestOutcome(ProbeRequestState State, Guid RunId = default, IReadOnlyList<string>? Targets = null, IReadOnlyList<string>? Errors = null, TimeSpan? RetryAfter = null);

/// <summary>
/// Accepts probe requests from engineers (API and console) and from customer runs that start, checks every target
/// with the address guard, limits each engineer's rate, and queues the work for <see cref="ProbeWorker"/>.
/// </summary>
public sealed class ProbeService : IDisposable
{
    private readonly Channel<ProbeJob> _queue = Channel.CreateBounded<ProbeJob>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly PartitionedRateLimiter<string> _perEngineer;
    private readonly IDbContextFactory<PortalDbContext> _databases;
    private readonly ProbeSettings _settings;

    /// <summary>Creates the service.</summary>
    public ProbeService(Prober prober, IDbContextFactory<PortalDbContext> databases, IOptions<ProbeSettings> settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Prober = prober;
        _databases = databases;
        _settings = settings.Value;
        var limit = settings.Value.RequestsPerMinutePerEngineer;
        _perEngineer = PartitionedRateLimiter.Create<string, string>(user => RateLimitPartition.GetFixedWindowLimiter(user, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = limit, Window = TimeSpan.FromMinutes(1), QueueLimit = 0,
        }));
    }

    /// <summary>The prober (and its guard).</summary>
    public Prober Prober { get; }

    /// <summary>The queue the worker reads.</summary>
    public ChannelReader<ProbeJob> Queue => _queue.Reader;

    /// <summary>Parses and checks targets; returns them, or the reasons (each naming its target) they are refused.</summary>
    public (List<ProbeTarget> Targets, List<string> Errors) Check(IEnumerable<string?> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var targets = new List<ProbeTarget>();
        var errors = new List<string>();
        foreach (var text in texts)
        {
            if (Prober.Guard.TryAccept(text, out var target, out var error))
            {
                targets.Add(target);
            }
            else
            {
                errors.Add(error);
            }
        }

        return (targets, errors);
    }

    /// <summary>An engineer asks to probe the given targets (or the session's own when none are given).</summary>
    public async Task<ProbeRequestOutcome> RequestAsync(Guid sessionId, IReadOnlyList<string>? texts, string engineer, CancellationToken cancellationToken)
    {
        var session = await FindSessionAsync(sessionId, cancellationToken);
        if (session is null)
        {
            return new ProbeRequestOutcome(ProbeRequestState.NotFound);
        }

        texts = texts is { Count: > 0 } ? texts : session.Targets;
        if (texts.Count == 0)
        {
            return new ProbeRequestOutcome(ProbeRequestState.Invalid, Errors: ["The session has no targets; give some: {\"targets\": [\"wss://…\"]}."]);
        }

        if (texts.Count > Sessions.SessionService.MaxTargets)
        {
            return new ProbeRequestOutcome(ProbeRequestState.Invalid, Errors: [$"At most {Sessions.SessionService.MaxTargets} targets."]);
        }

        var (targets, errors) = Check(texts);
        if (errors.Count > 0)
        {
            return new ProbeRequestOutcome(ProbeRequestState.Invalid, Errors: errors);
        }

        using var lease = _perEngineer.AttemptAcquire(engineer);
        if (!lease.IsAcquired)
        {
            return new ProbeRequestOutcome(ProbeRequestState.RateLimited, RetryAfter: lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromMinutes(1));
        }

        var runId = Guid.NewGuid();
        if (!_queue.Writer.TryWrite(new ProbeJob(sessionId, runId, targets, session.IdleSeconds, CompleteRun: true)))
        {
            return new ProbeRequestOutcome(ProbeRequestState.RateLimited, RetryAfter: TimeSpan.FromMinutes(1));
        }

        return new ProbeRequestOutcome(ProbeRequestState.Accepted, runId, [.. targets.Select(t => t.ToString())]);
    }

    /// <summary>Queues a job the caller has already checked (the admin's deployment check).</summary>
    public void Enqueue(ProbeJob job) => _queue.Writer.TryWrite(job);

    /// <summary>Queues a job again after a pause, without holding a worker while it waits.</summary>
    public void EnqueueLater(ProbeJob job, TimeSpan after, CancellationToken cancellationToken) =>
        _ = Task.Delay(after, cancellationToken).ContinueWith(_ => _queue.Writer.TryWrite(job), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);

    /// <summary>A customer run started: probe the session's targets onto that run (forbidden ones become blocked results).</summary>
    public async Task StartForCustomerRunAsync(Guid sessionId, Guid runId, CancellationToken cancellationToken)
    {
        var session = await FindSessionAsync(sessionId, cancellationToken);
        if (session is null || session.Targets.Count == 0)
        {
            return;
        }

        // Once per run, and for at most RunsWithProbesPerLink runs of a link: a page (or a script holding the link)
        // that reports many observations or invents run ids cannot make the portal probe again and again.
        await using (var db = await _databases.CreateDbContextAsync(cancellationToken))
        {
            var cap = _settings.RunsWithProbesPerLink;
            var marked = await db.Database.ExecuteSqlInterpolatedAsync(
                $"UPDATE runs SET probes_started_at = now() WHERE id = {runId} AND session_id = {sessionId} AND probes_started_at IS NULL AND (SELECT count(*) FROM runs WHERE session_id = {sessionId} AND probes_started_at IS NOT NULL) < {cap}",
                cancellationToken);
            if (marked == 0)
            {
                return;
            }
        }

        var targets = session.Targets.Select(t => ProbeTarget.TryParse(t, out var target, out _) ? target : null).OfType<ProbeTarget>().ToList();
        _queue.Writer.TryWrite(new ProbeJob(sessionId, runId, targets, session.IdleSeconds, CompleteRun: false));
    }

    private async Task<SessionTargets?> FindSessionAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        await using var db = await _databases.CreateDbContextAsync(cancellationToken);
        return await db.Sessions.AsNoTracking().Where(s => s.Id == sessionId).Select(s => new SessionTargets(s.Targets, s.IdleSeconds)).SingleOrDefaultAsync(cancellationToken);
    }

    private sealed record SessionTargets(List<string> Targets, int IdleSeconds);

    /// <summary>Turns a probe result into a stored result of the run.</summary>
    public static ResultSubmission ToSubmission(ProbeResult result, Guid runId, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(result);
        return new ResultSubmission(Guid.NewGuid(), runId, result.Step, result.Status,
            JsonSerializer.SerializeToElement(result.Metrics), JsonSerializer.SerializeToElement(result.Detail), now);
    }

    /// <inheritdoc />
    public void Dispose() => _perEngineer.Dispose();
}

/// <summary>Settings of server-side probes (<c>Portal:Probes</c>) beyond the prober's own.</summary>
public sealed class ProbeSettings
{
    /// <summary>How many probe requests one engineer may make per minute.</summary>
    public int RequestsPerMinutePerEngineer { get; set; } = 10;

    /// <summary>How many targets are probed at once (one connection per target at a time, whatever this says).</summary>
    public int Concurrency { get; set; } = 4;

    /// <summary>How many customer runs of one link start the session's server probes (each run at most once).</summary>
    public int RunsWithProbesPerLink { get; set; } = 20;

    /// <summary>
    /// How long one job may hold a worker slot, all its targets together (<c>Portal:Probes:JobDeadline</c>); a target
    /// also has its own overall time of the idle hold plus a minute. What is cut off is recorded as <c>probe.deadline</c>.
    /// </summary>
    public TimeSpan JobDeadline { get; set; } = TimeSpan.FromMinutes(20);
}

/// <summary>Runs queued probes and stores every result as it comes, so watchers see probes live.</summary>
public sealed partial class ProbeWorker(ProbeService probes, RunIngest ingest, TimeProvider time, IOptions<ProbeSettings> settings, ILogger<ProbeWorker> logger) : BackgroundService
{
    /// <inheritdoc />
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Parallel.ForEachAsync(probes.Queue.ReadAllAsync(stoppingToken), new ParallelOptions { MaxDegreeOfParallelism = settings.Value.Concurrency, CancellationToken = stoppingToken }, RunAsync);

    /// <summary>How long a job puts off targets another job is probing before it waits for them in its worker slot.</summary>
    public static readonly TimeSpan BusyTargetPatience = TimeSpan.FromMinutes(5);

    private async ValueTask RunAsync(ProbeJob job, CancellationToken cancellationToken)
    {
        var (results, problems) = job.SoFar;
        var notAfter = job.NotAfter ?? time.GetUtcNow() + BusyTargetPatience;
        var busy = new List<ProbeTarget>();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(settings.Value.JobDeadline);
        var started = time.GetTimestamp();
        foreach (var target in job.Targets)
        {
            // A target another job is probing (one connection per target) is not waited for here: waiting would hold
            // this worker slot, and one slow target could hold them all. It comes back in a later pass.
            if (probes.Prober.IsBusy(target) && time.GetUtcNow() < notAfter)
            {
                busy.Add(target);
                continue;
            }

            // One overall time-out per target on top of each step's own: the idle hold plus a minute for everything else.
            using var overall = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
            overall.CancelAfter(TimeSpan.FromSeconds(job.IdleSeconds + 60));
            var targetStarted = time.GetTimestamp();
            try
            {
                var all = probes.Prober.ProbeAsync(target, job.IdleSeconds, job.Guard, overall.Token);
                if (job.PortalDiagKey is { } key && target.IsHttp)
                {
                    all = all.Concat(probes.Prober.PortalPathsAsync(target, job.Guard ?? probes.Prober.Guard, key, overall.Token));
                }

                await foreach (var result in all)
                {
                    await ingest.IngestAsync(job.SessionId, ProbeService.ToSubmission(result, job.RunId, time.GetUtcNow()), ResultSource.Server, "probe", null, cancellationToken);
                    results++;
                    problems += result.Status is "pass" ? 0 : 1;
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Cut off: say so on the run, so a missing result is explained rather than silently absent.
                LogProbeTimedOut(job.SessionId);
                var byJob = deadline.IsCancellationRequested;
                var seconds = Math.Round((byJob ? time.GetElapsedTime(started) : time.GetElapsedTime(targetStarted)).TotalSeconds, 1);
                var cut = new ProbeResult(KnownSteps.ProbeDeadline, "fail", new Dictionary<string, double?> { ["seconds"] = seconds }, new Dictionary<string, object?>
                {
                    ["target"] = target.ToString(),
                    ["summary"] = byJob
                        ? $"The probes of {target} were stopped: the job reached its deadline of {settings.Value.JobDeadline.TotalSeconds:0} s (Portal__Probes__JobDeadline) before they finished."
                        : $"The probes of {target} were stopped after {seconds:0.#} s: the target answered too slowly or not at all.",
                });
                results++;
                problems++;
                await ingest.IngestAsync(job.SessionId, ProbeService.ToSubmission(cut, job.RunId, time.GetUtcNow()), ResultSource.Server, "probe", null, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogProbeFailed(ex, job.SessionId);
            }
        }

        if (busy.Count > 0)
        {
            probes.EnqueueLater(job with { Targets = busy, NotAfter = notAfter, SoFar = (results, problems) }, TimeSpan.FromSeconds(1), cancellationToken);
            return;
        }

        if (job.CompleteRun)
        {
            var verdict = problems == 0 ? $"Server probes: {results} results, nothing wrong." : $"Server probes: {results} results, {problems} with something to look at.";
            await ingest.CompleteAsync(job.SessionId, job.RunId, verdict, null, cancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A probe of session {SessionId} ran out of its overall time")]
    private partial void LogProbeTimedOut(Guid sessionId);

    [LoggerMessage(Level = LogLevel.Error, Message = "A probe of session {SessionId} failed")]
    private partial void LogProbeFailed(Exception exception, Guid sessionId);
}
