// Plain HTTP: round trips, throughput both ways, the protocol the browser used.
import { diag } from "../diag";
import type { Step, StepOutcome } from "../result";
import { Steps } from "../contract";
import { formatMs, mbitPerSecond, quantile, round, summarize, watchStalls } from "../stats";
import { echoUrl, open, randomBytes, roundTrip } from "./websocket";
import { UnexpectedAnswer, fetchExpecting, type AnswerEvidence } from "../answer";

const MaxBytes = 25 * 1024 * 1024;
const TargetMs = 2_000;

export const pingStep: Step<typeof Steps.httpPing> = {
  name: Steps.httpPing,
  label: "HTTP round trips",
  timeoutMs: 8_000,
  async run(signal): Promise<StepOutcome<typeof Steps.httpPing>> {
    const samples: number[] = [];
    let protocol = "";
    for (let i = 0; i < 10; i++) {
      const url = diag(`/diag/ping?i=${i}&t=${Date.now()}`);
      const started = performance.now();
      const response = await fetchExpecting(url, { cache: "no-store", signal }, null);
      await response.arrayBuffer();
      samples.push(performance.now() - started);
      const entry = performance.getEntriesByName(new URL(url, location.href).href)[0] as PerformanceResourceTiming | undefined;
      protocol ||= entry?.nextHopProtocol ?? "";
    }
    const s = summarize(samples);
    return {
      status: "pass",
      metrics: { samples: samples.length, rttMinMs: s.min, rttMedianMs: s.median, rttP90Ms: s.p90, rttMaxMs: s.max, jitterMs: s.jitter },
      detail: { protocol: protocol || null },
      summary: `HTTP works: round trip ${formatMs(s.median)}${protocol ? ` over ${protocol}` : ""}.`,
    };
  },
};

/** Grows the payload until one transfer takes at least TargetMs, or the cap is reached. */
async function grow(transfer: (bytes: number) => Promise<number>): Promise<{ bytes: number; ms: number; total: number }> {
  let bytes = 256 * 1024;
  let total = 0;
  for (;;) {
    const ms = await transfer(bytes);
    total += bytes;
    if (ms >= TargetMs || bytes >= MaxBytes) return { bytes, ms, total };
    // Aim for the target with the rate just measured, at least doubling, never past the cap.
    const next = Math.ceil((bytes * TargetMs) / Math.max(ms, 1));
    bytes = Math.min(MaxBytes, Math.max(bytes * 2, next));
  }
}

/** Round trips over a WebSocket echo: before a transfer (idle) and every 100 ms while it runs (loaded). */
interface Latency { idleRttMs: number | null; loadedRttP50Ms: number | null; loadedRttP90Ms: number | null }

const NoLatency: Latency = { idleRttMs: null, loadedRttP50Ms: null, loadedRttP90Ms: null };

/**
 * Latency under load: what a call feels while something else fills the line. A queue in front of a slow link (a
 * router's oversized buffer: bufferbloat) adds its whole depth to every round trip once a transfer fills it. Sampled
 * over the portal's WebSocket echo, which the transfer does not share; without WebSocket, no figure.
 */
