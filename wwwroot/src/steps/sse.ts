// Server-Sent Events: first event, arrival against send times (a buffering proxy shows as bursts), reconnect.
import type { Step } from "../result";
import { eventLag } from "../stats";

export const sseStep: Step = {
  name: "sse",
  label: "Server-Sent Events",
  timeoutMs: 8_000,
  run(signal) {
    return new Promise((resolve) => {
      const count = 10;
      const started = performance.now();
      const sent: number[] = [];
      const arrived: number[] = [];
      let firstEventMs: number | null = null;
      let endedAt: number | null = null;
      const source = new EventSource(`/diag/sse?count=${count}&intervalMs=100&t=${Date.now()}`);
      const finish = (reconnectMs: number | null, error: string | null) => {
        source.close();
        const lag = eventLag(sent, arrived);
        const complete = arrived.length === count;
        const buffered = lag.bursts >= 3 || (lag.maxLagMs ?? 0) > 500;
        resolve({
          status: !complete ? "fail" : buffered || reconnectMs === null ? "warn" : "pass",
          metrics: { events: arrived.length, expected: count, firstEventMs: firstEventMs === null ? null : Math.round(firstEventMs), maxLagMs: lag.maxLagMs, bursts: lag.bursts, reconnectMs },
          detail: { error },
          summary: !complete
            ? `Server-Sent Events: only ${arrived.length} of ${count} events arrived.`
            : buffered
              ? "Server-Sent Events arrive late or in bursts: something on the way buffers them."
              : reconnectMs === null
                ? "Server-Sent Events work, but the stream did not reconnect."
                : `Server-Sent Events work: first event after ${Math.round(firstEventMs ?? 0)} ms.`,
        });
      };
      signal.addEventListener("abort", () => finish(null, "timed out"), { once: true });
      source.addEventListener("tick", (e) => {
        const now = performance.now();
        firstEventMs ??= now - started;
        const data = JSON.parse((e as MessageEvent<string>).data) as { serverTime: number };
        sent.push(data.serverTime);
        arrived.push(now);
      });
      // The server ends the stream after the last tick; EventSource reconnects with Last-Event-ID.
      source.onerror = () => { if (arrived.length === count) endedAt ??= performance.now(); };
      source.addEventListener("resumed", () => finish(endedAt === null ? null : Math.round(performance.now() - endedAt), null));
    });
  },
};
