using System.Collections.Concurrent;
using System.Net;

namespace Portal.Web.Features.Accounts;

/// <summary>
/// Failed log-ins counted per source address (a /64 for IPv6), beside Identity's count per account: one address
/// guessing many accounts is paused, whatever accounts exist. In memory, per instance: each instance pauses what it
/// sees (the README's scale-out section says so).
/// </summary>
public sealed class LoginThrottle(TimeProvider time)
{
    /// <summary>Failed log-ins from one address within <see cref="Window"/> before it is paused.</summary>
    public const int MaxFailures = 20;

    /// <summary>The window failures are counted in, and how long an address stays paused.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(15);

    private readonly ConcurrentDictionary<string, Failures> _failures = new(StringComparer.Ordinal);

    /// <summary>Whether this address may try to log in now.</summary>
    public bool Allows(IPAddress? address)
    {
        var key = Key(address);
        if (!_failures.TryGetValue(key, out var failures))
        {
            return true;
        }

        lock (failures)
        {
            failures.Expire(time.GetUtcNow() - Window);
            return failures.Count < MaxFailures;
        }
    }

    /// <summary>Counts one failed log-in from this address.</summary>
    public void Failed(IPAddress? address)
    {
        var now = time.GetUtcNow();
        var failures = _failures.GetOrAdd(Key(address), _ => new Failures());
        lock (failures)
        {
            failures.Expire(now - Window);
            failures.Add(now);
        }

        // Bounded: addresses whose failures all expired are dropped once the table grows.
        if (_failures.Count > 10_000)
        {
            foreach (var (k, v) in _failures)
            {
                lock (v)
                {
                    v.Expire(now - Window);
                    if (v.Count == 0)
                    {
                        _failures.TryRemove(k, out _);
                    }
                }
            }
        }
    }

    private static string Key(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            var bytes = address.GetAddressBytes();
            Array.Clear(bytes, 8, 8);
            return new IPAddress(bytes) + "/64";
        }

        return address.ToString();
    }

    private sealed class Failures
    {
        private readonly Queue<DateTimeOffset> _times = new();

        public int Count => _times.Count;

        public void Add(DateTimeOffset at) => _times.Enqueue(at);

        public void Expire(DateTimeOffset before)
        {
            while (_times.Count > 0 && _times.Peek() < before)
            {
                _times.Dequeue();
            }
        }
    }
}
