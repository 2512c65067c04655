import { randomBytes } from "node:crypto";
import { NextResponse, type NextRequest } from "next/server";
import { requireApiAuth, requiresApiAuth } from "@/lib/auth/api-key";
import { ConfigError } from "@/lib/config";
import { AppError } from "@/lib/errors";
import { appErrorResponse, errorResponse } from "@/lib/http";
import { MAX_PRIVATE_BODY_BYTES } from "@/lib/limits";
import { contentSecurityPolicy } from "@/lib/security/headers";

/**
 * Next 16's request proxy (formerly `middleware.ts`; it runs on Node.js). It turns away
 * unauthenticated calls to the private API before any route code runs. It is the first of two
 * checks: every private route handler checks again (lib/auth/api-key.ts), because a proxy can be
 * bypassed. Pages get their Content Security Policy here, with a fresh nonce (lib/security/headers.ts);
 * their sessions they check themselves.
 */
export async function proxy(request: NextRequest) {
  const path = request.nextUrl.pathname;
  // A path that is not valid percent-encoding (`/api/batches/openai/%ff%fe`) would otherwise reach
  // Next's own parameter decoding, which answers a plain-text 500.
  if (!isDecodablePath(path)) return errorResponse("invalid_request", "path: not valid percent-encoded UTF-8");
  if (path !== "/api" && !path.startsWith("/api/")) return withContentSecurityPolicy(request);
  if (!requiresApiAuth(path)) return NextResponse.next();
  // Nothing private takes more than 64 KB: a larger declared body is refused before anything else.
  // (An undeclared one is cut off by next.config.ts's proxyClientMaxBodySize, then by the route.)
  if (Number(request.headers.get("content-length") ?? 0) > MAX_PRIVATE_BODY_BYTES) {
    return errorResponse("payload_too_large", `request body exceeds ${MAX_PRIVATE_BODY_BYTES} bytes`);
  }
  try {
    await requireApiAuth(request);
    return NextResponse.next();
  } catch (error) {
    if (error instanceof AppError) return appErrorResponse(error);
    if (error instanceof ConfigError) return errorResponse("not_configured", error.message);
    console.error("[batchwatch] proxy authentication failed:", error);
    return errorResponse("internal", "internal error; see the server log");
  }
}

function isDecodablePath(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

/** Passes a page request on with a nonce-based CSP, on the request (for Next's scripts) and the answer. */
function withContentSecurityPolicy(request: NextRequest): NextResponse {
  const policy = contentSecurityPolicy(randomBytes(16).toString("base64"), {
    development: process.env.NODE_ENV === "development",
  });
  const headers = new Headers(request.headers);
  headers.set("content-security-policy", policy);
  const response = NextResponse.next({ request: { headers } });
  response.headers.set("content-security-policy", policy);
  return response;
}

export const config = {
  // The private API, and pages (for their CSP). Static files and images never reach the proxy, nor
  // do the API paths that need nothing from it — provider webhooks, the example receiver and
  // Inngest's serve handler carry their own signatures, health is public, the benchmark's constant route measures Next
  // without it — because running the proxy costs every request about half a millisecond of CPU
  // (BENCHMARKS.md).
  matcher: [
    "/api",
    "/api/((?!(?:webhooks|inngest|health|bench|examples)(?:/|$)).*)",
    "/((?!api(?:/|$)|_next/static/|_next/image|favicon\\.ico$).*)",
  ],
};
