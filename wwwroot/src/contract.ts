// Generated from src/Portal.Core/Results/Contract.cs by tests/Portal.Core.Tests/Results/ContractTests.cs: do not edit.
// Change the catalogue, then run the Core tests with PORTAL_WRITE_CONTRACT=1.

/** The steps the browser runs, by name. */
export const Steps = {
  env: "env",
  httpPing: "http.ping",
  httpDownload: "http.download",
  httpUpload: "http.upload",
  wsEcho: "ws.echo",
  wsMessages: "ws.messages",
  wsClose: "ws.close",
  wsVariants: "ws.variants",
  wsIdle: "ws.idle",
  httpCors: "http.cors",
  sse: "sse",
  longpoll: "longpoll",
  signalrTransports: "signalr.transports",
  webrtcTurn: "webrtc.turn",
  targets: "targets",
} as const;

/** A step the browser runs. */
export type StepName = (typeof Steps)[keyof typeof Steps];

/** The metric keys each step's results carry. */
export interface StepMetricKeys {
  "env": "clockSkewMs" | "clockUncertaintyMs" | "screenWidth" | "screenHeight" | "devicePixelRatio" | "downlinkMbps" | "effectiveRttMs" | "timerResolutionMs";
  "http.ping": "samples" | "rttMinMs" | "rttMedianMs" | "rttP90Ms" | "rttMaxMs" | "jitterMs";
  "http.download": "mbps" | "bytes" | "ms" | "totalBytes" | "idleRttMs" | "loadedRttP50Ms" | "loadedRttP90Ms";
  "http.upload": "mbps" | "bytes" | "ms" | "totalBytes" | "bodyLimitPassedBytes" | "bodyLimitRefusedBytes" | "refusedStatus" | "idleRttMs" | "loadedRttP50Ms" | "loadedRttP90Ms";
  "ws.echo": "openMs" | "samples" | "rttMinMs" | "rttMedianMs" | "rttP90Ms" | "rttMaxMs" | "jitterMs" | "closeCode" | "upgradeHeadersPresent";
  "ws.messages": "largestTextBytes" | "largestBinaryBytes" | "closeCode";
  "ws.close": "clientCloseCode" | "serverCloseCode" | "closeCode";
  "ws.variants": "variants" | "tried" | "working" | "wsOk" | "wssOk" | "closeCode";
  "ws.idle": "idleSeconds" | "survived" | "diedAfterSeconds" | "closeCode" | "serverLivedSeconds" | "openMs";
  "http.cors": "plainOk" | "credentialedOk";
  "sse": "events" | "expected" | "firstEventMs" | "maxLagMs" | "bursts" | "heldByPage" | "attempts" | "reconnectMs";
  "longpoll": "cycles" | "heldMs" | "overheadMedianMs" | "overheadMaxMs";
  "signalr.transports": "working" | "webSocketsMs" | "serverSentEventsMs" | "longPollingMs";
  "webrtc.turn": "tried" | "reachable" | "lossPercent" | "udpReachable" | "udpAnswered" | "udpRttMs" | "udpJitterMs" | "udpLossPercent" | "udpPackets" | "tcpReachable" | "tcpAnswered" | "tcpRttMs" | "tcpJitterMs" | "tcpLossPercent" | "tcpPackets" | "tlsReachable" | "tlsAnswered" | "tlsRttMs" | "tlsJitterMs" | "tlsLossPercent" | "tlsPackets";
  "targets": "targets" | "reachable";
}

/** The detail keys each step's results carry (top level). */
export interface StepDetailKeys {
  "env": "userAgent" | "platform" | "languages" | "timeZone" | "cookiesEnabled" | "effectiveType" | "online" | "crossOriginIsolated" | "pageLanguage";
  "http.ping": "protocol";
  "http.download": never;
  "http.upload": never;
  "ws.echo": "url" | "arrivedAs";
  "ws.messages": "url" | "failed";
  "ws.close": "url" | "expected";
  "ws.variants": "variants";
  "ws.idle": "url" | "serverSaw";
  "http.cors": "origin" | "plainError" | "credentialedError";
  "sse": never;
  "longpoll": never;
  "signalr.transports": "working" | "errors" | "unsupported";
  "webrtc.turn": "transports" | "reason";
  "targets": "rows";
}

/** Detail keys every result may carry. */
export type CommonDetailKey = "summary" | "error" | "unexpected" | "reason" | "unsupported" | "browser" | "target";

/** The detail of a step's result: only its own keys (and the common ones). */
export type Detail<S extends StepName = StepName> = { [K in StepDetailKeys[S] | CommonDetailKey]?: unknown };

/** Metric keys every result may carry. */
export type CommonMetricKey = "durationMs" | "answerStatus";

/** The metrics of a step's result: only its own keys (and the common ones). */
export type Metrics<S extends StepName = StepName> = { [K in StepMetricKeys[S] | CommonMetricKey]?: number | null };

/** A result's status. */
export type Status = "pass" | "warn" | "fail" | "error" | "skipped";

/** How a result reached the portal. */
export type Transport = "websockets" | "serversentevents" | "longpolling" | "http" | "beacon" | "probe" | "report-code";

/** The hub's methods the page calls. */
export const HubMethods = { report: "Report", observe: "Observe", complete: "Complete", ping: "Ping" } as const;

/** The methods the hub calls on the page. */
export const ClientMethods = { runAgain: "RunAgain" } as const;
