// The customer page: one button, a progress bar, each step's outcome in plain words, a verdict.
import { Reporter } from "./reporter";
import { runSteps, type RunView } from "./runner";
import { echoStep } from "./steps/websocket";
import type { Step } from "./result";

const steps: Step[] = [echoStep];

function el<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`missing #${id}`);
  return found as T;
}

function main(): void {
  const token = decodeURIComponent(location.pathname.split("/")[2] ?? "");
  const button = el<HTMLButtonElement>("run");
  const progress = el<HTMLProgressElement>("progress");
  const current = el<HTMLElement>("current");
  const list = el<HTMLOListElement>("steps");
  const verdict = el<HTMLElement>("verdict");
  const reporter = new Reporter(token);
  const connected = reporter.connect();

  const view: RunView = {
    started(step, index, total) {
      progress.max = total;
      progress.value = index;
      current.textContent = `Running: ${step.label}…`;
    },
    finished(step, outcome) {
      const item = document.createElement("li");
      item.className = `outcome ${outcome.status}`;
      item.dataset.step = step.name;
      item.textContent = `${step.label}: ${outcome.summary}`;
      list.append(item);
      progress.value += 1;
    },
    done(text, ok) {
      current.textContent = "Finished.";
      verdict.textContent = text;
      verdict.className = ok ? "verdict ok" : "verdict problem";
      verdict.hidden = false;
      button.disabled = false;
      button.textContent = "Run test again";
      document.body.dataset.state = "done";
      document.body.dataset.transport = reporter.transport;
    },
  };

  button.addEventListener("click", async () => {
    button.disabled = true;
    list.replaceChildren();
    verdict.hidden = true;
    document.body.dataset.state = "running";
    await connected;
    await runSteps(steps, reporter, view);
  });
  button.disabled = false;
}

main();
