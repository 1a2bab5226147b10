// The customer page: one button, a progress bar, each step's outcome in plain words, a verdict.
import { Reporter } from "./reporter";
import { setDiagKey } from "./diag";
import { Steps } from "./contract";
import { label, outcomeLine, setLanguage, t } from "./i18n";
import { runSteps, type RunView } from "./runner";
import type { Result, Step } from "./result";
import { encodeReport } from "./reportcode";
import { environmentStep } from "./steps/environment";
import { corsStep, downloadStep, longPollStep, pingStep, uploadStep } from "./steps/http";
import { signalrStep } from "./steps/signalr";
import { sseStep } from "./steps/sse";
import { targetsStep } from "./steps/targets";
import { closeStep, echoStep, idleStep, messagesStep, variantsStep } from "./steps/websocket";
import { turnStep } from "./steps/webrtc";

function el<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`missing #${id}`);
  return found as T;
}

/** The battery, in the order the customer sees it: quick answers first, the long idle wait last. */
export function battery(token: string, idleSeconds: number, targets: readonly string[], alternateOrigin: string | null, wsVariants: readonly string[] = [], originsSkipped: string | null = null, turnScript: string | null = null): Step[] {
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
    turnStep(turnScript),
    targetsStep(targets),
    idleStep(idleSeconds),
  ];
}

function main(): void {
  const token = decodeURIComponent(location.pathname.split("/")[2] ?? "");
  const body = document.body;
  setDiagKey(body.dataset.diagKey ?? "");
  setLanguage(body.dataset.lang ?? "en", body.dataset.strings ? (JSON.parse(body.dataset.strings) as Record<string, string>) : null);
  const idleSeconds = Number(body.dataset.idleSeconds ?? "75");
  const targets = JSON.parse(body.dataset.targets ?? "[]") as string[];
  const only = new URLSearchParams(location.search).get("steps")?.split(",");
  const wsVariants = JSON.parse(body.dataset.wsVariants ?? "[]") as string[];
  const steps = battery(token, idleSeconds, targets, body.dataset.altOrigin || null, wsVariants, body.dataset.originsSkipped || null, body.dataset.turnScript || null).filter((s) => !only || only.includes(s.name));
  const button = el<HTMLButtonElement>("run");
  const progress = el<HTMLProgressElement>("progress");
  const current = el<HTMLElement>("current");
  const list = el<HTMLOListElement>("steps");
  const verdict = el<HTMLElement>("verdict");
  const countdown = el<HTMLElement>("countdown");
  const announce = el<HTMLElement>("announce");
  let ticking: ReturnType<typeof setInterval> | null = null;
  // The page's clock resolution (the env step measures it): a shorter time reads "under 1 ms", never "0 ms".
  let resolution = 0.1;
  let failed = 0;
  const labelOf = (step: Step) => label(step.name, step.label, { seconds: idleSeconds });
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
      if (index === 0) failed = 0;
      current.textContent = t("run.running", { index: index + 1, total, step: labelOf(step) }, `Running ${index + 1} of ${total}: ${step.label}…`);
      if (step.name === Steps.wsIdle) {
        // The one long wait: say how long, and why, so nobody closes the page thinking it hangs.
        const endsAt = Date.now() + idleSeconds * 1000;
        const tick = () => {
          const left = Math.max(0, Math.ceil((endsAt - Date.now()) / 1000));
          countdown.textContent = t("run.countdown", { seconds: left }, `Checking that a quiet connection survives: ${left} s left. Most networks cut quiet connections after 30 to 120 s.`);
        };
        tick();
        countdown.hidden = false;
        ticking = setInterval(tick, 1000);
        announce.textContent = t("run.idleWait", { seconds: idleSeconds }, `The last step waits ${idleSeconds} seconds to check that a quiet connection survives.`);
      }
    },
    finished(step, outcome, resultId) {
      const item = document.createElement("li");
      item.className = `outcome ${outcome.status}`;
      item.dataset.step = step.name;
      item.dataset.status = outcome.status;
      item.dataset.resultId = resultId;
      if (step.name === Steps.env && typeof (outcome.metrics as Record<string, unknown>).timerResolutionMs === "number") {
        resolution = (outcome.metrics as Record<string, number>).timerResolutionMs ?? resolution;
      }
      if (outcome.status === "fail" || outcome.status === "error") failed++;
      item.textContent = `${labelOf(step)}: ${outcomeLine(step.name, outcome, resolution)}`;
      list.append(item);
      progress.value += 1;
      if (step.name === Steps.wsIdle) stopCountdown();
      announce.textContent = t("run.stepDone", { index: list.children.length, total: progress.max, outcome: item.textContent }, `Step ${list.children.length} of ${progress.max} done. ${item.textContent}`);
    },
    done(text, ok, runId, results) {
      stopCountdown();
      // The portal stores the English verdict; the customer reads it in their language.
      const shown = failed === 0 ? t("verdict.ok", {}, text) : t("verdict.problems", { failed, total: list.children.length }, text);
      current.textContent = t("run.finished", {}, "Finished.");
      announce.textContent = `${current.textContent} ${shown}`;
      verdict.textContent = shown;
      verdict.className = ok ? "verdict ok" : "verdict problem";
      verdict.hidden = false;
      button.disabled = false;
      button.textContent = t("run.again", {}, "Run test again");
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
