// WebSocket steps, against the portal's own echo endpoint.
import { diag } from "../diag";
import type { Step, StepOutcome } from "../result";
import { Steps } from "../contract";
import { uuid } from "../ids";
import { formatMs, idleDeath, round, summarize } from "../stats";
import { evidenceOf, noAnswer, type AnswerEvidence } from "../answer";

/** The URL of the portal's echo endpoint, on the scheme and host the page came from. */
export function echoUrl(): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/diag/ws/echo`;
}

export class StepError extends Error {
  constructor(message: string, readonly closeCode: number | null) { super(message); }
}

/** Opens a socket, resolving when it opens and rejecting with the close code when it never does. */
export function open(url: string, signal: AbortSignal): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    if (typeof WebSocket === "undefined") {
      reject(new StepError("WebSocket is not available in this browser", null));
      return;
    }
    if (signal.aborted) {
      reject(new StepError("timed out before opening", null));
      return;
    }
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    const abort = () => { ws.close(); reject(new StepError("timed out while opening", null)); };
    signal.addEventListener("abort", abort, { once: true });
    ws.onopen = () => { signal.removeEventListener("abort", abort); resolve(ws); };
    ws.onclose = (e) => { signal.removeEventListener("abort", abort); reject(new StepError("closed before it opened", e.code)); };
  });
}

/** Sends one message and waits for its echo (compared by size and, for text, content); resolves with the round trip. */
export function roundTrip(ws: WebSocket, payload: string | Uint8Array, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const cleanup = () => {
      ws.removeEventListener("message", onMessage);
      ws.removeEventListener("close", onClose);
      signal.removeEventListener("abort", onAbort);
    };
    const onMessage = (e: MessageEvent) => {
      const same = typeof payload === "string" ? e.data === payload : e.data instanceof ArrayBuffer && e.data.byteLength === payload.byteLength;
      if (!same) return;
      cleanup();
      resolve(performance.now() - started);
    };
    const onClose = (e: CloseEvent) => { cleanup(); reject(new StepError(`closed during the echo (code ${e.code})`, e.code)); };
    const onAbort = () => { cleanup(); reject(new StepError("timed out waiting for an echo", null)); };
    if (signal.aborted) {
      onAbort();
      return;
    }
    ws.addEventListener("message", onMessage);
    ws.addEventListener("close", onClose);
    signal.addEventListener("abort", onAbort, { once: true });
    ws.send(payload);
  });
}

/** Resolves with the close code the browser reports once the socket closes (null on abort). */
function closed(ws: WebSocket, signal: AbortSignal): Promise<CloseEvent | null> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) { resolve(null); return; }
    const onAbort = () => resolve(null);
    signal.addEventListener("abort", onAbort, { once: true });
    ws.addEventListener("close", (e) => { signal.removeEventListener("abort", onAbort); resolve(e); }, { once: true });
  });
}

function failure(url: string, e: unknown, metrics: Record<string, number | null>, opened: boolean): StepOutcome {
  const err = e instanceof StepError ? e : new StepError(String(e), null);
  return {
    status: "fail",
    metrics: { ...metrics, closeCode: err.closeCode },
    detail: { url, error: err.message },
    summary: opened ? `WebSocket opened but ${err.message}.` : `WebSocket could not connect (${err.message}).`,
  };
}

/**
 * What reached the portal of an upgrade that never opened: a record means the request arrived as plain HTTP, its
 * Upgrade or Connection header lost on the way (a reverse proxy that does not forward them).
 */
async function arrivedAs(attempt: string): Promise<{ upgrade: string; connection: string; httpProtocol: string } | null> {
  try {
    const response = await fetch(diag(`/diag/ws/attempt/${encodeURIComponent(attempt)}`), { cache: "no-store" });
    return response.ok ? (await response.json()) as { upgrade: string; connection: string; httpProtocol: string } : null;
  } catch {
    return null;
  }
}

/**
 * What answers a plain GET of the echo endpoint: the portal says 426 (it speaks WebSocket only). Anything else —
 * a proxy's 502, an HTML error page, no answer — is what stood in the way of the upgrade; null when it was the portal.
 */
async function plainAnswer(): Promise<AnswerEvidence | null> {
  const url = diag(`/diag/ws/echo?t=${Date.now()}`);
  const started = performance.now();
  try {
    const response = await fetch(url, { cache: "no-store" });
    if (response.status === 426 && response.headers.get("upgrade")?.toLowerCase() === "websocket") return null;
    return await evidenceOf(response, url, started);
  } catch (e) {
    return noAnswer(url, started, e);
  }
}

/** Handshake time, 20 echo round trips, and the code of a close the client starts. */
export const echoStep: Step<typeof Steps.wsEcho> = {
  name: Steps.wsEcho,
  needs: ["webSocket"],
  label: "WebSocket echo",
  timeoutMs: 10_000,
  async run(signal): Promise<StepOutcome<typeof Steps.wsEcho>> {
    const attempt = uuid();
    const url = `${echoUrl()}?attempt=${attempt}`;
    const started = performance.now();
    let openMs: number | null = null;
    const rtts: number[] = [];
    try {
      const ws = await open(diag(url), signal);
      openMs = round(performance.now() - started);
      for (let i = 0; i < 20; i++) rtts.push(await roundTrip(ws, `echo ${i} ${Date.now()}`, signal));
      const done = closed(ws, signal);
      ws.close(1000, "done");
      const closeCode = (await done)?.code ?? null;
      const s = summarize(rtts);
      const clean = closeCode === 1000;
      return {
        status: clean ? "pass" : "warn",
        metrics: { openMs, samples: rtts.length, rttMinMs: s.min, rttMedianMs: s.median, rttP90Ms: s.p90, rttMaxMs: s.max, jitterMs: s.jitter, closeCode },
        detail: { url },
        summary: clean
          ? `WebSocket works: opened in ${formatMs(openMs === null ? null : Math.round(openMs))}, echo ${formatMs(s.median)}.`
          : `WebSocket echoed, but closed with code ${closeCode ?? "unknown"}.`,
      };
    } catch (e) {
      const s = summarize(rtts);
      const outcome = failure(url, e, { openMs, samples: rtts.length, rttMinMs: s.min, rttMedianMs: s.median, rttP90Ms: s.p90, rttMaxMs: s.max }, openMs !== null);
      if (openMs === null) {
        const arrived = await arrivedAs(attempt);
        outcome.metrics.upgradeHeadersPresent = arrived ? 0 : null;
        if (arrived) {
          outcome.detail.arrivedAs = arrived;
          outcome.summary += ` The request reached the portal as plain ${arrived.httpProtocol}, without its Upgrade header: a proxy on the way does not forward WebSocket upgrades.`;
        } else {
          const answer = await plainAnswer();
          if (answer) outcome.detail.unexpected = answer;
        }
      }
      return outcome;
    }
  },
};

/** One variant of the echo on another scheme or port of the portal: did it open and echo? */
interface VariantOutcome {
  url: string;
  scheme: "ws" | "wss";
  /** False when the browser may not try this variant from this page. */
  tried: boolean;
  opened: boolean;
  openMs: number | null;
  rttMedianMs: number | null;
  error: string | null;
  closeCode: number | null;
}

/**
 * The echo on the portal's other schemes and ports (`ws://` versus `wss://`, another port): a transparent proxy
 * that breaks plain `ws://` but cannot see into `wss://`, or a firewall that allows one port only, shows up here.
 */
