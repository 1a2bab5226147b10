// Unit tests of the statistics, run with node's test runner after esbuild strips the types (npm test).
import { test } from "node:test";
import assert from "node:assert/strict";
import { eventLag, formatMs, idleDeath, jitter, mbitPerSecond, quantile, summarize, timerResolutionMs } from "./stats";

test("quantile interpolates between closest ranks", () => {
  assert.equal(quantile([], 0.5), null);
  assert.equal(quantile([7], 0.9), 7);
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantile([10, 1, 5], 0.5), 5);
  assert.equal(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9), 9.1);
  assert.equal(quantile([3, 1, 2], 0), 1);
  assert.equal(quantile([3, 1, 2], 1), 3);
});

test("jitter is the mean absolute difference of consecutive samples", () => {
  assert.equal(jitter([5]), null);
  assert.equal(jitter([10, 10, 10]), 0);
  assert.equal(jitter([10, 20, 10, 20]), 10);
  assert.equal(jitter([1, 4, 2]), 2.5);
});

test("summarize rounds to a tenth and keeps the order statistics", () => {
  const s = summarize([1.04, 2.06, 3, 100]);
  assert.deepEqual(s, { min: 1, median: 2.5, p90: 70.9, max: 100, jitter: 33 });
  assert.deepEqual(summarize([]), { min: null, median: null, p90: null, max: null, jitter: null });
});

test("mbitPerSecond converts bytes per millisecond", () => {
  assert.equal(mbitPerSecond(1_000_000, 1000), 8);
  assert.equal(mbitPerSecond(125_000, 10), 100);
  assert.equal(mbitPerSecond(5, 0), null);
});

test("idleDeath prefers the server's figure and is null when the socket survived", () => {
  assert.equal(idleDeath(1_000, null, null), null);
  assert.equal(idleDeath(1_000, 61_300, null), 60.3);
  assert.equal(idleDeath(1_000, 61_300, 59.96), 60);
});

test("eventLag sees a buffering proxy as lag and bursts", () => {
  const sent = [0, 100, 200, 300, 400];
  assert.deepEqual(eventLag(sent, [5, 105, 205, 305, 405]), { maxLagMs: 0, bursts: 0, heldByPage: 0 });
  // Everything held until the end: the first event was the latest, 396 ms beyond the fastest.
  assert.deepEqual(eventLag(sent, [400, 401, 402, 403, 404]), { maxLagMs: 396, bursts: 4, heldByPage: 0 });
  assert.deepEqual(eventLag(sent, [0, 100, 390, 391, 400]), { maxLagMs: 190, bursts: 2, heldByPage: 0 });
  assert.deepEqual(eventLag([], []), { maxLagMs: null, bursts: 0, heldByPage: 0 });
});

test("eventLag does not blame the network for events the page itself held while its main thread was busy", () => {
  const sent = [0, 100, 200, 300, 400, 500];
  // The page stalled from 80 to 370 ms: events 1 to 3 were handed over together when it was free again.
  const arrived = [0, 371, 372, 373, 400, 500];
  assert.deepEqual(eventLag(sent, arrived), { maxLagMs: 271, bursts: 2, heldByPage: 0 });
  assert.deepEqual(eventLag(sent, arrived, [[80, 370]]), { maxLagMs: 0, bursts: 0, heldByPage: 3 });
  // A stall elsewhere explains nothing: the same bunching with the page free at the time is the network's.
  assert.deepEqual(eventLag(sent, arrived, [[600, 700]]), { maxLagMs: 271, bursts: 2, heldByPage: 0 });
  assert.deepEqual(eventLag(sent, arrived, [[-50, 600]]), { maxLagMs: null, bursts: 0, heldByPage: 6 });
});

test("a duration below the clock's resolution reads as under it, never 0 ms", () => {
  assert.equal(formatMs(0, 1), "under 1 ms");
  assert.equal(formatMs(0.05, 0.1), "under 0.1 ms");
  assert.equal(formatMs(3.2, 0.1), "3.2 ms");
  assert.equal(formatMs(null, 1), "unknown");
});

test("the clock's resolution is measured, positive and at most a few milliseconds", () => {
  const r = timerResolutionMs();
  assert.ok(r > 0 && r <= 5, String(r));
});
