import { NextResponse, type NextRequest } from "next/server";
import { requireApiAuth, requiresApiAuth } from "@/lib/auth/api-key";
import { AppError } from "@/lib/errors";
import { errorResponse } from "@/lib/http";

/**
 * Next 16's request proxy (formerly `middleware.ts`; it runs on Node.js). It turns away
 * unauthenticated calls to the private API before any route code runs. It is the first of two
 * checks: every private route handler checks again (lib/auth/api-key.ts), because a proxy can be
 * bypassed. Pages are left to themselves: the dashboard checks its own session.
 */
export async function proxy(request: NextRequest) {
  if (!requiresApiAuth(request.nextUrl.pathname)) return NextResponse.next();
  try {
    await requireApiAuth(request);
    return NextResponse.next();
  } catch (error) {
    if (error instanceof AppError) return errorResponse(error.code, error.message);
    console.error("[batchwatch] proxy authentication failed:", error);
    return errorResponse("internal", "internal error; see the server log");
  }
}

export const config = {
  // Only the API: pages, static files and images never reach the proxy. Nor do the API paths that
  // need nothing from it — provider webhooks and Inngest's serve handler carry their own signatures,
  // health is public, and the benchmark's constant route measures Next without it — because running
  // the proxy costs every request about half a millisecond of CPU (BENCHMARKS.md).
  matcher: ["/api", "/api/((?!(?:webhooks|inngest|health|bench)(?:/|$)).*)"],
};
