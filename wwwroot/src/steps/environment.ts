// The customer's browser and its clock.
import { diag } from "../diag";
import type { Step, StepOutcome } from "../result";
import { Steps } from "../contract";
import { timerResolutionMs } from "../stats";

interface NetworkInformation { effectiveType?: string; downlink?: number; rtt?: number; saveData?: boolean; type?: string }

export const environmentStep: Step<typeof Steps.env> = {
  name: Steps.env,
  label: "Browser and clock",
  timeoutMs: 5_000,
  async run(signal): Promise<StepOutcome<typeof Steps.env>> {
    const t0 = Date.now();
    const response = await fetch(diag("/diag/time"), { cache: "no-store", signal });
    const t1 = Date.now();
    const { serverTime } = (await response.json()) as { serverTime: number };
    // The server read its clock half-way through the round trip, give or take half of it.
    const skewMs = Math.round(t0 + (t1 - t0) / 2 - serverTime);
    const connection = (navigator as Navigator & { connection?: NetworkInformation }).connection;
    const skewed = Math.abs(skewMs) > 120_000;
    return {
      status: skewed ? "warn" : "pass",
      metrics: {
        clockSkewMs: skewMs,
        clockUncertaintyMs: Math.round((t1 - t0) / 2),
        screenWidth: screen.width,
        screenHeight: screen.height,
        devicePixelRatio: window.devicePixelRatio,
        downlinkMbps: connection?.downlink ?? null,
        effectiveRttMs: connection?.rtt ?? null,
        timerResolutionMs: timerResolutionMs(),
      },
      detail: {
        userAgent: navigator.userAgent,
        platform: navigator.platform,
        languages: [...navigator.languages],
        timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
        cookiesEnabled: navigator.cookieEnabled,
        effectiveType: connection?.effectiveType ?? null,
        online: navigator.onLine,
        crossOriginIsolated: globalThis.crossOriginIsolated ?? false,
        // The language the customer read the page in (the engineer's console says so).
        pageLanguage: document.documentElement.lang || "en",
      },
      summary: skewed
        ? `Your computer's clock is off by ${Math.round(skewMs / 1000)} s.`
        : "Browser details recorded; your clock is right.",
    };
  },
};
