// UDP reachability, packet loss and jitter through TURN: what a call's media would meet on this network. The
// measurement itself (turn.ts) is a separate file the page loads only now.
import { diag } from "../diag";
import type { Step, StepOutcome } from "../result";
import { Steps } from "../contract";
import type { TurnMeasure, TurnServer } from "../turn";

interface TurnOffer { servers: TurnServer[]; reason: string | null }

/** Packets per transport: enough that 1 % loss is a count of ten, not one. The lab asks for more with ?turnPackets=. */
const Packets = 1_000;

export function turnStep(scriptUrl: string | null): Step<typeof Steps.webrtcTurn> {
  return {
    name: Steps.webrtcTurn,
    needs: ["rtcPeerConnection"],
    label: "Calls and video (UDP through TURN)",
    timeoutMs: 45_000,
    async run(signal): Promise<StepOutcome<typeof Steps.webrtcTurn>> {
      const offer = (await (await fetch(diag("/diag/turn"), { cache: "no-store", signal })).json()) as TurnOffer;
      if (offer.servers.length === 0 || !scriptUrl) {
        return { status: "skipped", metrics: {}, detail: { reason: offer.reason ?? "No TURN server." }, summary: "Not tested: the portal has no TURN server to test calls through." };
      }
      const requested = Number(new URLSearchParams(location.search).get("turnPackets"));
      const packets = Number.isInteger(requested) && requested >= 100 && requested <= 50_000 ? requested : Packets;
      const { measureAll } = (await import(/* @vite-ignore */ scriptUrl)) as typeof import("../turn");
      const measured = await measureAll(offer.servers, packets, signal);
      // A TURN server on this machine's loopback address (the portal's own, tried locally) is one Firefox does not use
      // for WebRTC at all (media.peerconnection.ice.loopback): silence there says nothing about any network.
      if (measured.every((m) => !m.answered) && offer.servers.every((s) => /^turns?:(127\.|\[::1\])/.test(s.url))) {
        return { status: "skipped", metrics: {}, detail: { reason: "The TURN server is on the loopback address, which this browser does not use for WebRTC.", transports: measured }, summary: "Not tested: this browser does not use WebRTC on this computer's own loopback address." };
      }
      return outcome(measured);
    },
  };
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