async function underLoad<T>(signal: AbortSignal, work: () => Promise<T>): Promise<{ result: T; latency: Latency }> {
  let ws: WebSocket | null = null;
  try {
    ws = await open(diag(`${echoUrl()}?t=${Date.now()}`), signal);
  } catch {
    return { result: await work(), latency: NoLatency };
  }
  const socket = ws;
  const idle: number[] = [];
  const loaded: number[] = [];
  try {
    for (let i = 0; i < 5; i++) idle.push(await roundTrip(socket, `idle ${i}`, signal));
  } catch {
    socket.close();
    return { result: await work(), latency: NoLatency };
  }
  let working = true;
  // A round trip the page itself held up (its main thread busy, as with the SSE step) measures the page, not a queue.
  const stalls = watchStalls();
  const samples: { from: number; to: number; rtt: number }[] = [];
  const sampler = (async () => {
    for (let i = 0; working && !signal.aborted; i++) {
      const from = performance.now();
      try {
        const rtt = await roundTrip(socket, `loaded ${i}`, signal);
        samples.push({ from, to: performance.now(), rtt });
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    const result = await work();
    working = false;
    await sampler;
    const held = stalls();
    loaded.push(...samples.filter((x) => !held.some(([from, to]) => from < x.to && to > x.from)).map((x) => x.rtt));
    // Fewer than three samples (a transfer over in a blink) say nothing about a queue.
    const enough = loaded.length >= 3;
    return { result, latency: { idleRttMs: round(quantile(idle, 0.5)), loadedRttP50Ms: enough ? round(quantile(loaded, 0.5)) : null, loadedRttP90Ms: enough ? round(quantile(loaded, 0.9)) : null } };
  } finally {
    working = false;
    await sampler;
    stalls();
    socket.close(1000, "done");
  }
}

function throughputOutcome(direction: string, r: { bytes: number; ms: number; total: number }, latency: Latency) {
  const mbps = round(mbitPerSecond(r.bytes, r.ms));
  const loaded = latency.idleRttMs !== null && latency.loadedRttP50Ms !== null ? ` Round trip ${formatMs(latency.idleRttMs)} idle, ${formatMs(latency.loadedRttP50Ms)} during the transfer.` : "";
  return {
    status: "pass" as const,
    metrics: { mbps, bytes: r.bytes, ms: round(r.ms), totalBytes: r.total, ...latency },
    detail: {},
    summary: `${direction} ${mbps} Mbit/s.${loaded}`,
  };
}

/**
 * Grows the payload to a transfer of about TargetMs, then times that size once more and keeps the faster of the two.
 * One transfer through a shaped link varies by more than the ±15 % a throughput figure must hold (at 20 Mbit/s a
 * single upload read 14.5 to 18.4, a single download 16.9 to 19); the better of two is steady. The round trip is
 * sampled during all of it (the latency under load).
 */
async function measure(direction: string, transfer: (bytes: number) => Promise<number>, signal: AbortSignal) {
  const { result, latency } = await underLoad(signal, async () => {
    const r = await grow(transfer);
    const again = await transfer(r.bytes);
    return { bytes: r.bytes, ms: Math.min(r.ms, again), total: r.total + r.bytes };
  });
  return throughputOutcome(direction, result, latency);
}

export const downloadStep: Step<typeof Steps.httpDownload> = {
  name: Steps.httpDownload,
  label: "Download speed",
  timeoutMs: 15_000,
  async run(signal): Promise<StepOutcome<typeof Steps.httpDownload>> {
    return measure("Download", async (bytes) => {
      const started = performance.now();
      const response = await fetchExpecting(diag(`/diag/download?bytes=${bytes}&t=${Date.now()}`), { cache: "no-store", signal }, "application/octet-stream");
      await response.arrayBuffer();
      return performance.now() - started;
    }, signal);
  },
};

/** The smallest upload worth timing: below it, a round trip dominates the figure. */
const MinTimedBytes = 16 * 1024;

/** The answer that refused an upload, and the sizes either side of the limit. */
interface BodyLimit { refused: AnswerEvidence; passedBytes: number; refusedBytes: number }

export const uploadStep: Step<typeof Steps.httpUpload> = {
  name: Steps.httpUpload,
  needs: ["blob"],
  label: "Upload speed",
  timeoutMs: 20_000,
  async run(signal): Promise<StepOutcome<typeof Steps.httpUpload>> {
    // A Blob, made once before any timing: Chromium sends a Blob from its blob store, but copies an ArrayBuffer body
    // through the renderer first, which took 1.5-3 s for 25 MiB that the server read in 0.1-0.5 s (Firefox: the same
    // either way). Measured with the portal on loopback: Blob 0.18-0.6 s against ArrayBuffer 1.5-3 s in Chromium 156.
    const payload = new Blob([randomBytes(MaxBytes)], { type: "application/octet-stream" });
    let largestPassed = 0;
    const transfer = async (bytes: number) => {
      const body = payload.slice(0, bytes);
      const started = performance.now();
      const response = await fetchExpecting(diag("/diag/upload"), { method: "POST", body, cache: "no-store", signal }, "application/json", bytes);
      await response.json();
      largestPassed = Math.max(largestPassed, bytes);
      return performance.now() - started;
    };
    try {
      return await measure("Upload", transfer, signal);
    } catch (e) {
      // Refused above some size (413 from a proxy's body limit, or the connection dropped mid-body after smaller ones
      // passed): bracket the limit, then time an upload below it.
      if (!(e instanceof UnexpectedAnswer) || !isSizeRefusal(e.evidence, largestPassed)) throw e;
      const limit = await bracket(e.evidence, largestPassed, transfer);
      const below = Math.max(limit.passedBytes, 0);
      let ms: number | null = null;
      if (below >= MinTimedBytes) ms = Math.min(await transfer(below), await transfer(below));
      const mbps = ms === null ? null : round(mbitPerSecond(below, ms));
      return {
        status: "warn",
        metrics: { mbps, bytes: below, ms: ms === null ? null : round(ms), bodyLimitPassedBytes: limit.passedBytes, bodyLimitRefusedBytes: limit.refusedBytes, refusedStatus: limit.refused.status },
        detail: { unexpected: limit.refused },
        summary: `Uploads larger than ${kib(limit.passedBytes)} are refused (${limit.refused.status === null ? "connection closed" : `HTTP ${limit.refused.status}`} at ${kib(limit.refusedBytes)})` + (mbps === null ? "." : `; below that, upload ${mbps} Mbit/s.`),
      };
    }
  },
};

function kib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${round(bytes / 1024 / 1024)} MiB` : `${round(bytes / 1024)} KiB`;
}

/** A refusal because of the size: 413, or no answer at all once a smaller upload had passed. */
function isSizeRefusal(evidence: AnswerEvidence, largestPassed: number): boolean {
  return evidence.status === 413 || (evidence.status === null && largestPassed > 0);
}

/** Narrows the limit between the largest size that passed and the smallest refused, to within 1/16 of it. */
async function bracket(first: AnswerEvidence, passed: number, transfer: (bytes: number) => Promise<number>): Promise<BodyLimit> {
  let refused = first;
  let low = passed;
  let high = first.requestBytes ?? MaxBytes;
  for (let i = 0; i < 10 && high - low > Math.max(1024, high / 16); i++) {
    const middle = Math.floor((low + high) / 2);
    try {
      await transfer(middle);
      low = middle;
    } catch (e) {
      if (!(e instanceof UnexpectedAnswer) || !isSizeRefusal(e.evidence, Math.max(low, 1))) throw e;
      refused = e.evidence;
      high = middle;
    }
  }
  return { refused, passedBytes: low, refusedBytes: high };
}

export const longPollStep: Step<typeof Steps.longpoll> = {
  name: Steps.longpoll,
  label: "Long polling",
  timeoutMs: 8_000,
  async run(signal): Promise<StepOutcome<typeof Steps.longpoll>> {
    const held = 300;
    const overheads: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const response = await fetchExpecting(diag(`/diag/poll?waitMs=${held}&t=${Date.now()}`), { cache: "no-store", signal }, "application/json");
      const body = (await response.json()) as { heldMs: number };
      overheads.push(performance.now() - started - body.heldMs);
    }
    const s = summarize(overheads);
    return {
      status: "pass",
      metrics: { cycles: overheads.length, heldMs: held, overheadMedianMs: s.median, overheadMaxMs: s.max },
      detail: {},
      summary: `Long polling works: ${s.median} ms per cycle beyond the wait.`,
    };
  },
};

/** A plain and a credentialed cross-origin request to the portal's other address: catches CORS-with-credentials failures. */
export function corsStep(alternateOrigin: string | null, skippedReason: string | null = null): Step<typeof Steps.httpCors> {
  return {
    name: Steps.httpCors,
    label: "Cross-origin requests",
    timeoutMs: 8_000,
    async run(signal): Promise<StepOutcome<typeof Steps.httpCors>> {
      if (!alternateOrigin) {
        return skippedReason
          ? { status: "skipped", metrics: {}, detail: { reason: skippedReason }, summary: "Not tried: the portal's other addresses are not reachable through the proxy in front of it." }
          : { status: "skipped", metrics: {}, detail: {}, summary: "No second portal address to test cross-origin requests against." };
      }
      if (location.protocol === "https:" && alternateOrigin.startsWith("http:")) {
        // Mixed content: the browser blocks it whatever the network does, so it says nothing about the network.
        return { status: "skipped", metrics: {}, detail: { origin: alternateOrigin }, summary: "Not tried: a page served over https may not call the portal's plain-http address." };
      }
      const attempt = async (credentials: RequestCredentials): Promise<string | null> => {
        try {
          const response = await fetch(diag(`/diag/cors?t=${Date.now()}`, alternateOrigin), { mode: "cors", credentials, cache: "no-store", signal });
          return response.ok ? null : `HTTP ${response.status}`;
        } catch (e) {
          return e instanceof Error ? e.message : String(e);
        }
      };
      const plain = await attempt("omit");
      const credentialed = await attempt("include");
      return {
        status: plain === null && credentialed === null ? "pass" : "fail",
        metrics: { plainOk: plain === null ? 1 : 0, credentialedOk: credentialed === null ? 1 : 0 },
        detail: { origin: alternateOrigin, plainError: plain, credentialedError: credentialed },
        summary: plain === null && credentialed === null
          ? "Cross-origin requests work, with and without credentials."
          : plain === null
            ? "Cross-origin requests work, but not with credentials (cookies)."
            : "Cross-origin requests fail.",
      };
    },
  };
}
