// SignalR with each transport forced on its own: which work, and the exact error of those that don't.
import { HttpTransportType, HubConnectionBuilder, LogLevel } from "@microsoft/signalr";
import type { Step, StepOutcome } from "../result";
import { HubMethods, Steps, type Metrics } from "../contract";

const transports = [
  ["webSockets", HttpTransportType.WebSockets],
  ["serverSentEvents", HttpTransportType.ServerSentEvents],
  ["longPolling", HttpTransportType.LongPolling],
] as const;

export function signalrStep(token: string): Step<typeof Steps.signalrTransports> {
  return {
    name: Steps.signalrTransports,
    label: "Real-time transports",
    timeoutMs: 20_000,
    async run(): Promise<StepOutcome<typeof Steps.signalrTransports>> {
      const metrics: Metrics<typeof Steps.signalrTransports> = {};
      const errors: Record<string, string> = {};
      for (const [name, transport] of transports) {
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
      const working = transports.filter(([name]) => !(name in errors)).map(([name]) => name);
      return {
        status: working.length === transports.length ? "pass" : working.length > 0 ? "warn" : "fail",
        metrics: { working: working.length, ...metrics },
        detail: { working, errors },
        summary: working.length === transports.length
          ? "All real-time transports work."
          : working.length > 0
            ? `Real-time works over ${working.join(", ")}; ${Object.keys(errors).join(", ")} failed.`
            : "No real-time transport works.",
      };
    },
  };
}
