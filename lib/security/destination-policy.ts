import { lookup as dnsLookup } from "node:dns/promises";
import { isIPv4, isIPv6 } from "node:net";

import { AppError } from "@/lib/errors";

/**
 * Where batchwatch may send webhooks. A subscriber chooses the URL, so without a policy anyone
 * could make our servers call cloud metadata (169.254.169.254), the database, or any other
 * internal service (SSRF). Two layers apply it:
 *
 * 1. {@link validateWebhookUrl} when a URL is registered: scheme, credentials, host names, literal
 *    addresses in every notation, and every address the name resolves to now;
 * 2. `safeDispatcher()` (safe-fetch.ts) at every connection, because DNS can answer differently
 *    later (rebinding): the address checked there is the one connected to.
 */

// ---------------------------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------------------------

interface Range {
  bytes: Uint8Array;
  prefixLength: number;
  reason: string;
}

function ipv4Bytes(address: string): Uint8Array {
  return Uint8Array.from(address.split(".").map(Number));
}

/** 16 bytes of an IPv6 address in any textual form net.isIPv6 accepts (zone id excluded). */
function ipv6Bytes(address: string): Uint8Array {
  let text = address;
  const bytes = new Uint8Array(16);
  // A trailing dotted quad (::ffff:1.2.3.4, ::1.2.3.4) becomes its two hex groups.
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    const [a, b, c, d] = ipv4Bytes(tail);
    text = `${text.slice(0, lastColon + 1)}${((a! << 8) | b!).toString(16)}:${((c! << 8) | d!).toString(16)}`;
  }
  const [head, rest] = text.split("::") as [string, string | undefined];
  const headGroups = head === "" ? [] : head.split(":");
  const restGroups = rest === undefined || rest === "" ? [] : rest.split(":");
  const groups =
    rest === undefined
      ? headGroups
      : [...headGroups, ...Array<string>(8 - headGroups.length - restGroups.length).fill("0"), ...restGroups];
  groups.forEach((group, index) => {
    const value = parseInt(group, 16);
    bytes[index * 2] = value >> 8;
    bytes[index * 2 + 1] = value & 0xff;
  });
  return bytes;
}

function range(cidr: string, reason: string): Range {
  const [address, prefix] = cidr.split("/") as [string, string];
  return {
    bytes: address.includes(":") ? ipv6Bytes(address) : ipv4Bytes(address),
    prefixLength: Number(prefix),
    reason: `${reason} (${cidr})`,
  };
}

function inRange(bytes: Uint8Array, { bytes: base, prefixLength }: Range): boolean {
  if (bytes.length !== base.length) return false;
  const fullBytes = prefixLength >> 3;
  for (let i = 0; i < fullBytes; i++) if (bytes[i] !== base[i]) return false;
  const remainingBits = prefixLength & 7;
  if (remainingBits === 0) return true;
  const mask = (0xff << (8 - remainingBits)) & 0xff;
  return (bytes[fullBytes]! & mask) === (base[fullBytes]! & mask);
}

// Order matters only for the reason given: the more specific range comes first.
const REFUSED_IPV4: readonly Range[] = [
  range("0.0.0.0/8", "\"this network\" address"),
  range("10.0.0.0/8", "private address"),
  range("100.64.0.0/10", "carrier-grade NAT shared address"),
  range("127.0.0.0/8", "loopback address"),
  range("169.254.0.0/16", "link-local address"),
  range("172.16.0.0/12", "private address"),
  range("192.0.0.0/24", "IETF protocol assignment address"),
  range("192.0.2.0/24", "documentation address"),
  range("192.88.99.0/24", "deprecated 6to4 relay anycast address"),
  range("192.168.0.0/16", "private address"),
  range("198.18.0.0/15", "benchmarking address"),
  range("198.51.100.0/24", "documentation address"),
  range("203.0.113.0/24", "documentation address"),
  range("224.0.0.0/4", "multicast address"),
  range("255.255.255.255/32", "broadcast address"),
  range("240.0.0.0/4", "reserved address"),
];

