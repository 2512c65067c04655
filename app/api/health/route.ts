import { isAuthenticated } from "@/lib/auth/api-key";
import { readHealth } from "@/lib/ops/health";
import { route } from "@/lib/http";

export const dynamic = "force-dynamic";

/**
 * Public: anyone learns whether the app is up (200 `{ "ok": true }`, or 503). Which keys, flags and
 * database it runs with is for callers with an API key or a dashboard session.
 */
export const GET = route(async (request) => {
  const health = await readHealth();
  const status = health.ok ? 200 : 503;
  if (!(await isAuthenticated(request))) return Response.json({ ok: health.ok }, { status });
  return Response.json(health, { status });
});
