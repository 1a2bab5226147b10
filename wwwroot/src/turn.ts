// Measures UDP reachability, round-trip time, jitter and packet loss through TURN, the way a call's media would travel:
// two RTCPeerConnections in this page, relay candidates only, an unordered data channel without retransmits. Built as
// its own file (dist/turn.js) and loaded only when the TURN step runs, so the page's weight stays within its budget.
import { jitter, quantile, round } from "./stats";
import type { StepOutcome } from "./result";
import type { Steps } from "./contract";

/** One TURN URL with the link's short-lived credentials (from /diag/turn). */
export interface TurnServer { transport: string; url: string; username: string; credential: string }

/** What one transport measured. */
export interface TurnMeasure {
  transport: string;
  url: string;
  reachable: boolean;
  /** Whether the TURN server answered at all (a relay address was allocated), even if no connection came through. */
  answered: boolean;
  /** Median round trip through the relay and back, ms. */
  rttMs: number | null;
  /** Mean absolute difference of consecutive round trips, ms. */
  jitterMs: number | null;
  /** Share of the datagrams sent that never reached the other side (one way, through the relay), percent. */
  lossPercent: number | null;
  /** Datagrams sent one way (or, where the browser does not count them, numbered messages). */
  packets: number;
  received: number;
  /** Share of the numbered messages that never arrived, percent (the data channel's view). */
  messageLossPercent: number | null;
  /** The selected candidate pairs' own counts over the measurement: the evidence behind the loss figure. */
  counters: { sent: number; received: number } | null;
  /** Why it was not reachable: the ICE errors the browser reported, else what failed. */
  error: string | null;
}

interface PairCounts { sent: number; received: number; rttMs: number | null }

/**
 * Datagrams the selected ICE candidate pair has sent and received (null where the browser does not count them), and
 * the path's round trip by ICE's own checks (STUN through the relay: no data channel queue in it).
 */
async function datagrams(pc: RTCPeerConnection): Promise<PairCounts | null> {
  const stats = await pc.getStats();
  let pairId: string | null = null;
  stats.forEach((s: { type: string; selectedCandidatePairId?: string }) => { if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId; });
  let found: PairCounts | null = null;
  stats.forEach((s: { type: string; id: string; nominated?: boolean; selected?: boolean; packetsSent?: number; packetsReceived?: number; totalRoundTripTime?: number; responsesReceived?: number }) => {
    if (s.type !== "candidate-pair" || typeof s.packetsSent !== "number" || typeof s.packetsReceived !== "number") return;
    if (!(pairId ? s.id === pairId : s.selected || s.nominated)) return;
    const rttMs = typeof s.totalRoundTripTime === "number" && s.responsesReceived ? (s.totalRoundTripTime / s.responsesReceived) * 1000 : null;
    found = { sent: s.packetsSent, received: s.packetsReceived, rttMs };
  });
  return found;
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
  let answered = false;
  // Loss is counted in datagrams on the relayed path — what the sender's selected pair sent against what the
  // receiver's received — not in messages: the data channel's own recovery must not hide what the network dropped.
  // Where the browser does not count datagrams, the numbered messages that never arrived stand in.
  // The round trip is ICE's own (STUN through the relay) where the browser gives it: the echoes' includes the data
  // channel's queue, which grows under loss as its congestion control slows it down. Jitter is the echoes'.
  const result = (reachable: boolean, error: string | null, rtts: number[] = [], received = 0, counted: PairCounts | null = null): TurnMeasure => ({
    transport: server.transport, url: server.url, reachable, answered: answered || reachable,
    rttMs: round(counted?.rttMs ?? quantile(rtts, 0.5)), jitterMs: round(jitter(rtts)),
    // The two sides' counters are read a moment apart, so one may hold a datagram or two the other does not yet (a
    // clean path reads 1,456 sent and 1,457 received). More than that arriving beyond what was sent is not evidence
    // of anything: no figure rather than a wrong 0 %.
    lossPercent: !reachable ? null
      : counted ? (counted.sent > 0 && counted.received <= counted.sent + Math.max(3, counted.sent * 0.002) ? round((Math.max(0, counted.sent - counted.received) / counted.sent) * 100) : null)
      : round(((packets - received) / packets) * 100),
    packets: !reachable ? 0 : counted?.sent ?? packets, received: counted?.received ?? received, error,
    messageLossPercent: reachable ? round(((packets - received) / packets) * 100) : null,
    counters: counted ? { sent: counted.sent, received: counted.received } : null,
  });
  try {
    for (const [from, to] of [[sender, receiver], [receiver, sender]] as const) {
      from.onicecandidate = (e) => {
        if (!e.candidate) return;
        if (e.candidate.type === "relay") answered = true;
        void to.addIceCandidate(e.candidate).catch(() => undefined);
      };
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
      // Long enough for ICE and DTLS to get through heavy loss by retransmitting: a lossy path is not a blocked one.
      const timer = setTimeout(() => resolve(false), 15_000);
      channel.onopen = () => { clearTimeout(timer); resolve(true); };
      sender.oniceconnectionstatechange = () => { if (sender.iceConnectionState === "failed") { clearTimeout(timer); resolve(false); } };
      signal.addEventListener("abort", () => { clearTimeout(timer); resolve(false); }, { once: true });
    });
    if (!opened) {
      const why = answered
        ? "the TURN server answered, but no connection came through it within 15 s (heavy loss, or only some of the traffic let through)"
        : errors.size > 0 ? [...errors].join("; ") : sender.iceConnectionState === "failed" ? "ICE failed through the relay" : "no answer from the TURN server";
      return result(false, why);
    }

    // Counted from a quiet moment: what the handshakes still had on the way must not count as sent or received.
    await new Promise((r) => setTimeout(r, 300));
    const [sentBefore, receivedBefore] = await Promise.all([datagrams(sender), datagrams(receiver)]);
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
    // What the data channel still holds was not lost, only not sent yet (its congestion window shrinks under loss):
    // wait until it has all gone out, then up to a second for stragglers, or until every packet is accounted for.
    const drained = performance.now() + 10_000;
    while (channel.bufferedAmount > 0 && channel.readyState === "open" && performance.now() < drained && !signal.aborted) await new Promise((r) => setTimeout(r, 20));
    const until = performance.now() + 1_000;
    while (received < packets && performance.now() < until && !signal.aborted) await new Promise((r) => setTimeout(r, 50));
    // The sender's count first, then the receiver's once nothing more arrives: what is still on its way is not lost.
    const sentAfter = await datagrams(sender);
    let receivedAfter = await datagrams(receiver);
    for (let settle = performance.now() + 3_000; receivedAfter && performance.now() < settle && !signal.aborted; ) {
      await new Promise((r) => setTimeout(r, 200));
      const now = await datagrams(receiver);
      if (!now || now.received === receivedAfter.received) break;
      receivedAfter = now;
    }
    const counted = sentBefore && sentAfter && receivedBefore && receivedAfter
      ? { sent: sentAfter.sent - sentBefore.sent, received: receivedAfter.received - receivedBefore.received, rttMs: sentAfter.rttMs }
      : null;
    return result(true, null, rtts, received, counted);
  } catch (e) {
    return result(false, e instanceof Error ? e.message : String(e));
  } finally {
    sender.close();
    receiver.close();
  }
}

