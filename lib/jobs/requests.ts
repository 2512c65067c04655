import { z } from "zod";
import { AppError } from "@/lib/errors";
import { parseOrThrow } from "@/lib/http";
import { storableString } from "@/lib/storable";
import { isProviderName } from "@/lib/providers";
import { JOB_KINDS, PROVIDER_NAMES, UNIFIED_STATUSES, type ProviderName } from "@/lib/providers/types";

/**
 * The query parameters of the batches read API, validated with zod. (The body of
 * `POST /api/batches` is validated by `trackBatch` itself, which every caller goes through.)
 */

/** `unknown_provider` for a name that is not one of PROVIDER_NAMES; `invalid_request` for a non-string. */
export function parseProviderName(value: unknown, field = "provider"): ProviderName {
  if (typeof value !== "string" || value === "") {
    throw new AppError("invalid_request", `${field}: required, one of ${PROVIDER_NAMES.join(", ")}`);
  }
  if (!isProviderName(value)) {
    throw new AppError(
      "unknown_provider",
      `unknown provider "${value.slice(0, 64)}": use one of ${PROVIDER_NAMES.join(", ")}`,
    );
  }
  return value;
}

const listQuerySchema = z.object({
  status: z.enum(UNIFIED_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: storableString().min(1).max(512).optional(),
});

/** The query of `GET /api/batches`; empty parameters count as absent. */
export function parseListQuery(searchParams: URLSearchParams) {
  const raw = Object.fromEntries(
    ["status", "provider", "limit", "cursor"].flatMap((name) => {
      const value = searchParams.get(name);
      return value === null || value === "" ? [] : [[name, value]];
    }),
  );
  const provider = raw.provider === undefined ? undefined : parseProviderName(raw.provider);
  return { ...parseOrThrow(listQuerySchema, raw), provider };
}

const batchIdParamSchema = z.object({ batchId: storableString().min(1, "is required").max(512) });

/** The provider's batch id from a path's catch-all segments (Gemini ids hold a slash). */
export function parseBatchIdParam(segments: readonly string[]): string {
  return parseOrThrow(batchIdParamSchema, { batchId: segments.join("/") }).batchId;
}

/** `?kind=` on the single-job routes, to pick among jobs of different kinds with the same id. */
export function parseKindParam(searchParams: URLSearchParams) {
  const kind = searchParams.get("kind");
  if (kind === null || kind === "") return undefined;
  return parseOrThrow(z.object({ kind: z.enum(JOB_KINDS) }), { kind }).kind;
}
