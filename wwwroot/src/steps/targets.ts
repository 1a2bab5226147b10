// The session's own targets: the customer's wss:// and https:// endpoints, tried from the customer's network.
import type { Step, StepOutcome } from "../result";
import { Steps } from "../contract";
import { open } from "./websocket";

export function targetsStep(targets: readonly string[]): Step<typeof Steps.targets> {
  return {
    name: Steps.targets,
    label: "Your own services",
    timeoutMs: 10_000 + targets.length * 5_000,
    async run(signal): Promise<StepOutcome<typeof Steps.targets>> {
      const rows: { target: string; ok: boolean; ms: number | null; error: string | null }[] = [];
      for (const target of targets) {
        const started = performance.now();
        try {
          if (target.startsWith("ws")) {
            const ws = await open(target, AbortSignal.any([signal, AbortSignal.timeout(5_000)]));
            ws.close(1000, "done");
          } else {
            await fetch(target, { mode: "no-cors", cache: "no-store", credentials: "omit", signal: AbortSignal.any([signal, AbortSignal.timeout(5_000)]) });
          }
          rows.push({ target, ok: true, ms: Math.round(performance.now() - started), error: null });
        } catch (e) {
          rows.push({ target, ok: false, ms: null, error: e instanceof Error ? e.message : String(e) });
        }
      }
      const failed = rows.filter((r) => !r.ok);
      if (targets.length === 0) {
        return { status: "skipped", metrics: { targets: 0 }, detail: {}, summary: "No services of your own to test." };
      }
      return {
        status: failed.length === 0 ? "pass" : "fail",
        metrics: { targets: rows.length, reachable: rows.length - failed.length },
        detail: { rows },
        summary: failed.length === 0
          ? `All ${rows.length} of your services answered.`
          : `${failed.length} of ${rows.length} of your services could not be reached.`,
      };
    },
  };
}
