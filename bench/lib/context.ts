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
