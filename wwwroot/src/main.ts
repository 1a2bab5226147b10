// The customer page: one button, a progress bar, each step's outcome in plain words, a verdict.
import { Reporter } from "./reporter";
import { setDiagKey } from "./diag";
import { Steps } from "./contract";
import { runSteps, type RunView } from "./runner";
import type { Result, Step } from "./result";
import { encodeReport } from "./reportcode";
import { environmentStep } from "./steps/environment";
import { corsStep, downloadStep, longPollStep, pingStep, uploadStep } from "./steps/http";
import { signalrStep } from "./steps/signalr";
import { sseStep } from "./steps/sse";
import { targetsStep } from "./steps/targets";
import { closeStep, echoStep, idleStep, messagesStep, variantsStep } from "./steps/websocket";

function el<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`missing #${id}`);
  return found as T;
}

/** The battery, in the order the customer sees it: quick answers first, the long idle wait last. */
export function battery(token: string, idleSeconds: number, targets: readonly string[], alternateOrigin: string | null, wsVariants: readonly string[] = [], originsSkipped: string | null = null): Step[] {
  return [
    environmentStep,
    pingStep,
    corsStep(alternateOrigin, originsSkipped),
    echoStep,
    messagesStep,
    closeStep,
    variantsStep(wsVariants, originsSkipped),
    sseStep,
    longPollStep,
    signalrStep(token),
    downloadStep,
    uploadStep,
    targetsStep(targets),
    idleStep(idleSeconds),
  ];
}

function main(): void {
  const token = decodeURIComponent(location.pathname.split("/")[2] ?? "");
  const body = document.body;
  setDiagKey(body.dataset.diagKey ?? "");
  const idleSeconds = Number(body.dataset.idleSeconds ?? "75");
  const targets = JSON.parse(body.dataset.targets ?? "[]") as string[];
  const only = new URLSearchParams(location.search).get("steps")?.split(",");
  const wsVariants = JSON.parse(body.dataset.wsVariants ?? "[]") as string[];
  const steps = battery(token, idleSeconds, targets, body.dataset.altOrigin || null, wsVariants, body.dataset.originsSkipped || null).filter((s) => !only || only.includes(s.name));
  const button = el<HTMLButtonElement>("run");
  const progress = el<HTMLProgressElement>("progress");
  const current = el<HTMLElement>("current");
  const list = el<HTMLOListElement>("steps");
  const verdict = el<HTMLElement>("verdict");
  const countdown = el<HTMLElement>("countdown");
  const announce = el<HTMLElement>("announce");
  let ticking: ReturnType<typeof setInterval> | null = null;
  const stopCountdown = () => {
    if (ticking !== null) clearInterval(ticking);
    ticking = null;
    countdown.hidden = true;
  };
  const reporter = new Reporter(token);
  const connected = reporter.connect();
  let running = false;

  const view: RunView = {
    started(step, index, total) {
      progress.max = total;
      progress.value = index;
      current.textContent = `Running ${index + 1} of ${total}: ${step.label}…`;
      if (step.name === Steps.wsIdle) {
        // The one long wait: say how long, and why, so nobody closes the page thinking it hangs.
        const endsAt = Date.now() + idleSeconds * 1000;
        const tick = () => {
          const left = Math.max(0, Math.ceil((endsAt - Date.now()) / 1000));
          countdown.textContent = `Checking that a quiet connection survives: ${left} s left. Most networks cut quiet connections after 30 to 120 s.`;
        };
        tick();
        countdown.hidden = false;
        ticking = setInterval(tick, 1000);
        announce.textContent = `The last step waits ${idleSeconds} seconds to check that a quiet connection survives.`;
      }
    },
    finished(step, outcome, resultId) {
      const item = document.createElement("li");
      item.className = `outcome ${outcome.status}`;
      item.dataset.step = step.name;
      item.dataset.status = outcome.status;
      item.dataset.resultId = resultId;
      item.textContent = `${step.label}: ${outcome.summary}`;
      list.append(item);
      progress.value += 1;
      if (step.name === Steps.wsIdle) stopCountdown();
      announce.textContent = `Step ${list.children.length} of ${progress.max} done. ${item.textContent}`;
    },
    done(text, ok, runId, results) {
      stopCountdown();
      current.textContent = "Finished.";
      announce.textContent = `Finished. ${text}`;
      verdict.textContent = text;
      verdict.className = ok ? "verdict ok" : "verdict problem";
      verdict.hidden = false;
      button.disabled = false;
      button.textContent = "Run test again";
      body.dataset.state = "done";
      body.dataset.transport = reporter.transport;
      if (reporter.pending > 0 && reporter.transport === "none") void showReportCode(runId, results);
    },
  };

  /** Nothing reached the portal: offer the results as a code to paste into an e-mail. */
  const showReportCode = async (runId: string, results: readonly Result[]) => {
    const box = el<HTMLElement>("report");
    const code = el<HTMLTextAreaElement>("report-code");
    code.value = await encodeReport(runId, results);
    box.hidden = false;
  };

  const run = async () => {
    if (running) return;
    running = true;
    button.disabled = true;
    list.replaceChildren();
    verdict.hidden = true;
    body.dataset.state = "running";
    body.dataset.runs = String(Number(body.dataset.runs ?? "0") + 1);
    try {
      await connected;
      await runSteps(steps, reporter, view);
    } finally {
      running = false;
    }
  };

  button.addEventListener("click", () => void run());
  reporter.onRunAgain(() => void run());
  addEventListener("pagehide", () => reporter.beacon());
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") reporter.beacon(); });
  button.disabled = false;
}

main();
