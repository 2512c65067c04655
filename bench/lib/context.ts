import { createHmac } from "node:crypto";

/** What the HTTP sections share: one `next start` server on one fresh database. */
export interface HttpContext {
  /** Base URL of `next start`. */
  nextUrl: string;
  /** Its process id (for its CPU time). */
  nextPid: number;
  /** The fresh database the server uses (for counting what it stored). */
  databaseUrl: string;
  /** The stand-in Inngest event API (GET /stats answers its counts). */
  eventApiUrl: string;
  /** OPENAI_WEBHOOK_SECRET as the server has it. */
  openaiWebhookSecret: string;
  /** BATCHWATCH_API_KEY as the server has it. */
  apiKey: string;
}

export interface SectionOptions {
  quick: boolean;
}

/** Load settings shared by the HTTP sections (the ceiling is measured at the same ones). */
export function loadSettings(quick: boolean) {
  return {
    /** Connections for the max-throughput runs. */
    maxConnections: 50,
    /** Tracking's max-throughput runs (heavier requests: a transaction of several statements each). */
    trackingConnections: 20,
    /**
     * Connections for the fixed-rate runs. autocannon sends each connection's per-second quota back
     * to back at the start of each second, all connections together, so this is also the size of the
     * bursts the server sees; 4 keeps them small while the rate is still met.
     */
    rateConnections: 4,
    warmupS: quick ? 1 : 3,
    maxS: quick ? 3 : 10,
    rateS: quick ? 3 : 10,
  };
}

/** `v1,<base64 HMAC-SHA256 of id.timestamp.body>` per Standard Webhooks, with plain node:crypto. */
export function standardSignature(key: Buffer, id: string, timestamp: string, body: string): string {
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.replace(/^whsec_/, ""), "base64");
}

export async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  return (await response.json()) as T;
}