const REFUSED_IPV6: readonly Range[] = [
  range("::/128", "unspecified address"),
  range("::1/128", "loopback address"),
  range("100::/64", "discard-only address"),
  range("64:ff9b:1::/48", "local-use NAT64 address"),
  range("2001::/32", "Teredo tunnel address"),
  range("2001::/23", "IETF protocol assignment address"),
  range("2001:db8::/32", "documentation address"),
  range("3fff::/20", "documentation address"),
  range("5f00::/16", "SRv6 segment identifier"),
  range("fc00::/7", "unique local address"),
  range("fe80::/10", "link-local address"),
  range("fec0::/10", "site-local address"),
  range("ff00::/8", "multicast address"),
];

// Every routable IPv6 unicast address is in 2000::/3; the rest of the space is reserved.
const GLOBAL_UNICAST_IPV6 = range("2000::/3", "global unicast");

/** IPv6 forms that carry an IPv4 address, and where it sits (byte offset). */
const IPV4_EMBEDDINGS: readonly { range: Range; offset: number; name: string }[] = [
  { range: range("::ffff:0:0/96", ""), offset: 12, name: "IPv4-mapped" },
  { range: range("::ffff:0:0:0/96", ""), offset: 12, name: "IPv4-translated" },
  { range: range("64:ff9b::/96", ""), offset: 12, name: "NAT64" },
  { range: range("2002::/16", ""), offset: 2, name: "6to4" },
  // Last: ::/96 also holds :: and ::1, which are refused before embeddings are looked at.
  { range: range("::/96", ""), offset: 12, name: "IPv4-compatible" },
];

function refusedIpv4Reason(bytes: Uint8Array): string | null {
  return REFUSED_IPV4.find((candidate) => inRange(bytes, candidate))?.reason ?? null;
}

function refusedIpv6Reason(bytes: Uint8Array): string | null {
  const special = REFUSED_IPV6.slice(0, 2).find((candidate) => inRange(bytes, candidate));
  if (special) return special.reason;
  for (const embedding of IPV4_EMBEDDINGS) {
    if (!inRange(bytes, embedding.range)) continue;
    const ipv4 = bytes.subarray(embedding.offset, embedding.offset + 4);
    const reason = refusedIpv4Reason(ipv4);
    // A public IPv4 behind a translation prefix is as reachable as the IPv4 itself.
    return reason === null ? null : `${embedding.name} IPv6 form of ${ipv4.join(".")}: ${reason}`;
  }
  const refused = REFUSED_IPV6.find((candidate) => inRange(bytes, candidate));
  if (refused) return refused.reason;
  if (!inRange(bytes, GLOBAL_UNICAST_IPV6)) return "reserved IPv6 address (outside 2000::/3)";
  return null;
}

/**
 * Why `ip` must not be connected to, or null when it is a public unicast address. Accepts dotted
 * IPv4, the other IPv4 notations URLs accept (`2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`),
 * and IPv6 in any form, with or without brackets or a zone id. Anything else is refused: a check
 * that cannot read its input must not let it through.
 */
export function isRefusedAddress(ip: string): string | null {
  let address = ip.trim();
  if (address.startsWith("[") && address.endsWith("]")) address = address.slice(1, -1);
  const zone = address.indexOf("%");
  if (zone !== -1 && address.includes(":")) address = address.slice(0, zone);

  if (isIPv6(address)) return refusedIpv6Reason(ipv6Bytes(address.toLowerCase()));
  if (!isIPv4(address)) {
    const normalised = normaliseIpv4Notation(address);
    if (normalised === null) return "not an IP address";
    address = normalised;
  }
  return refusedIpv4Reason(ipv4Bytes(address));
}

/** Octal, hex, decimal and shortened IPv4 as dotted decimal, using the WHATWG URL host parser. */
function normaliseIpv4Notation(text: string): string | null {
  if (!/^[0-9a-fA-FxX.]+$/.test(text)) return null;
  try {
    const hostname = new URL(`http://${text}/`).hostname;
    return isIPv4(hostname) ? hostname : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// URLs
// ---------------------------------------------------------------------------------------------

export type ResolveHost = (hostname: string) => Promise<string[]>;

export interface ValidateWebhookUrlOptions {
  /**
   * The development flag `BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS=1`, passed by the caller: allows http
   * and loopback/private destinations. Credentials and non-http(s) schemes are still refused.
   */
  allowPrivate?: boolean;
  /** Resolves a host name to its addresses; defaults to the system resolver (dns.lookup). */
  resolve?: ResolveHost;
}

/** Refuses a URL by throwing; used to replace or extend the default policy (tenant allowlists). */
export type DestinationValidator = (url: URL) => Promise<void> | void;

const RESOLVE_TIMEOUT_MS = 5_000;
const PRIVATE_NAME_SUFFIXES = [".localhost", ".local", ".internal", ".home.arpa"];

function refuse(reason: string): never {
  throw new AppError("unsafe_webhook_url", reason);
}

export const resolveWithSystemDns: ResolveHost = async (hostname) => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("DNS lookup timed out")), RESOLVE_TIMEOUT_MS);
  });
  try {
    const answers = await Promise.race([dnsLookup(hostname, { all: true, verbatim: true }), timeout]);
    return answers.map((answer) => answer.address);
  } finally {
    clearTimeout(timer);
  }
};

