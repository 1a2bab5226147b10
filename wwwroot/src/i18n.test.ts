// Unit tests of the customer's one-line outcomes in the customer's language (npm test).
import { test } from "node:test";
import assert from "node:assert/strict";
import { outcomeLine, setLanguage } from "./i18n";
import type { StepOutcome } from "./result";

const german: Record<string, string> = {
  "out.fail": "Hat hier nicht funktioniert.",
  "out.warn": "Funktioniert, mit einem Problem.",
  "fail.ws.echo": "Live-Verbindungen kommen nicht durch.",
  "fail.ws.idle": "Nach {seconds} s geschlossen.",
  "warn.sse": "Verspätet oder gebündelt.",
  "warn.http.upload": "Große Uploads abgelehnt.",
  "warn.ws.messages": "Große Nachrichten nicht.",
};

const outcome = (status: StepOutcome["status"], metrics: Record<string, number | null> = {}): StepOutcome =>
  ({ status, metrics, detail: {}, summary: "the kit's English" }) as unknown as StepOutcome;

test("without a translation the kit's own English summary is shown", () => {
  setLanguage("en", null);
  assert.equal(outcomeLine("ws.echo", outcome("fail"), 0.1), "the kit's English");
});

test("a failed or warned step names its cause in the customer's language where the customer can act on it", () => {
  setLanguage("de", german);
  assert.equal(outcomeLine("ws.echo", outcome("fail"), 0.1), "Live-Verbindungen kommen nicht durch.");
  assert.equal(outcomeLine("ws.idle", outcome("fail", { diedAfterSeconds: 59.6 }), 0.1), "Nach 60 s geschlossen.");
  assert.equal(outcomeLine("sse", outcome("warn", { bursts: 9, maxLagMs: 0 }), 0.1), "Verspätet oder gebündelt.");
  assert.equal(outcomeLine("http.upload", outcome("warn", { bodyLimitRefusedBytes: 1_048_576 }), 0.1), "Große Uploads abgelehnt.");
  assert.equal(outcomeLine("ws.messages", outcome("warn"), 0.1), "Große Nachrichten nicht.");
});

test("without the figure that names the cause the line stays general, never a wrong cause", () => {
  setLanguage("de", german);
  // A quiet socket that never opened was not cut after some seconds.
  assert.equal(outcomeLine("ws.idle", outcome("fail", { diedAfterSeconds: null }), 0.1), "Hat hier nicht funktioniert.");
  // An SSE step that warned only because the stream did not reconnect is not "late or in bursts".
  assert.equal(outcomeLine("sse", outcome("warn", { bursts: 0, maxLagMs: 3 }), 0.1), "Funktioniert, mit einem Problem.");
  assert.equal(outcomeLine("http.upload", outcome("warn"), 0.1), "Funktioniert, mit einem Problem.");
  assert.equal(outcomeLine("http.download", outcome("fail"), 0.1), "Hat hier nicht funktioniert.");
});