export function variantsStep(origins: readonly string[], skippedReason: string | null = null): Step<typeof Steps.wsVariants> {
  return {
    name: Steps.wsVariants,
    needs: ["webSocket"],
    label: "WebSocket on other schemes and ports",
    timeoutMs: 5_000 + origins.length * 5_000,
    async run(signal): Promise<StepOutcome<typeof Steps.wsVariants>> {
      if (origins.length === 0) {
        return skippedReason
          ? { status: "skipped", metrics: {}, detail: { reason: skippedReason }, summary: "Not tried: the portal's other schemes and ports are not reachable through the proxy in front of it." }
          : { status: "skipped", metrics: {}, detail: {}, summary: "The portal has no other scheme or port to test WebSockets on." };
      }
      const outcomes: VariantOutcome[] = [];
      for (const origin of origins) {
        const url = `${origin}/diag/ws/echo`;
        const scheme = origin.startsWith("wss:") ? "wss" : "ws";
        const outcome: VariantOutcome = { url, scheme, tried: true, opened: false, openMs: null, rttMedianMs: null, error: null, closeCode: null };
        outcomes.push(outcome);
        if (scheme === "ws" && location.protocol === "https:") {
          outcome.tried = false;
          outcome.error = "not tried: a page served over https may not open ws://";
          continue;
        }
        const started = performance.now();
        try {
          const ws = await open(diag(url), signal);
          outcome.opened = true;
          outcome.openMs = round(performance.now() - started);
          const rtts: number[] = [];
          for (let i = 0; i < 5; i++) rtts.push(await roundTrip(ws, `variant ${i}`, signal));
          outcome.rttMedianMs = summarize(rtts).median;
          ws.close(1000, "done");
        } catch (e) {
          outcome.error = e instanceof Error ? e.message : String(e);
          outcome.closeCode = e instanceof StepError ? e.closeCode : null;
        }
      }
      const tried = outcomes.filter((o) => o.tried);
      const ok = tried.filter((o) => o.rttMedianMs !== null);
      const bySchema = (scheme: string) => {
        const of = tried.filter((o) => o.scheme === scheme);
        return of.length === 0 ? null : of.every((o) => o.rttMedianMs !== null) ? 1 : 0;
      };
      const failed = tried.filter((o) => o.rttMedianMs === null).map((o) => o.url.replace("/diag/ws/echo", ""));
      return {
        status: tried.length === 0 ? "skipped" : failed.length === 0 ? "pass" : ok.length > 0 ? "warn" : "fail",
        metrics: { variants: outcomes.length, tried: tried.length, working: ok.length, wsOk: bySchema("ws"), wssOk: bySchema("wss") },
        detail: { variants: outcomes },
        summary: tried.length === 0
          ? "No other WebSocket scheme or port could be tried from this page."
          : failed.length === 0
            ? `WebSocket also works on ${ok.map((o) => o.url.replace("/diag/ws/echo", "")).join(", ")}.`
            : `WebSocket does not work on ${failed.join(", ")}.`,
      };
    },
  };
}

