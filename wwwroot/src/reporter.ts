// Sends results to the portal and never loses one: every message waits in localStorage until the portal
// acknowledges it. SignalR first (WebSockets, then Server-Sent Events, then long polling), then a plain
// fetch POST when SignalR cannot connect at all. Ingest is idempotent on the result id, so sending a
// message twice is harmless; dropping one is not.
import { HttpTransportType, HubConnection, HubConnectionBuilder, HubConnectionState, LogLevel } from "@microsoft/signalr";
import type { Result } from "./result";

export type Message =
  | { kind: "result"; result: Result }
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
  remove(m: Message): void { this.items = this.items.filter((x) => x !== m); this.save(); }
  get size(): number { return this.items.length; }
}

export class Reporter {
  private readonly outbox: Outbox;
  private hub: HubConnection | null = null;
  private flushing: Promise<void> | null = null;
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
    try {
      await hub.start();
      this.hub = hub;
    } catch {
      this.hub = null;
    }
    await this.flush();
  }

  /** Queues a message and tries to deliver everything that is waiting. */
  async send(m: Message): Promise<void> {
    this.outbox.add(m);
    await this.flush();
  }

  /** The number of messages still waiting for an acknowledgement. */
  get pending(): number { return this.outbox.size; }

  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => { this.flushing = null; });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    for (let m = this.outbox.peek(); m; m = this.outbox.peek()) {
      const ack = await this.deliver(m);
      if (!ack) return; // Nothing got through: keep the message for the next try.
      this.transport = ack.transport;
      this.outbox.remove(m);
    }
  }

  private async deliver(m: Message): Promise<Ack | null> {
    if (this.hub?.state === HubConnectionState.Connected) {
      try {
        return m.kind === "result"
          ? await this.hub.invoke<Ack>("Report", m.result)
          : await this.hub.invoke<Ack>("Complete", m.runId, m.verdict);
      } catch { /* fall through to plain HTTP */ }
    }
    try {
      const path = m.kind === "result" ? "results" : "complete";
      const body = m.kind === "result" ? m.result : { runId: m.runId, verdict: m.verdict };
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
