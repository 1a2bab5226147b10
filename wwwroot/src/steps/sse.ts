// Server-Sent Events: first event, arrival against send times (a buffering proxy shows as bursts), reconnect.
import { diag } from "../diag";
import type { Step, StepOutcome } from "../result";
import { Steps } from "../contract";
import { eventLag } from "../stats";
import { evidenceOf, noAnswer, type AnswerEvidence } from "../answer";

/** What a plain GET of the stream answers, when EventSource gave up without an event: evidence of who refused it. */
async function streamAnswer(url: string): Promise<AnswerEvidence | null> {
  const started = performance.now();
  const controller = new AbortController();
  try {
    const response = await fetch(url, { cache: "no-store", signal: controller.signal });
    if (response.ok && response.headers.get("content-type")?.startsWith("text/event-stream")) return null;
    return await evidenceOf(response, url, started);
  } catch (e) {
    return noAnswer(url, started, e);
  } finally {
    controller.abort();
  }
}

export const sseStep: Step<typeof Steps.sse> = {
  name: Steps.sse,
  needs: ["eventSource"],
  label: "Server-Sent Events",
  timeoutMs: 8_000,
  run(signal) {
    return new Promise<StepOutcome<typeof Steps.sse>>((resolve) => {
      const count = 10;
      const started = performance.now();
      const sent: number[] = [];
      const arrived: number[] = [];
      let firstEventMs: number | null = null;
      let endedAt: number | null = null;
      const url = diag(`/diag/sse?count=${count}&intervalMs=100&t=${Date.now()}`);
      const source = new EventSource(url);
      let finished = false;
      const finish = (reconnectMs: number | null, error: string | null, unexpected: AnswerEvidence | null = null) => {
        if (finished) return;
        finished = true;
        source.close();
        const lag = eventLag(sent, arrived);
        const complete = arrived.length === count;
        const buffered = lag.bursts >= 3 || (lag.maxLagMs ?? 0) > 500;
        resolve({
          status: !complete ? "fail" : buffered || reconnectMs === null ? "warn" : "pass",
          metrics: { events: arrived.length, expected: count, firstEventMs: firstEventMs === null ? null : Math.round(firstEventMs), maxLagMs: lag.maxLagMs, bursts: lag.bursts, reconnectMs },
          detail: { error, unexpected },
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
      source.onerror = () => {
        if (arrived.length === count) endedAt ??= performance.now();
        // EventSource gives up (CLOSED) on an answer that is not a stream: find out what answered instead.
        else if (source.readyState === EventSource.CLOSED && arrived.length === 0) void streamAnswer(url).then((answer) => finish(null, "the stream was refused", answer));
      };
      source.addEventListener("resumed", () => finish(endedAt === null ? null : Math.round(performance.now() - endedAt), null));
    });
  },
};