/** Incompressible bytes, filled 64 KiB at a time (getRandomValues' limit). */
export function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(i + 65536, size)));
  return bytes;
}

/**
 * How long to wait for one message's echo: 3 s plus 1 s per 64 KiB (1 MiB at about 1 Mbit/s each way). A proxy
 * that silently drops large messages then costs seconds, not the whole step.
 */
export function echoWaitMs(size: number): number {
  return 3_000 + Math.ceil(size / 65_536) * 1_000;
}

/** Text and binary messages of 1 KiB, 64 KiB and 1 MiB: the largest of each that came back. */
export const messagesStep: Step<typeof Steps.wsMessages> = {
  name: Steps.wsMessages,
  needs: ["webSocket"],
  label: "WebSocket message sizes",
  timeoutMs: 30_000,
  async run(signal): Promise<StepOutcome<typeof Steps.wsMessages>> {
    const url = echoUrl();
    const sizes = [1024, 64 * 1024, 1024 * 1024];
    const largest = { text: 0, binary: 0 };
    const failed: string[] = [];
    for (const kind of ["text", "binary"] as const) {
      let ws: WebSocket | null = null;
      for (const size of sizes) {
        try {
          ws ??= await open(diag(url), signal);
          const payload = kind === "text" ? "x".repeat(size) : randomBytes(size);
          await roundTrip(ws, payload, AbortSignal.any([signal, AbortSignal.timeout(echoWaitMs(size))]));
          largest[kind] = size;
        } catch (e) {
          failed.push(`${kind} ${size / 1024} KiB: ${e instanceof Error ? e.message : String(e)}`);
          ws?.close();
          ws = null;
          break;
        }
      }
      ws?.close(1000, "done");
    }
    const all = largest.text === sizes[2] && largest.binary === sizes[2];
    const small = largest.text >= 1024 && largest.binary >= 1024;
    return {
      status: all ? "pass" : small ? "warn" : "fail",
      metrics: { largestTextBytes: largest.text, largestBinaryBytes: largest.binary },
      detail: { url, failed },
      summary: all
        ? "WebSocket carries messages of every size tested, up to 1 MiB."
        : `WebSocket messages larger than ${Math.min(largest.text, largest.binary) / 1024} KiB did not get through.`,
    };
  },
};

