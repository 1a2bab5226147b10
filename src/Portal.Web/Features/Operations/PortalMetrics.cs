using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Portal.Web.Features.Operations;

/// <summary>
/// The portal's own counters, shown at <c>/metrics</c> in the Prometheus text format: runs started and completed,
/// results stored (by transport, with a rate over the last 10 s), and customer connections open now by transport.
/// Per instance: a scraper sums the instances.
/// </summary>
public sealed class PortalMetrics(TimeProvider time)
{
    private const int WindowSeconds = 10;
    private readonly ConcurrentDictionary<string, long> _results = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _connections = new(StringComparer.Ordinal);
    private readonly long[] _perSecond = new long[WindowSeconds + 1];
    private readonly long[] _secondOf = new long[WindowSeconds + 1];
    private long _runsStarted;
    private long _runsCompleted;

    /// <summary>A run's first observation arrived.</summary>
    public void RunStarted() => Interlocked.Increment(ref _runsStarted);

    /// <summary>A run was marked completed.</summary>
    public void RunCompleted() => Interlocked.Increment(ref _runsCompleted);

    /// <summary>A result was stored (not a duplicate).</summary>
    public void ResultStored(string transport)
    {
        _results.AddOrUpdate(transport, 1, (_, n) => n + 1);
        var second = time.GetUtcNow().ToUnixTimeSeconds();
        var slot = (int)(second % _perSecond.Length);
        lock (_perSecond)
        {
            if (_secondOf[slot] != second)
            {
                _secondOf[slot] = second;
                _perSecond[slot] = 0;
            }

            _perSecond[slot]++;
        }
    }

    /// <summary>A customer connection opened (+1) or closed (-1).</summary>
    public void Connection(string transport, int delta) => _connections.AddOrUpdate(transport, delta, (_, n) => n + delta);

    /// <summary>Results stored per second over the last complete 10 s.</summary>
    public double ResultsPerSecond()
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        long sum = 0;
        lock (_perSecond)
        {
            for (var i = 0; i < _perSecond.Length; i++)
            {
                if (_secondOf[i] < now && _secondOf[i] >= now - WindowSeconds)
                {
                    sum += _perSecond[i];
                }
            }
        }

        return sum / (double)WindowSeconds;
    }

    /// <summary>The counters in the Prometheus text exposition format.</summary>
    public string Render()
    {
        var text = new StringBuilder();
        void Metric(string name, string type, string help, IEnumerable<(string? Label, double Value)> values)
        {
            text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n");
            foreach (var (label, value) in values)
            {
                text.Append(CultureInfo.InvariantCulture, $"{name}{(label is null ? "" : $"{{transport=\"{label}\"}}")} {value}\n");
            }
        }

        Metric("portal_runs_started_total", "counter", "Customer runs started on this instance.", [(null, Interlocked.Read(ref _runsStarted))]);
        Metric("portal_runs_completed_total", "counter", "Customer runs completed on this instance.", [(null, Interlocked.Read(ref _runsCompleted))]);
        Metric("portal_results_stored_total", "counter", "Results stored, by the transport they arrived on.", _results.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => ((string?)p.Key, (double)p.Value)));
        Metric("portal_results_per_second", "gauge", "Results stored per second over the last 10 s.", [(null, ResultsPerSecond())]);
        Metric("portal_connections", "gauge", "Customer hub connections open now, by transport.", _connections.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => ((string?)p.Key, (double)p.Value)));
        return text.ToString();
    }
}
