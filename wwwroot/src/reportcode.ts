// The report code: when nothing reaches the portal, the run's key results compressed into a short text the customer
// can paste into an e-mail; an engineer pastes it into the console to import the run.
import type { Result } from "./result";

export const ReportCodePrefix = "P1.";

function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Encodes results as P1.<base64url(deflate-raw(JSON))>: ids, steps, statuses, numbers and times; no free text. */
export async function encodeReport(runId: string, results: readonly Result[]): Promise<string> {
  const compact = { r: runId, s: results.map((x) => [x.id, x.step, x.status, x.metrics, x.clientTime]) };
  const json = new TextEncoder().encode(JSON.stringify(compact));
  const stream = new Blob([json]).stream().pipeThrough(new CompressionStream("deflate-raw"));
  return ReportCodePrefix + base64url(new Uint8Array(await new Response(stream).arrayBuffer()));
}
