/**
 * The security headers of every answer. Static ones are set in next.config.ts (`headers()`); the
 * Content Security Policy needs a fresh nonce per page, so proxy.ts sets it on every page request
 * — Next reads the nonce from the request's own `Content-Security-Policy` header and puts it on the
 * scripts it renders (which is also why every page renders dynamically: app/layout.tsx).
 */

/** Headers for every path, pages and API alike. */
export const STATIC_SECURITY_HEADERS = [
  { key: "X-Content-Type-Options", value: "nosniff" },
  { key: "Referrer-Policy", value: "same-origin" },
  // For browsers without CSP's frame-ancestors; the CSP forbids framing too.
  { key: "X-Frame-Options", value: "DENY" },
] as const;

/** Sent only over https (browsers ignore it over http, and it must not pin a plain-http deployment). */
export const HSTS_HEADER = { key: "Strict-Transport-Security", value: "max-age=63072000; includeSubDomains" } as const;

/**
 * The strictest policy Next's pages work under: scripts only with this response's nonce (and what
 * they load, 'strict-dynamic'), no plugins, no framing by anyone, forms and base URIs only to
 * this origin. Styles allow inline attributes (React's `style={…}` progress bars). `next dev`
 * additionally needs eval for its React debugging.
 */
export function contentSecurityPolicy(nonce: string, options: { development?: boolean } = {}): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${options.development ? " 'unsafe-eval'" : ""}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}
