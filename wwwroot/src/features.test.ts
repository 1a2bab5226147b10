// A browser that lacks what a step needs gets the step skipped, in words naming the browser: never a failure.
import { test } from "node:test";
import assert from "node:assert/strict";
import { browserName, missingFeature } from "./features";
import { runOne } from "./runner";
import type { Step } from "./result";

test("the browser is named from its User-Agent", () => {
  assert.equal(browserName("Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"), "Firefox 153");
  assert.equal(browserName("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"), "Edge 131");
  assert.equal(browserName("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Safari/605.1.15"), "Safari 18");
  assert.equal(browserName("curl/8.5.0"), "This browser");
});

test("a step needing what the browser lacks is skipped, not run, and says it is not the network", async () => {
  // Node has no EventSource: it plays an old browser here.
  assert.equal(typeof (globalThis as { EventSource?: unknown }).EventSource, "undefined");
  let ran = false;
  const step: Step = { name: "sse", label: "Server-Sent Events", timeoutMs: 1_000, needs: ["eventSource"], run: async () => { ran = true; return { status: "pass", metrics: {}, detail: {}, summary: "" }; } };

  const outcome = await runOne(step);

  assert.equal(ran, false);
  assert.equal(outcome.status, "skipped");
  assert.equal(outcome.detail.unsupported, "EventSource (Server-Sent Events)");
  assert.match(outcome.summary, /cannot test this: it has no EventSource .* Not a problem of your network\./);
});

test("a step whose needs are met runs", async () => {
  assert.equal(missingFeature(["blob"]), null);
  const step: Step = { name: "http.upload", label: "Upload", timeoutMs: 1_000, needs: ["blob"], run: async () => ({ status: "pass", metrics: { mbps: 1 }, detail: {}, summary: "ran" }) };

  const outcome = await runOne(step);

  assert.equal(outcome.summary, "ran");
});
