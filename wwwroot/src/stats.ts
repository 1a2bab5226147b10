// Small, exact statistics over samples in milliseconds. Pure functions: unit-tested in stats.test.ts.

/** The value at quantile q (0..1) of the samples, by linear interpolation between closest ranks. */
export function quantile(samples: readonly number[], q: number): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

/** Rounds to a tenth, enough for loopback figures; null stays null. */
export function round(value: number | null): number | null {
  return value === null ? null : Math.round(value * 10) / 10;
}

let resolution: number | null = null;

/**
 * The smallest step of this page's clock, in milliseconds: browsers coarsen performance.now() (Firefox and WebKit to
 * 1 ms unless the page is cross-origin isolated; Chromium to 0.1 ms). Measured once; every timing is only as fine.
 */
export function timerResolutionMs(): number {
  if (resolution !== null) return resolution;
  let smallest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    const a = performance.now();
    let b = performance.now();
    while (b === a) b = performance.now();
    smallest = Math.min(smallest, b - a);
  }
  // At least a microsecond: a clock finer than that rounds to it.
  resolution = Math.max(Math.round(smallest * 1000) / 1000, 0.001);
  return resolution;
}

/** A duration in words at the clock's resolution: "under 1 ms" rather than "0 ms" when the clock cannot tell. */
export function formatMs(value: number | null, resolutionMs: number = timerResolutionMs()): string {
  if (value === null) return "unknown";
  return value < resolutionMs ? `under ${resolutionMs} ms` : `${value} ms`;
}

/** Jitter as the mean absolute difference between consecutive samples (RFC 3550's idea, without smoothing). */
export function jitter(samples: readonly number[]): number | null {
  if (samples.length < 2) return null;
  let sum = 0;
  for (let i = 1; i < samples.length; i++) sum += Math.abs(samples[i]! - samples[i - 1]!);
  return sum / (samples.length - 1);
}

/** Throughput in Mbit/s of `bytes` moved in `ms` milliseconds. */
export function mbitPerSecond(bytes: number, ms: number): number | null {
  if (ms <= 0) return null;
  return (bytes * 8) / (ms * 1000);
}

/**
 * When a socket that was kept quiet died, in seconds after it opened: the server's figure when it has one (it saw
 * the cut directly), else the client's; null when it survived.
 */
export function idleDeath(openedAtMs: number, clientClosedAtMs: number | null, serverLivedSeconds: number | null): number | null {
  if (serverLivedSeconds !== null) return Math.round(serverLivedSeconds * 10) / 10;
  if (clientClosedAtMs === null) return null;
  return Math.round((clientClosedAtMs - openedAtMs) / 100) / 10;
}

export interface Summary { min: number | null; median: number | null; p90: number | null; max: number | null; jitter: number | null }

export function summarize(samples: readonly number[]): Summary {
  return {
    min: round(samples.length ? Math.min(...samples) : null),
    median: round(quantile(samples, 0.5)),
    p90: round(quantile(samples, 0.9)),
    max: round(samples.length ? Math.max(...samples) : null),
    jitter: round(jitter(samples)),
  };
}

/** An interval [from, to] of the page's own clock when its main thread ran nothing: events due then arrive together at `to`. */
export type Stall = readonly [from: number, to: number];

/**
 * How much a stream of events was bunched up on the way: each event's delay beyond the fastest event's (arrival
 * offset minus send offset, so clocks need not agree). A buffering proxy holds events back and releases them
 * together, so the largest lag grows while the gaps between arrivals collapse to near zero.
 *
 * The customer's own page does the same when its main thread is busy: events queue and are handed over together when
 * it is free again. An event that arrived just as such a stall ended (`stalls`, from watchStalls) is held by the page,
 * not by the network: it counts in `heldByPage` and in neither the lag nor the bursts.
 */
export function eventLag(sent: readonly number[], arrived: readonly number[], stalls: readonly Stall[] = []): { maxLagMs: number | null; bursts: number; heldByPage: number } {
  const n = Math.min(sent.length, arrived.length);
  if (n === 0) return { maxLagMs: null, bursts: 0, heldByPage: 0 };
  // Dispatch after a stall and the watcher's late tick run in either order: a few milliseconds either side.
  const held = (at: number) => stalls.some(([from, to]) => from < at && at <= to + 25);
  const kept: number[] = [];
  for (let i = 0; i < n; i++) if (!held(arrived[i]!)) kept.push(i);
  if (kept.length === 0) return { maxLagMs: null, bursts: 0, heldByPage: n };
  const offset = (i: number) => arrived[i]! - sent[i]!;
  const fastest = Math.min(...kept.map(offset));
  let maxLag = 0;
  let bursts = 0;
  kept.forEach((i, k) => {
    maxLag = Math.max(maxLag, offset(i) - fastest);
    if (k === 0) return;
    const previous = kept[k - 1]!;
    const sentGap = sent[i]! - sent[previous]!;
    const arrivedGap = arrived[i]! - arrived[previous]!;
    if (sentGap >= 20 && arrivedGap < sentGap / 4) bursts++;
  });
  return { maxLagMs: Math.round(maxLag), bursts, heldByPage: n - kept.length };
}

/**
 * Watches this page's main thread with a 10 ms timer until the returned function is called, which gives the stalls
 * (timer late by more than `thresholdMs`) it saw. A hidden tab's timers are throttled by design, so nothing is
 * recorded while the page is hidden: there a stall cannot be told from throttling.
 */
export function watchStalls(thresholdMs = 50): () => Stall[] {
  const stalls: Stall[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - last > thresholdMs && document.visibilityState === "visible") stalls.push([last, now]);
    last = now;
  }, 10);
  return () => {
    clearInterval(timer);
    return stalls;
  };
}