/** The default policy, as a {@link DestinationValidator} bound to `options`. */
export function createDefaultDestinationValidator(options: ValidateWebhookUrlOptions = {}): DestinationValidator {
  const { allowPrivate = false, resolve = resolveWithSystemDns } = options;

  return async (url) => {
    if (url.protocol !== "https:" && !allowPrivate) refuse("the webhook URL must use https");
    if (allowPrivate) return; // Development: every address is acceptable, so nothing to resolve.

    // WHATWG parsing has already turned 2130706433, 0x7f000001, 0177.0.0.1 and 127.1 into
    // 127.0.0.1, and lower-cased the name; a trailing dot names the same host.
    const hostname = url.hostname.replace(/\.+$/, "");
    if (hostname === "localhost" || PRIVATE_NAME_SUFFIXES.some((suffix) => hostname.endsWith(suffix))) {
      refuse(`the host "${hostname}" is a local or internal name`);
    }

    if (hostname.startsWith("[") || isIPv4(hostname)) {
      const reason = isRefusedAddress(hostname);
      if (reason !== null) refuse(`the host ${url.hostname} is refused: ${reason}`);
      return;
    }

    let addresses: string[];
    try {
      addresses = await resolve(url.hostname);
    } catch {
      refuse(`the host "${url.hostname}" does not resolve`);
    }
    if (addresses.length === 0) refuse(`the host "${url.hostname}" does not resolve`);
    for (const address of addresses) {
      const reason = isRefusedAddress(address);
      // Neither the address nor its kind: the answer must not tell a caller what an internal name
      // resolves to (a DNS oracle). Literal addresses above name their reason; the caller wrote them.
      if (reason !== null) refuse(`the host "${url.hostname}" resolves to a private address`);
    }
  };
}

export const defaultDestinationValidator: DestinationValidator = createDefaultDestinationValidator();

let customPolicy: { validator: DestinationValidator; mode: "replace" | "extend" } | null = null;

/**
 * Installs a validator for every later {@link validateWebhookUrl}: `"extend"` runs it after the
 * default policy (e.g. a tenant allowlist that narrows further), `"replace"` runs it instead of
 * the default policy (it then owns scheme, host and address rules). The URL hygiene rules
 * (parsable, http or https, no credentials) always apply.
 */
export function setDestinationValidator(
  validator: DestinationValidator,
  { mode }: { mode: "replace" | "extend" },
): void {
  customPolicy = { validator, mode };
}

/** Back to the default policy alone. */
export function resetDestinationValidator(): void {
  customPolicy = null;
}

/**
 * Resolves to the parsed URL when batchwatch may deliver to it; otherwise throws
 * `AppError("unsafe_webhook_url", reason)` with a reason the subscriber can act on.
 */
export async function validateWebhookUrl(url: string, options: ValidateWebhookUrlOptions = {}): Promise<URL> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    refuse("the webhook URL is not a valid absolute URL");
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    refuse(`the scheme "${parsed.protocol.replace(/:$/, "")}" is not allowed: use https`);
  }
  if (parsed.username !== "" || parsed.password !== "") {
    refuse("the webhook URL must not contain credentials: use the signing secret to authenticate");
  }
  if (parsed.hostname === "") refuse("the webhook URL has no host");

  if (customPolicy?.mode !== "replace") await createDefaultDestinationValidator(options)(parsed);
  if (customPolicy) {
    try {
      await customPolicy.validator(parsed);
    } catch (error) {
      if (error instanceof AppError) throw error;
      refuse(error instanceof Error && error.message ? error.message : "the webhook URL is not allowed");
    }
  }
  return parsed;
}
