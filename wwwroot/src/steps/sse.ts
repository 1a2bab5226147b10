// Server-Sent Events: first event, arrival against send times (a buffering proxy shows as bursts), reconnect.
import { diag } from "../diag";
import type { Step, StepOutcome } from "../result";
import { Steps } from "../contract";
import { eventLag, watchStalls } from "../stats";
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

interface Stream {
  arrived: number;
  firstEventMs: number | null;
  lag: ReturnType<typeof eventLag>;
  reconnectMs: number | null;
  error: string | null;
  unexpected: AnswerEvidence | null;
}

const count = 10;
const isBuffered = (lag: Stream["lag"]) => lag.bursts >= 3 || (lag.maxLagMs ?? 0) > 500;

/** One stream of `count` ticks 100 ms apart, then the reconnect EventSource makes with Last-Event-ID. */
function streamOnce(signal: AbortSignal): Promise<Stream> {
  return new Promise<Stream>((resolve) => {
    const started = performance.now();
    const stalls = watchStalls();
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
      resolve({ arrived: arrived.length, firstEventMs, lag: eventLag(sent, arrived, stalls()), reconnectMs, error, unexpected });
    };
    if (signal.aborted) finish(null, "timed out");
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
}

export const sseStep: Step<typeof Steps.sse> = {
  name: Steps.sse,
  needs: ["eventSource"],
  label: "Server-Sent Events",
  timeoutMs: 8_000,
  async run(signal) {
    // A proxy that buffers does so every time; a moment when this machine was too busy to take the events does not
    // repeat. So a stream that looks buffered is streamed once more, and the better of the two is the answer.
    let stream = await streamOnce(signal);
    let attempts = 1;
    if (stream.arrived === count && isBuffered(stream.lag) && !signal.aborted) {
      const again = await streamOnce(signal);
      attempts = 2;
      if (again.arrived === count && !isBuffered(again.lag)) stream = again;
    }
    const { lag, reconnectMs, firstEventMs } = stream;
    const complete = stream.arrived === count;
    const buffered = isBuffered(lag);
    return {
      status: !complete ? "fail" : buffered || reconnectMs === null ? "warn" : "pass",
      metrics: {
        events: stream.arrived, expected: count, firstEventMs: firstEventMs === null ? null : Math.round(firstEventMs), maxLagMs: lag.maxLagMs,
        bursts: lag.bursts, heldByPage: lag.heldByPage, attempts, reconnectMs,
      },
      detail: { error: stream.error, unexpected: stream.unexpected },
      summary: !complete
        ? `Server-Sent Events: only ${stream.arrived} of ${count} events arrived.`
        : buffered
          ? `Server-Sent Events arrive late or in bursts${attempts > 1 ? ", twice in a row" : ""}: something on the way buffers them.`
          : reconnectMs === null
            ? "Server-Sent Events work, but the stream did not reconnect."
            : `Server-Sent Events work: first event after ${Math.round(firstEventMs ?? 0)} ms.`,
    };
  },
};
