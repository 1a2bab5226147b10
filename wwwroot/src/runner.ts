// Runs the steps in order, each with its own time-out; a step that fails or hangs never stops the next.
import type { Result, Step, StepOutcome } from "./result";
import { uuid } from "./ids";
import type { Reporter } from "./reporter";
import { UnexpectedAnswer, describe } from "./answer";
import { browserName, missingFeature } from "./features";

export interface RunView {
  started(step: Step, index: number, total: number): void;
  finished(step: Step, outcome: StepOutcome, resultId: string): void;
  done(verdict: string, ok: boolean, runId: string, results: readonly Result[]): void;
}

export async function runSteps(steps: readonly Step[], reporter: Reporter, view: RunView): Promise<void> {
  const runId = uuid();
  const outcomes: StepOutcome[] = [];
  const results: Result[] = [];
  // The portal records what it sees of this page's own connection (address, proxy headers, protocol) with the run.
  void reporter.send({ kind: "observe", runId, id: uuid() });
  for (const [i, step] of steps.entries()) {
    view.started(step, i, steps.length);
    const started = performance.now();
    const outcome = await runOne(step);
    const durationMs = Math.round(performance.now() - started);
    outcomes.push(outcome);
    const result: Result = {
      id: uuid(),
      runId,
      step: step.name,
      status: outcome.status,
      metrics: { ...outcome.metrics, durationMs },
      detail: { ...outcome.detail, summary: outcome.summary },
      clientTime: new Date().toISOString(),
    };
    results.push(result);
    view.finished(step, outcome, result.id);
    await reporter.send({ kind: "result", result });
  }
  const failed = outcomes.filter((o) => o.status === "fail" || o.status === "error").length;
  const verdict = failed === 0
    ? "All tests passed. Your engineer can see the results now."
    : `${failed} of ${outcomes.length} tests found a problem. Your engineer can see the details now.`;
  await reporter.send({ kind: "complete", runId, verdict });
  view.done(verdict, failed === 0, runId, results);
}

export async function runOne(step: Step): Promise<StepOutcome> {
  const missing = missingFeature(step.needs);
  if (missing !== null) {
    const browser = browserName(globalThis.navigator?.userAgent ?? "");
    return {
      status: "skipped",
      metrics: {},
      detail: { unsupported: missing, browser, reason: "browser" },
      summary: `${browser} cannot test this: it has no ${missing}. Not a problem of your network.`,
    };
  }
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  // A step that misses its abort (a message a proxy swallowed, a socket that never answers) still ends on time.
  const late = new Promise<StepOutcome>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      setTimeout(() => resolve({ status: "error", metrics: {}, detail: { error: "timed out" }, summary: `The test did not finish within ${step.timeoutMs / 1000} s.` }), 1_000);
    }, step.timeoutMs);
  });
  try {
    return await Promise.race([step.run(controller.signal), late]);
  } catch (e) {
    return failedOutcome(e);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What a step that threw becomes: an answer it did not expect is evidence (status, headers, the body's first bytes);
 * anything else keeps its exception text in the detail. The summary is plain words either way, never the exception.
 */
export function failedOutcome(e: unknown): StepOutcome {
  if (e instanceof UnexpectedAnswer) {
    return {
      status: "fail",
      metrics: { answerStatus: e.evidence.status },
      detail: { unexpected: e.evidence, error: e.message },
      summary: `The test met an answer it did not expect: ${describe(e.evidence)}.`,
    };
  }
  return { status: "error", metrics: {}, detail: { error: String(e) }, summary: "The test stopped in the browser before it finished." };
}
