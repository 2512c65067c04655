import type { NextConfig } from "next";
import { MAX_PRIVATE_BODY_BYTES } from "./lib/limits";
import { HSTS_HEADER, STATIC_SECURITY_HEADERS } from "./lib/security/headers";

const nextConfig: NextConfig = {
  // PGlite ships WASM and data files that must be loaded from node_modules, not bundled.
  serverExternalPackages: ["@electric-sql/pglite", "pg", "ws"],
  // The proxy (private API and pages) sees at most this much of a body, instead of buffering 10 MB
  // before the route's own 64 KB check: one byte more, so the route still notices the excess.
  experimental: { proxyClientMaxBodySize: MAX_PRIVATE_BODY_BYTES + 1 },
  // Metadata (the <title>) in the <head> of every answer, not streamed in after the page: pages are
  // rendered per request (the CSP nonce), and a streamed title left a page without one until it
  // arrived (axe-core's document-title, screen readers announcing an untitled page).
  htmlLimitedBots: /.*/,
  // No `X-Powered-By: Next.js`.
  poweredByHeader: false,
  // The Content Security Policy is per request (a nonce): proxy.ts.
  async headers() {
    return [
      { source: "/:path*", headers: [...STATIC_SECURITY_HEADERS] },
      {
        source: "/:path*",
        // Over https only: Vercel's edge and TLS-terminating proxies say so in x-forwarded-proto.
        has: [{ type: "header", key: "x-forwarded-proto", value: "https" }],
        headers: [HSTS_HEADER],
      },
    ];
  },
};

export default nextConfig;
