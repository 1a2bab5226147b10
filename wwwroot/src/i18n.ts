// The customer page's words in the customer's language. The page carries one language's strings (data-strings on the
// body, English filled in for anything missing); with none, the page is English and the kit's own English summaries
// are shown as they are. What the portal stores (summaries, verdicts) stays English for the engineer.

import type { StepOutcome } from "./result";

let strings: Record<string, string> | null = null;
let lang = "en";

/** Sets the page's language and its strings (null: English, the kit's own words). */
export function setLanguage(code: string, table: Record<string, string> | null): void {
  lang = code || "en";
  strings = table;
}

/** Whether the page speaks another language than the kit's English. */
export function translated(): boolean {
  return strings !== null;
}

/** A string with its {placeholders} filled; numbers in the page's locale. */
export function t(key: string, values: Record<string, string | number> = {}, english = key): string {
  const text = strings?.[key] ?? english;
  return text.replace(/\{([a-zA-Z]+)\}/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) return whole;
    return typeof value === "number" ? new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }).format(value) : value;
  });
}

/** A duration for the customer, in their locale; below the clock's resolution it says so. */
export function ms(value: number | null | undefined, resolution: number): string {
  if (value === null || value === undefined) return "–";
  return value < resolution ? t("unit.underMs", { n: resolution }) : t("unit.ms", { n: value });
}

/** Step labels: the customer's words for each step. */
export function label(name: string, english: string, values: Record<string, string | number> = {}): string {
  return translated() ? t(`step.${name}`, values, english) : english;
}

/** The one-line outcome a customer reads: the step's figure when it passed, plain words otherwise. */
export function outcomeLine(name: string, outcome: StepOutcome, resolution: number): string {
  if (!translated()) return outcome.summary;
  const m = outcome.metrics as Record<string, number | null | undefined>;
  const detail = outcome.detail as Record<string, unknown>;
  if (outcome.status === "skipped") {
    return detail.unsupported ? t("out.unsupported", { browser: String(detail.browser ?? "") }) : t("out.skipped");
  }
  if (outcome.status === "error") return t("out.error");
  if (outcome.status === "fail") {
    // What failed, in plain words, where the customer can tell it to their IT team; the rest the engineer explains.
    switch (name) {
      case "ws.echo": return t("fail.ws.echo");
      case "sse": return t("fail.sse");
      case "ws.idle": return typeof m.diedAfterSeconds === "number" ? t("fail.ws.idle", { seconds: Math.round(m.diedAfterSeconds) }) : t("out.fail");
      case "webrtc.turn": return t("fail.webrtc.turn");
      default: return t("out.fail");
    }
  }
  if (outcome.status === "warn") {
    switch (name) {
      case "env": return typeof m.clockSkewMs === "number" ? t("warn.env", { seconds: Math.round(Math.abs(m.clockSkewMs) / 1000) }) : t("out.warn");
      case "ws.messages": return t("warn.ws.messages");
      case "sse": return typeof m.bursts === "number" && (m.bursts >= 3 || (m.maxLagMs ?? 0) > 500) ? t("warn.sse") : t("out.warn");
      case "http.upload": return typeof m.bodyLimitRefusedBytes === "number" ? t("warn.http.upload") : t("out.warn");
      case "webrtc.turn":
        if (m.udpReachable === 0 && (m.reachable ?? 0) > 0) return t("warn.webrtc.udp");
        return typeof m.lossPercent === "number" && m.lossPercent >= 1 ? t("warn.webrtc.loss", { loss: m.lossPercent }) : t("out.warn");
      default: return t("out.warn");
    }
  }
  switch (name) {
    case "env": return t("pass.env");
    case "http.ping": return t("pass.http.ping", { ms: ms(m.rttMedianMs, resolution) });
    case "ws.echo": return t("pass.ws.echo", { ms: ms(m.rttMedianMs, resolution) });
    case "sse": return t("pass.sse", { ms: ms(m.firstEventMs, resolution) });
    case "http.download": return t("pass.http.download", { mbps: m.mbps ?? 0 });
    case "http.upload": return t("pass.http.upload", { mbps: m.mbps ?? 0 });
    case "webrtc.turn": return t("pass.webrtc.turn", { loss: m.lossPercent ?? 0 });
    case "targets": return t("pass.targets", { count: m.targets ?? 0 });
    case "ws.idle": return t("pass.ws.idle", { seconds: m.idleSeconds ?? 0 });
    default: return t("out.pass");
  }
}
