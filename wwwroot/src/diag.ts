// The test endpoints (/diag/*) serve the page of a live link only: the page carries their key (data-diag-key on the
// body), and every request to them adds it as the `dk` query parameter (a WebSocket or EventSource cannot set headers).
// The key opens the test endpoints and nothing else; recorded URLs and evidence never include it.

let key = "";

/** Sets the key the page was given. */
export function setDiagKey(value: string): void {
  key = value;
}

/** A test endpoint's URL with the page's key: `diag("/diag/ping?i=1")`, or on another origin of the portal. */
export function diag(pathAndQuery: string, origin = ""): string {
  if (!key) return `${origin}${pathAndQuery}`;
  const separator = pathAndQuery.includes("?") ? "&" : "?";
  return `${origin}${pathAndQuery}${separator}dk=${encodeURIComponent(key)}`;
}