/** A close started by the client and one started by the server: the codes the browser saw. */
export const closeStep: Step<typeof Steps.wsClose> = {
  name: Steps.wsClose,
  needs: ["webSocket"],
  label: "WebSocket closing",
  timeoutMs: 8_000,
  async run(signal): Promise<StepOutcome<typeof Steps.wsClose>> {
    const url = echoUrl();
    try {
      const a = await open(diag(url), signal);
      const clientSide = closed(a, signal);
      a.close(1000, "client done");
      const clientCode = (await clientSide)?.code ?? null;

      const b = await open(diag(url), signal);
      const serverSide = closed(b, signal);
      b.send("!close 4000 server done");
      const serverCode = (await serverSide)?.code ?? null;

      const ok = clientCode === 1000 && serverCode === 4000;
      return {
        status: ok ? "pass" : "warn",
        metrics: { clientCloseCode: clientCode, serverCloseCode: serverCode },
        detail: { url, expected: { client: 1000, server: 4000 } },
        summary: ok
          ? "WebSocket closes cleanly from both ends."
          : `WebSocket close codes were ${clientCode ?? "none"} (client) and ${serverCode ?? "none"} (server); 1005/1006 mean the close was lost on the way.`,
      };
    } catch (e) {
      return failure(url, e, {}, false);
    }
  },
};

/** Opens a socket, keeps it quiet for the session's idle time, then echoes: did it survive, and if not, for how long did it live? */
export function idleStep(idleSeconds: number): Step<typeof Steps.wsIdle> {
  return {
    name: Steps.wsIdle,
    needs: ["webSocket"],
    label: `WebSocket kept idle for ${idleSeconds} s`,
    timeoutMs: (idleSeconds + 15) * 1000,
    async run(signal): Promise<StepOutcome<typeof Steps.wsIdle>> {
      const url = echoUrl();
      const id = uuid();
      const started = performance.now();
      try {
        const ws = await open(diag(url), signal);
        // Timed on its own: a slow open here (after the throughput steps) is not part of the quiet period.
        const openMs = round(performance.now() - started);
        await roundTrip(ws, `!hello ${id}`, signal);
        const openedAt = Date.now();
        let clientClosedAt: number | null = null;
        let closeCode: number | null = null;
        ws.addEventListener("close", (e) => { clientClosedAt = Date.now(); closeCode = e.code; }, { once: true });
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, idleSeconds * 1000);
          ws.addEventListener("close", () => { clearTimeout(timer); resolve(); }, { once: true });
          signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
        });
        let survived = false;
        if (clientClosedAt === null) {
          try {
            await roundTrip(ws, "still there?", signal);
            survived = true;
            ws.close(1000, "done");
          } catch { /* it died just now */ }
        }
        const server = survived ? null : await serverRecord(id);
        const diedAfter = survived ? null : idleDeath(openedAt, clientClosedAt ?? Date.now(), server?.livedSeconds ?? null);
        return {
          status: survived ? "pass" : "fail",
          metrics: { idleSeconds, survived: survived ? 1 : 0, diedAfterSeconds: diedAfter, closeCode, serverLivedSeconds: server?.livedSeconds ?? null, openMs },
          detail: { url, serverSaw: server?.how ?? null },
          summary: survived
            ? `A quiet WebSocket survived ${idleSeconds} s.`
            : `A quiet WebSocket was cut after about ${diedAfter} s: something on the way closes idle connections.`,
        };
      } catch (e) {
        return failure(url, e, { idleSeconds }, false);
      }
    },
  };
}

async function serverRecord(id: string): Promise<{ livedSeconds: number | null; how: string | null } | null> {
  for (let i = 0; i < 10; i++) {
    const response = await fetch(diag(`/diag/ws/closed/${encodeURIComponent(id)}`), { cache: "no-store" });
    if (response.ok) {
      const body = (await response.json()) as { livedSeconds: number | null; how: string | null };
      if (body.livedSeconds !== null) return body;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return null;
}
