// An answer a step did not expect is evidence, not a script error: what came back, who sent it, and when.

/** What came back instead of the answer a step expected. */
export interface AnswerEvidence {
  /** The path asked for (no query: it may carry nothing of interest, and stays short). */
  path: string;
  /** The HTTP status, or null when no HTTP answer came (the connection failed). */
  status: number | null;
  contentType: string | null;
  server: string | null;
  via: string | null;
  /** The first bytes of the body, tags and control characters removed, at most 200 characters. */
  bodyStart: string | null;
  /** The size of the request that met the answer, when it sent one. */
  requestBytes: number | null;
  /** How long after the request the answer came. */
  atMs: number | null;
  /** What the browser said when there was no answer at all (e.g. "Failed to fetch"). */
  error: string | null;
}

/** Thrown by a step that met an answer it did not expect; the runner records the evidence. */
export class UnexpectedAnswer extends Error {
  constructor(readonly evidence: AnswerEvidence) {
    super(evidence.status === null ? `no answer (${evidence.error ?? "connection failed"})` : `HTTP ${evidence.status}`);
  }
}

/** Text of a body without markup or control characters, short enough to store. */
export function sanitize(body: string, max = 200): string {
  return body
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, " ")
    .replace(/<[^>]*>/g, " ")
    .replace(/&nbsp;/g, " ")
    .replace(/[\u0000-\u001f\u007f]+/g, " ")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, max);
}

function pathOf(url: string): string {
  try {
    return new URL(url, location.href).pathname;
  } catch {
    return url.split("?")[0] ?? url;
  }
}

/** The evidence of an answer, reading (a little of) its body. */
export async function evidenceOf(response: Response, url: string, started: number, requestBytes: number | null = null): Promise<AnswerEvidence> {
  let body: string | null = null;
  try {
    body = sanitize((await response.text()).slice(0, 4096));
  } catch {
    body = null;
  }
  return {
    path: pathOf(url),
    status: response.status,
    contentType: response.headers.get("content-type"),
    server: response.headers.get("server"),
    via: response.headers.get("via"),
    bodyStart: body,
    requestBytes,
    atMs: Math.round(performance.now() - started),
    error: null,
  };
}

/** The evidence of a request that got no HTTP answer at all. */
export function noAnswer(url: string, started: number, e: unknown, requestBytes: number | null = null): AnswerEvidence {
  return {
    path: pathOf(url),
    status: null,
    contentType: null,
    server: null,
    via: null,
    bodyStart: null,
    requestBytes,
    atMs: Math.round(performance.now() - started),
    error: e instanceof Error ? e.message : String(e),
  };
}

/**
 * Fetches and insists on a 2xx answer of the expected kind (a content type that starts with <c>expect</c>, when
 * given); anything else throws <see cref="UnexpectedAnswer"/> with the evidence. An abort is passed on as it is.
 */
export async function fetchExpecting(url: string, init: RequestInit, expect: string | null, requestBytes: number | null = null): Promise<Response> {
  const started = performance.now();
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    if (init.signal?.aborted) throw e;
    throw new UnexpectedAnswer(noAnswer(url, started, e, requestBytes));
  }
  const type = response.headers.get("content-type") ?? "";
  if (!response.ok || (expect !== null && !type.toLowerCase().startsWith(expect))) {
    throw new UnexpectedAnswer(await evidenceOf(response, url, started, requestBytes));
  }
  return response;
}

/** Plain words for an answer the step did not expect: never exception text. */
export function describe(evidence: AnswerEvidence): string {
  if (evidence.status === null) return `the request to ${evidence.path} got no answer: the connection failed`;
  const who = evidence.server ? ` from ${evidence.server}` : "";
  const kind = evidence.contentType ? ` (${evidence.contentType.split(";")[0]})` : "";
  return `${evidence.path} answered HTTP ${evidence.status}${who}${kind} instead of the portal's answer`;
}