/** The step's result from what each transport measured. */
export function outcome(measured: readonly TurnMeasure[]): StepOutcome<typeof Steps.webrtcTurn> {
  const by = (transport: string) => measured.find((m) => m.transport === transport);
  const reachable = measured.filter((m) => m.reachable);
  // The loss a call would see is UDP's (media prefers it). Over TCP or TLS nothing is lost on the customer's side —
  // TCP retransmits, and loss shows as delay — so their figure counts only the relay's own leg and is not the
  // network's: without UDP there is no loss figure.
  const best = by("udp")?.reachable ? by("udp")! : reachable[0];
  const metrics: Record<string, number | null> = { tried: measured.length, reachable: reachable.length, lossPercent: by("udp")?.reachable ? by("udp")!.lossPercent : null };
  for (const m of measured) {
    metrics[`${m.transport}Reachable`] = m.reachable ? 1 : 0;
    metrics[`${m.transport}Answered`] = m.answered ? 1 : 0;
    metrics[`${m.transport}RttMs`] = m.rttMs;
    metrics[`${m.transport}JitterMs`] = m.jitterMs;
    metrics[`${m.transport}LossPercent`] = m.lossPercent;
    metrics[`${m.transport}Packets`] = m.packets;
  }
  const udp = by("udp");
  const lossy = (metrics.lossPercent ?? 0) >= 1;
  const status = reachable.length === 0 ? "fail" : reachable.length < measured.length || lossy ? "warn" : "pass";
  const summary = reachable.length === 0
    ? `No TURN transport could be reached (${measured.map((m) => `${m.transport}: ${m.error ?? "no answer"}`).join("; ")}).`
    : udp && !udp.reachable && udp.answered
      ? `The TURN server answered over UDP, but no connection came through it (heavy loss?); TURN works over ${reachable.map((m) => m.transport.toUpperCase()).join(" and ")}.`
      : udp && !udp.reachable
      ? `TURN works over ${reachable.map((m) => m.transport.toUpperCase()).join(" and ")}, not over UDP: calls will relay over TCP, with worse quality.`
      : best!.transport === "udp"
        ? `Through TURN over UDP: ${best!.lossPercent} % loss, round trip ${best!.rttMs} ms, jitter ${best!.jitterMs} ms.`
        : `Through TURN over ${best!.transport.toUpperCase()}: round trip ${best!.rttMs} ms, jitter ${best!.jitterMs} ms.`;
  return { status, metrics: metrics as StepOutcome<typeof Steps.webrtcTurn>["metrics"], detail: { transports: measured }, summary };
}
