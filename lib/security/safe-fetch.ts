import { lookup as systemLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { isIP, type LookupFunction } from "node:net";

import { Agent, buildConnector, request, type Dispatcher } from "undici";

import { isRefusedAddress } from "@/lib/security/destination-policy";

/**
 * Outbound HTTP for webhook deliveries. The destination policy is enforced at connection time:
 * the name is resolved once, every answer is checked, and the socket connects to a checked
 * address, so a DNS answer that changes after `validateWebhookUrl` (rebinding) cannot reach an
 * internal address. TLS SNI, the certificate check and the Host header still use the host name,
 * because only the lookup step is replaced.
 */

/** A connection attempt refused by the destination policy. */
export class RefusedAddressError extends Error {
  readonly code = "ERR_BATCHWATCH_REFUSED_ADDRESS";
  readonly address: string;

  constructor(hostname: string, address: string, reason: string) {
    super(
      hostname === address
        ? `refused to connect to ${address}: ${reason}`
        : `refused to connect to ${hostname}: it resolves to a private address`,
    );
    this.name = "RefusedAddressError";
    this.address = address;
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * Wraps a `dns.lookup`-style function so that every address it answers is checked, whatever the
 * caller asked for: the base lookup is always asked for all addresses, and the caller gets either
 * the checked list (`options.all === true`, as net does with autoSelectFamily) or the first one.
 */
export function createGuardedLookup(baseLookup: LookupFunction = systemLookup as LookupFunction): LookupFunction {
  return (hostname: string, options: LookupOptions, callback: LookupCallback) => {
    const wantsAll = options?.all === true;
    baseLookup(hostname, { ...options, all: true }, (error, answer, family) => {
      if (error) return callback(error, wantsAll ? [] : "", undefined);
      // Some lookups answer a single address even when asked for all of them.
      const addresses: LookupAddress[] =
        typeof answer === "string" ? [{ address: answer, family: family ?? isIP(answer) }] : answer;
      if (addresses.length === 0) {
        const notFound: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
        notFound.code = "ENOTFOUND";
        return callback(notFound, wantsAll ? [] : "", undefined);
      }
      for (const { address } of addresses) {
        const reason = isRefusedAddress(address);
        if (reason !== null) return callback(new RefusedAddressError(hostname, address, reason), wantsAll ? [] : "", undefined);
      }
      if (wantsAll) return callback(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

export interface SafeDispatcherOptions {
  /** A `dns.lookup`-compatible resolver; defaults to `dns.lookup`. Injectable for tests. */
  lookup?: LookupFunction;
  /** Time allowed to open the connection (TCP + TLS). */
  connectTimeoutMs?: number;
}

const KEEP_ALIVE_TIMEOUT_MS = 10_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

function createSafeAgent({ lookup, connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS }: SafeDispatcherOptions): Agent {
  const connectThroughGuard = buildConnector({ lookup: createGuardedLookup(lookup), timeout: connectTimeoutMs });
  return new Agent({
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    connect(options, callback) {
      // net.connect skips the lookup for a literal address, so literals are checked here.
      if (isIP(options.hostname) !== 0) {
        const reason = isRefusedAddress(options.hostname);
        if (reason !== null) {
          callback(new RefusedAddressError(options.hostname, options.hostname, reason), null);
          return;
        }
      }
      connectThroughGuard(options, callback);
    },
  });
}

// One keep-alive Agent per distinct options, so connections are reused across deliveries.
const safeAgents = new Map<number, WeakMap<LookupFunction, Agent>>();

/** An undici Agent that refuses to connect to any address the destination policy refuses. */
export function safeDispatcher(options: SafeDispatcherOptions = {}): Agent {
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const lookup = options.lookup ?? (systemLookup as LookupFunction);
  let byLookup = safeAgents.get(connectTimeoutMs);
  if (!byLookup) safeAgents.set(connectTimeoutMs, (byLookup = new WeakMap()));
  let agent = byLookup.get(lookup);
  if (!agent) byLookup.set(lookup, (agent = createSafeAgent({ lookup, connectTimeoutMs })));
  return agent;
}

let privateAgent: Agent | undefined;

/** The development dispatcher (`BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS=1`): no address policy. */
function unrestrictedDispatcher(): Agent {
  return (privateAgent ??= new Agent({ keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }));
}

// ---------------------------------------------------------------------------------------------
// One delivery request
// ---------------------------------------------------------------------------------------------

export const MAX_RESPONSE_BODY_BYTES = 4096;

export type DeliveryErrorKind =
  | "invalid_url" // not a URL
  | "unsafe_url" // scheme, credentials, or http without allowPrivate
  | "refused_address" // the destination policy refused the address connected to
  | "dns" // the host did not resolve
  | "timeout"
  | "tls"
  | "connection"; // refused, reset, or any other transport failure

export type DeliveryResult =
  | {
      ok: true;
      /** The receiver answered 2xx. Any other status, 3xx included, is a failed attempt. */
      accepted: boolean;
      status: number;
      headers: Record<string, string>;
      /** At most {@link MAX_RESPONSE_BODY_BYTES} bytes of the response, decoded as UTF-8. */
      bodyText: string;
      durationMs: number;
    }
  | { ok: false; error: DeliveryErrorKind; message: string; durationMs: number };

export interface DeliverRequestOptions {
  method?: "POST" | "PUT" | "GET";
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** The development flag: http and private addresses allowed, no connection-time policy. */
  allowPrivate?: boolean;
  /** Overrides the dispatcher (tests); defaults to {@link safeDispatcher} unless allowPrivate. */
  dispatcher?: Dispatcher;
}

/**
 * Sends one request and reports what happened, never throwing: redirects are not followed (a
 * receiver that answers 3xx has not accepted the event, and following could reach an internal
 * address), the whole exchange is bounded by `timeoutMs`, and the response body is truncated.
 */
export async function deliverRequest(url: string, options: DeliverRequestOptions): Promise<DeliveryResult> {
  const startedAt = performance.now();
  const elapsed = () => Math.round(performance.now() - startedAt);
  const failure = (error: DeliveryErrorKind, message: string): DeliveryResult => ({
    ok: false,
    error,
    message,
    durationMs: elapsed(),
  });

  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return failure("invalid_url", "the destination is not a valid URL");
  }
  if (target.protocol !== "https:" && target.protocol !== "http:") {
    return failure("unsafe_url", `the scheme "${target.protocol}" is not allowed`);
  }
  if (target.username !== "" || target.password !== "") {
    return failure("unsafe_url", "the destination URL must not contain credentials");
  }
  if (target.protocol === "http:" && !options.allowPrivate) {
    return failure("unsafe_url", "the destination must use https");
  }

  const signal = AbortSignal.timeout(options.timeoutMs);
  const dispatcher = options.dispatcher ?? (options.allowPrivate ? unrestrictedDispatcher() : safeDispatcher());

  let response: Dispatcher.ResponseData;
  try {
    response = await request(target, {
      method: options.method ?? "POST",
      headers: options.headers,
      body: options.body,
      dispatcher,
      signal,
    });
  } catch (error) {
    const kind = signal.aborted ? "timeout" : classifyTransportError(error);
    return failure(kind, kind === "timeout" ? `no response within ${options.timeoutMs} ms` : describe(error));
  }

  const bodyText = await readTruncatedBody(response.body);
  return {
    ok: true,
    accepted: response.statusCode >= 200 && response.statusCode < 300,
    status: response.statusCode,
    headers: flattenHeaders(response.headers),
    bodyText,
    durationMs: elapsed(),
  };
}

async function readTruncatedBody(body: Dispatcher.ResponseData["body"]): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  let remaining = MAX_RESPONSE_BODY_BYTES;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      const piece = chunk.length > remaining ? chunk.subarray(0, remaining) : chunk;
      remaining -= piece.length;
      // stream: true leaves out a multi-byte character cut at the limit instead of garbling it.
      text += decoder.decode(piece, { stream: true });
      if (remaining === 0) break; // Leaving the loop destroys the rest of the body.
    }
  } catch {
    // The status is what matters; a body cut short by a timeout or reset is kept as far as read.
  }
  return text;
}

function flattenHeaders(headers: Dispatcher.ResponseData["headers"]): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}

function errorChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current = error;
  while (current !== undefined && current !== null && chain.length < 10) {
    chain.push(current);
    if (current instanceof AggregateError) chain.push(...current.errors);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

function classifyTransportError(error: unknown): DeliveryErrorKind {
  const chain = errorChain(error);
  const codes = chain.map((link) => String((link as { code?: unknown })?.code ?? ""));
  if (chain.some((link) => link instanceof RefusedAddressError)) return "refused_address";
  if (codes.some((code) => code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME")) return "dns";
  if (codes.some((code) => code.startsWith("UND_ERR_") && code.endsWith("TIMEOUT")) || codes.includes("ETIMEDOUT")) {
    return "timeout";
  }
  if (
    codes.some(
      (code) =>
        code.startsWith("ERR_TLS") ||
        code.startsWith("ERR_SSL") ||
        code.startsWith("CERT_") ||
        code.includes("CERT") ||
        code === "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    )
  ) {
    return "tls";
  }
  return "connection";
}

function describe(error: unknown): string {
  const refused = errorChain(error).find((link) => link instanceof RefusedAddressError);
  if (refused instanceof RefusedAddressError) return refused.message;
  return error instanceof Error && error.message ? error.message : "the request failed";
}
