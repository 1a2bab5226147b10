// What a step needs from the browser. A browser without it cannot test that thing: the step is skipped and says so,
// naming the browser, instead of failing as if the network were at fault.

/** The browser features steps can need. */
export const Features = {
  webSocket: { name: "WebSocket", present: () => typeof globalThis.WebSocket === "function" },
  eventSource: { name: "EventSource (Server-Sent Events)", present: () => typeof globalThis.EventSource === "function" },
  rtcPeerConnection: { name: "WebRTC (RTCPeerConnection)", present: () => typeof globalThis.RTCPeerConnection === "function" },
  blob: { name: "Blob uploads", present: () => typeof globalThis.Blob === "function" && typeof Blob.prototype.slice === "function" },
} as const;

/** A feature a step can need. */
export type Feature = keyof typeof Features;

/** The first of the features the browser lacks, by name, or null when it has them all. */
export function missingFeature(needs: readonly Feature[] | undefined): string | null {
  for (const feature of needs ?? []) {
    if (!Features[feature].present()) return Features[feature].name;
  }
  return null;
}

/** The browser in a few words, from its User-Agent ("Firefox 153", "Chrome 156", "Safari 18"), or "This browser". */
export function browserName(userAgent: string): string {
  // Most specific first: Edge and Opera also say Chrome, Chrome also says Safari.
  for (const [token, name] of [["Edg", "Edge"], ["OPR", "Opera"], ["Firefox", "Firefox"], ["Chrome", "Chrome"], ["Version", "Safari"]] as const) {
    const match = new RegExp(`${token}/(\\d+)`).exec(userAgent);
    if (match) return `${name} ${match[1]}`;
  }
  return "This browser";
}
