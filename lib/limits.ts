/**
 * The largest body any private API route accepts (its JSON bodies). proxy.ts refuses a larger
 * declared body, next.config.ts stops the proxy buffering more, and readJsonBody refuses the rest.
 * Dependency-free: next.config.ts imports it.
 */
export const MAX_PRIVATE_BODY_BYTES = 64 * 1024;
