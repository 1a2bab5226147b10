// UDP reachability, packet loss and jitter through TURN: what a call's media would meet on this network. The
// measurement itself (turn.ts) is a separate file the page loads only now.
import { diag } from "../diag";
import { fetchExpecting } from "../answer";
import type { Step, StepOutcome } from "../result";
import { Steps } from "../contract";
import type { TurnServer } from "../turn";

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
      // Anything but the portal's JSON (a proxy's error page) is evidence, not a parse error (fetchExpecting).
      const offer = (await (await fetchExpecting(diag("/diag/turn"), { cache: "no-store", signal }, "application/json")).json()) as TurnOffer;
      if (offer.servers.length === 0 || !scriptUrl) {
        return { status: "skipped", metrics: {}, detail: { reason: offer.reason ?? "No TURN server." }, summary: "Not tested: the portal has no TURN server to test calls through." };
      }
      const requested = Number(new URLSearchParams(location.search).get("turnPackets"));
      const packets = Number.isInteger(requested) && requested >= 100 && requested <= 50_000 ? requested : Packets;
      const { measureAll, outcome } = (await import(/* @vite-ignore */ scriptUrl)) as typeof import("../turn");
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
