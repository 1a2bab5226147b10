// The shape of a result, shared by the steps, the runner and the reporter.

export type Status = "pass" | "warn" | "fail" | "error" | "skipped";

/** What a step returns: its numbers and words, before the runner gives it ids and a time. */
export interface StepOutcome {
  status: Status;
  metrics: Record<string, number | null>;
  detail: Record<string, unknown>;
  /** One plain sentence for the customer. */
  summary: string;
}

/** A result as the portal stores it. */
export interface Result {
  id: string;
  runId: string;
  step: string;
  status: Status;
  metrics: Record<string, number | null>;
  detail: Record<string, unknown>;
  clientTime: string;
}

/** A test step: a name the portal knows, a label the customer reads, a function that measures. */
export interface Step {
  name: string;
  label: string;
  timeoutMs: number;
  run(signal: AbortSignal): Promise<StepOutcome>;
}
