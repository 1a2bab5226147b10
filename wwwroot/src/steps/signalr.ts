// SignalR with each transport forced on its own: which work, and the exact error of those that don't.
import { HttpTransportType, HubConnectionBuilder, LogLevel } from "@microsoft/signalr";
import type { Step, StepOutcome } from "../result";
import { HubMethods, Steps, type Metrics } from "../contract";
import { Features, type Feature } from "../features";

const transports = [
  ["webSockets", HttpTransportType.WebSockets, "webSocket"],
  ["serverSentEvents", HttpTransportType.ServerSentEvents, "eventSource"],
  ["longPolling", HttpTransportType.LongPolling, null],
] as const satisfies readonly (readonly [string, HttpTransportType, Feature | null])[];

export function signalrStep(token: string): Step<typeof Steps.signalrTransports> {
  return {
    name: Steps.signalrTransports,
    label: "Real-time transports",
    timeoutMs: 20_000,
    async run(): Promise<StepOutcome<typeof Steps.signalrTransports>> {
      const metrics: Metrics<typeof Steps.signalrTransports> = {};
      const errors: Record<string, string> = {};
      // A transport this browser lacks is not tried: it cannot fail on the network.
      const unsupported = transports.filter(([, , feature]) => feature !== null && !Features[feature].present()).map(([name]) => name);
      for (const [name, transport] of transports) {
        if ((unsupported as readonly string[]).includes(name)) continue;
        const hub = new HubConnectionBuilder()
          .withUrl("/hubs/run", { transport, accessTokenFactory: () => token })
          .configureLogging(LogLevel.None)
          .build();
        const started = performance.now();
        try {
          await hub.start();
          await hub.invoke(HubMethods.ping);
          metrics[`${name}Ms` as const] = Math.round(performance.now() - started);
        } catch (e) {
          metrics[`${name}Ms` as const] = null;
          errors[name] = e instanceof Error ? e.message : String(e);
        } finally {
          await hub.stop().catch(() => undefined);
        }
      }
      const tried = transports.filter(([name]) => !(unsupported as readonly string[]).includes(name));
      const working = tried.filter(([name]) => !(name in errors)).map(([name]) => name);
      return {
        status: working.length === tried.length ? "pass" : working.length > 0 ? "warn" : "fail",
        metrics: { working: working.length, ...metrics },
        detail: { working, errors, unsupported },
        summary: working.length === tried.length
          ? (unsupported.length === 0 ? "All real-time transports work." : `Every real-time transport this browser has works (it has no ${unsupported.join(", ")}).`)
          : working.length > 0
            ? `Real-time works over ${working.join(", ")}; ${Object.keys(errors).join(", ")} failed.`
            : "No real-time transport works.",
      };
    },
  };
}
