// The shape of a result, shared by the steps, the runner and the reporter. Names and metric keys come from the
// generated contract (src/contract.ts), so a step that writes a key the portal does not know fails to compile.
import type { Detail, Metrics, Status, StepName } from "./contract";
import type { Feature } from "./features";

export type { Status } from "./contract";

/** What a step returns: its numbers and words, before the runner gives it ids and a time. */
export interface StepOutcome<S extends StepName = StepName> {
  status: Status;
  metrics: Metrics<S>;
  detail: Detail<S>;
  /** One plain sentence for the customer. */
  summary: string;
}

/** A result as the portal stores it. */
export interface Result {
  id: string;
  runId: string;
  step: StepName;
  status: Status;
  metrics: Metrics;
  detail: Detail;
  clientTime: string;
}

/** A test step: a name the portal knows, a label the customer reads, a function that measures. */
export interface Step<S extends StepName = StepName> {
  name: S;
  label: string;
  timeoutMs: number;
  /** What the step needs from the browser; without it the step is skipped as "this browser cannot test it". */
  needs?: readonly Feature[];
  run(signal: AbortSignal): Promise<StepOutcome<S>>;
}
