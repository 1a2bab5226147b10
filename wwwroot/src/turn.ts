// Measures UDP reachability, round-trip time, jitter and packet loss through TURN, the way a call's media would travel:
// two RTCPeerConnections in this page, relay candidates only, an unordered data channel without retransmits. Built as
// its own file (dist/turn.js) and loaded only when the TURN step runs, so the page's weight stays within its budget.

/** One TURN URL with the link's short-lived credentials (from /diag/turn). */
export interface TurnServer { transport: string; url: string; username: string; credential: string }

/** What one transport measured. */
export interface TurnMeasure {
  transport: string;
  url: string;
  reachable: boolean;
  /** Median round trip through the relay and back, ms. */
  rttMs: number | null;
  /** Mean absolute difference of consecutive round trips, ms. */
  jitterMs: number | null;
  /** Share of packets sent that never reached the other side (one way, through the relay), percent. */
  lossPercent: number | null;
  packets: number;
  received: number;
  /** Why it was not reachable: the ICE errors the browser reported, else what failed. */
  error: string | null;
}

const round = (value: number | null) => (value === null ? null : Math.round(value * 10) / 10);

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function jitter(values: number[]): number | null {
  if (values.length < 2) return null;
  let sum = 0;
  for (let i = 1; i < values.length; i++) sum += Math.abs(values[i]! - values[i - 1]!);
  return sum / (values.length - 1);
}

/** Every transport at once (a call tries them together too), each over `packets` numbered packets. */
export function measureAll(servers: readonly TurnServer[], packets: number, signal: AbortSignal): Promise<TurnMeasure[]> {
  return Promise.all(servers.map((s) => measure(s, packets, signal)));
}

async function measure(server: TurnServer, packets: number, signal: AbortSignal): Promise<TurnMeasure> {
  const config: RTCConfiguration = { iceServers: [{ urls: server.url, username: server.username, credential: server.credential }], iceTransportPolicy: "relay" };
  const sender = new RTCPeerConnection(config);
  const receiver = new RTCPeerConnection(config);
  const errors = new Set<string>();
  const result = (reachable: boolean, error: string | null, rtts: number[] = [], received = 0): TurnMeasure => ({
    transport: server.transport, url: server.url, reachable,
    rttMs: round(median(rtts)), jitterMs: round(jitter(rtts)),
    lossPercent: reachable ? round(((packets - received) / packets) * 100) : null,
    packets: reachable ? packets : 0, received, error,
  });
  try {
    for (const [from, to] of [[sender, receiver], [receiver, sender]] as const) {
      from.onicecandidate = (e) => { if (e.candidate) void to.addIceCandidate(e.candidate).catch(() => undefined); };
      from.onicecandidateerror = (e) => errors.add(`${e.errorCode} ${e.errorText}`.trim());
    }
    const channel = sender.createDataChannel("turn", { ordered: false, maxRetransmits: 0 });
    channel.binaryType = "arraybuffer";
    const seen = new Uint8Array(packets);
    let received = 0;
    receiver.ondatachannel = (e) => {
      const echo = e.channel;
      echo.binaryType = "arraybuffer";
      echo.onmessage = (m) => {
        const seq = new DataView(m.data as ArrayBuffer).getUint32(0);
        if (seq < packets && !seen[seq]) { seen[seq] = 1; received++; }
        // Back the same way: the round trip crosses the relay twice in each direction.
        if (echo.readyState === "open") echo.send(m.data as ArrayBuffer);
      };
    };
    const sentAt = new Float64Array(packets);
    const rtts: number[] = [];
    const echoed = new Uint8Array(packets);
    channel.onmessage = (m) => {
      const seq = new DataView(m.data as ArrayBuffer).getUint32(0);
      if (seq < packets && !echoed[seq]) { echoed[seq] = 1; rtts.push(performance.now() - sentAt[seq]!); }
    };

    await sender.setLocalDescription(await sender.createOffer());
    await receiver.setRemoteDescription(sender.localDescription!);
    await receiver.setLocalDescription(await receiver.createAnswer());
    await sender.setRemoteDescription(receiver.localDescription!);

    const opened = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 8_000);
      channel.onopen = () => { clearTimeout(timer); resolve(true); };
      sender.oniceconnectionstatechange = () => { if (sender.iceConnectionState === "failed") { clearTimeout(timer); resolve(false); } };
      signal.addEventListener("abort", () => { clearTimeout(timer); resolve(false); }, { once: true });
    });
    if (!opened) {
      const why = errors.size > 0 ? [...errors].join("; ") : sender.iceConnectionState === "failed" ? "ICE failed through the relay" : "no answer from the TURN server";
      return result(false, why);
    }

    // Paced like a call's media: a batch every 10 ms, the whole stream over about two seconds (timers are clamped to
    // ~4 ms, so batches rather than one packet a millisecond).
    const perBatch = Math.max(1, Math.ceil(packets / 200));
    const packet = new ArrayBuffer(64);
    const view = new DataView(packet);
    for (let seq = 0; seq < packets && !signal.aborted; ) {
      for (let i = 0; i < perBatch && seq < packets; i++, seq++) {
        view.setUint32(0, seq);
        sentAt[seq] = performance.now();
        if (channel.readyState !== "open") break;
        channel.send(packet);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    // Stragglers: up to a second, or until every packet is accounted for.
    const until = performance.now() + 1_000;
    while (received < packets && performance.now() < until && !signal.aborted) await new Promise((r) => setTimeout(r, 50));
    return result(true, null, rtts, received);
  } catch (e) {
    return result(false, e instanceof Error ? e.message : String(e));
  } finally {
    sender.close();
    receiver.close();
  }
}
