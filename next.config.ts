import type { NextConfig } from "next";
import { HSTS_HEADER, STATIC_SECURITY_HEADERS } from "./lib/security/headers";

const nextConfig: NextConfig = {
  // PGlite ships WASM and data files that must be loaded from node_modules, not bundled.
  serverExternalPackages: ["@electric-sql/pglite", "pg", "ws"],
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
