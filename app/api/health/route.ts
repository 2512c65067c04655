import { readHealth } from "@/lib/ops/health";
import { route } from "@/lib/http";

export const dynamic = "force-dynamic";

export const GET = route(async () => {
  const health = await readHealth();
  return Response.json(health, { status: health.ok ? 200 : 503 });
});
