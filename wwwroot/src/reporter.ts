// Sends results to the portal and never loses one: every message waits in localStorage until the portal
// acknowledges it. SignalR first (WebSockets, then Server-Sent Events, then long polling), then a plain
// fetch POST when SignalR cannot connect at all. Ingest is idempotent on the result id, so sending a
// message twice is harmless; dropping one is not.
import { HttpTransportType, HubConnection, HubConnectionBuilder, HubConnectionState, LogLevel } from "@microsoft/signalr";
import type { Result } from "./result";
import { ClientMethods, HubMethods } from "./contract";

export type Message =
  | { kind: "result"; result: Result }
  | { kind: "observe"; runId: string; id: string }
  | { kind: "complete"; runId: string; verdict: string };

interface Ack { id: string; stored: boolean; transport: string }

const key = (token: string) => `portal.outbox.${token.slice(0, 12)}`;

/** The messages not yet acknowledged, in the order they were made. */
class Outbox {
  private items: Message[];
  constructor(private readonly storageKey: string) {
    this.items = Outbox.load(storageKey);
  }
  private static load(k: string): Message[] {
    try { return JSON.parse(localStorage.getItem(k) ?? "[]") as Message[]; } catch { return []; }
  }
  private save(): void {
    try { localStorage.setItem(this.storageKey, JSON.stringify(this.items)); } catch { /* storage full or blocked: keep in memory */ }
  }
  add(m: Message): void { this.items.push(m); this.save(); }
  peek(): Message | undefined { return this.items[0]; }
  waiting(): readonly Message[] { return this.items; }
  remove(m: Message): void { this.items = this.items.filter((x) => x !== m); this.save(); }
  get size(): number { return this.items.length; }
}

export class Reporter {
  private readonly outbox: Outbox;
  private hub: HubConnection | null = null;
  private flushing: Promise<void> | null = null;
  private runAgain: () => void = () => undefined;
  /** How the last message reached the portal: websockets, serversentevents, longpolling or http. */
  transport = "none";

  constructor(private readonly token: string) {
    this.outbox = new Outbox(key(token));
  }

  /** Connects to the hub; resolves whether or not it could, since the fetch fallback remains. */
  async connect(): Promise<void> {
    const hub = new HubConnectionBuilder()
      .withUrl("/hubs/run", {
        transport: HttpTransportType.WebSockets | HttpTransportType.ServerSentEvents | HttpTransportType.LongPolling,
        accessTokenFactory: () => this.token,
      })
      .withAutomaticReconnect()
      .withStatefulReconnect()
      .configureLogging(LogLevel.None)
      .build();
    hub.onreconnected(() => void this.flush());
    hub.on(ClientMethods.runAgain, () => this.runAgain());
    try {
      await hub.start();
      this.hub = hub;
    } catch {
      this.hub = null;
    }
    await this.flush();
  }

  /** Calls `handler` when an engineer asks this page to run the test again. */
  onRunAgain(handler: () => void): void { this.runAgain = handler; }

  /**
   * Hands whatever is still waiting to the browser as beacons when the page is being hidden or closed. A beacon
   * gets no acknowledgement, so the messages stay in the outbox; if they did arrive, sending them again later is
   * harmless.
   */
  beacon(): void {
    if (typeof navigator.sendBeacon !== "function") return;
    for (const m of this.outbox.waiting().slice(0, 50)) {
      const [path, body] = this.route(m);
      navigator.sendBeacon(`/api/runs/${encodeURIComponent(this.token)}/${path}`, JSON.stringify(body));
    }
  }

  /** Queues a message and tries to deliver everything that is waiting. */
  async send(m: Message): Promise<void> {
    this.outbox.add(m);
    await this.flush();
  }

  /** The number of messages still waiting for an acknowledgement. */
  get pending(): number { return this.outbox.size; }

  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = null;
      this.retryLater();
    });
    return this.flushing;
  }

  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retryDelayMs = 1_000;

  /**
   * Something is still waiting (the portal or its database was away): try again on a timer, 1 s doubling to 30 s,
   * so a run that ended during an outage still arrives without the customer doing anything.
   */
  private retryLater(): void {
    if (this.outbox.size === 0) {
      this.retryDelayMs = 1_000;
      return;
    }
    if (this.retryTimer !== null) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.flush();
    }, this.retryDelayMs);
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, 30_000);
  }

  private async drain(): Promise<void> {
    for (let m = this.outbox.peek(); m; m = this.outbox.peek()) {
      const ack = await this.deliver(m);
      if (!ack) return; // Nothing got through: keep the message for the next try.
      this.transport = ack.transport;
      this.outbox.remove(m);
    }
  }

  private route(m: Message): [string, unknown] {
    switch (m.kind) {
      case "result": return ["results", m.result];
      case "observe": return ["observe", { runId: m.runId, id: m.id, pageOrigin: location.origin }];
      case "complete": return ["complete", { runId: m.runId, verdict: m.verdict }];
    }
  }

  private async deliver(m: Message): Promise<Ack | null> {
    if (this.hub?.state === HubConnectionState.Connected) {
      try {
        switch (m.kind) {
          case "result": return await this.hub.invoke<Ack>(HubMethods.report, m.result);
          case "observe": return await this.hub.invoke<Ack>(HubMethods.observe, m.runId, m.id, location.origin);
          case "complete": return await this.hub.invoke<Ack>(HubMethods.complete, m.runId, m.verdict);
        }
      } catch { /* fall through to plain HTTP */ }
    }
    try {
      const [path, body] = this.route(m);
      const response = await fetch(`/api/runs/${encodeURIComponent(this.token)}/${path}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
      if (response.ok) return (await response.json()) as Ack;
      if (response.status >= 400 && response.status < 500 && response.status !== 429) {
        // The portal refused the message itself; sending it again cannot help.
        return { id: "", stored: false, transport: "http" };
      }
    } catch { /* offline: keep it */ }
    return null;
  }
}
