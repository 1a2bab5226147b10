// WebSocket steps, against the portal's own echo endpoint.
import type { Step, StepOutcome } from "../result";
import { summarize } from "../stats";

/** The URL of the portal's echo endpoint, on the scheme and host the page came from. */
export function echoUrl(): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/diag/ws/echo`;
}

/** Opens a socket, resolving when it opens and rejecting with the close code when it never does. */
function open(url: string, signal: AbortSignal): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    if (typeof WebSocket === "undefined") {
      reject(new StepError("WebSocket is not available in this browser", null));
      return;
    }
    const ws = new WebSocket(url);
    const abort = () => { ws.close(); reject(new StepError("timed out while opening", null)); };
    signal.addEventListener("abort", abort, { once: true });
    ws.onopen = () => { signal.removeEventListener("abort", abort); resolve(ws); };
    ws.onclose = (e) => { signal.removeEventListener("abort", abort); reject(new StepError("closed before it opened", e.code)); };
  });
}

/** Sends one message and waits for its echo; resolves with the round trip in ms. */
function roundTrip(ws: WebSocket, payload: string, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const cleanup = () => {
      ws.removeEventListener("message", onMessage);
      ws.removeEventListener("close", onClose);
      signal.removeEventListener("abort", onAbort);
    };
    const onMessage = (e: MessageEvent) => {
      if (e.data !== payload) return;
      cleanup();
      resolve(performance.now() - started);
    };
    const onClose = (e: CloseEvent) => { cleanup(); reject(new StepError("closed during the echo", e.code)); };
    const onAbort = () => { cleanup(); reject(new StepError("timed out waiting for an echo", null)); };
    ws.addEventListener("message", onMessage);
    ws.addEventListener("close", onClose);
    signal.addEventListener("abort", onAbort, { once: true });
    ws.send(payload);
  });
}

/** Closes the socket from the client side and resolves with the close code the browser saw. */
function close(ws: WebSocket, signal: AbortSignal): Promise<number | null> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) { resolve(null); return; }
    const onAbort = () => resolve(null);
    signal.addEventListener("abort", onAbort, { once: true });
    ws.addEventListener("close", (e) => { signal.removeEventListener("abort", onAbort); resolve(e.code); }, { once: true });
    ws.close(1000, "done");
  });
}

export class StepError extends Error {
  constructor(message: string, readonly closeCode: number | null) { super(message); }
}

/** Echo: time to open, 10 round trips, the close code. */
export const echoStep: Step = {
  name: "ws.echo",
  label: "WebSocket echo",
  timeoutMs: 10_000,
  async run(signal): Promise<StepOutcome> {
    const url = echoUrl();
    const started = performance.now();
    let openMs: number | null = null;
    const rtts: number[] = [];
    try {
      const ws = await open(url, signal);
      openMs = performance.now() - started;
      for (let i = 0; i < 10; i++) {
        rtts.push(await roundTrip(ws, `echo ${i} ${Date.now()}`, signal));
      }
      const closeCode = await close(ws, signal);
      const s = summarize(rtts);
      const clean = closeCode === 1000;
      return {
        status: clean ? "pass" : "warn",
        metrics: { openMs: Math.round(openMs * 10) / 10, samples: rtts.length, rttMinMs: s.min, rttMedianMs: s.median, rttMaxMs: s.max, closeCode },
        detail: { url },
        summary: clean
          ? `WebSocket works: opened in ${Math.round(openMs)} ms, echo ${s.median} ms.`
          : `WebSocket echoed, but closed with code ${closeCode ?? "unknown"}.`,
      };
    } catch (e) {
      const err = e instanceof StepError ? e : new StepError(String(e), null);
      const s = summarize(rtts);
      return {
        status: "fail",
        metrics: { openMs: openMs === null ? null : Math.round(openMs * 10) / 10, samples: rtts.length, rttMinMs: s.min, rttMedianMs: s.median, rttMaxMs: s.max, closeCode: err.closeCode },
        detail: { url, error: err.message },
        summary: openMs === null ? `WebSocket could not connect (${err.message}).` : `WebSocket opened but ${err.message}.`,
      };
    }
  },
};
