import type { Database, Queryable } from "./types";

/**
 * Versioned migrations, applied in order, each once. Never edit a released migration: add a new
 * one. They run at start-up and by `npm run db:migrate`, under an advisory lock so two instances
 * starting together apply each migration exactly once.
 *
 * A migration is either a script run in one transaction (`sql`), or — to build an index on a large
 * table without blocking writes — `concurrently`: its `steps` run one statement at a time outside
 * any transaction (Postgres refuses `CREATE INDEX CONCURRENTLY` inside one), still under the
 * advisory lock. Such a migration is recorded only once every step is done, so a step must be safe
 * to run again after a crash: see {@link concurrentIndex}. PGlite, which serves one process and
 * has no concurrent writers to spare, runs the same steps without CONCURRENTLY in one transaction.
 */
export type Migration =
  | { version: number; name: string; sql: string; concurrently?: false }
  | { version: number; name: string; concurrently: true; steps: readonly MigrationStep[] };

export interface MigrationStep {
  /** One statement (several would run as one implicit transaction). */
  sql: string;
  /** A query; the step runs only when it returns a row. */
  when?: string;
}

/**
 * Steps that build an index without blocking writes, safe to repeat: an index a crashed build
 * left INVALID is dropped first (IF NOT EXISTS alone would keep it, unusable).
 */
export function concurrentIndex(name: string, definition: string): MigrationStep[] {
  return [
    {
      sql: `DROP INDEX CONCURRENTLY IF EXISTS ${name}`,
      when: `SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('${name}') AND NOT indisvalid`,
    },
    { sql: `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${name} ${definition}` },
  ];
}

/** Steps that run only where the extension can be installed (pg_trgm is missing from PGlite). */
function ifExtensionAvailable(extension: string, steps: MigrationStep[]): MigrationStep[] {
  const available = `SELECT 1 FROM pg_available_extensions WHERE name = '${extension}'`;
  return steps.map((step) => ({ ...step, when: step.when ? `${available} AND EXISTS (${step.when})` : available }));
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "initial schema",
    sql: /* sql */ `
      CREATE TABLE jobs (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        provider text NOT NULL,
        kind text NOT NULL DEFAULT 'batch',
        batch_id text NOT NULL,
        eval_id text,
        status text NOT NULL DEFAULT 'validating',
        provider_status text,
        request_counts jsonb,
        progress double precision,
        provider_created_at timestamptz,
        provider_ended_at timestamptz,
        expires_at timestamptz,
        raw jsonb,
        detail jsonb,
        tracked_at timestamptz NOT NULL DEFAULT now(),
        poll_count integer NOT NULL DEFAULT 0,
        last_polled_at timestamptz,
        next_poll_at timestamptz,
        observations jsonb NOT NULL DEFAULT '[]'::jsonb,
        not_found_since timestamptz,
        watch_generation integer NOT NULL DEFAULT 0,
        watch_lease_until timestamptz,
        settled_at timestamptz,
        outcome text,
        settle_reason text,
        settled_by text,
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (provider, kind, batch_id)
      );
      CREATE INDEX jobs_unsettled_lease ON jobs (watch_lease_until) WHERE settled_at IS NULL;
      CREATE INDEX jobs_tracked_at ON jobs (tracked_at DESC, id DESC);

      CREATE TABLE job_events (
        id bigserial PRIMARY KEY,
        job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        at timestamptz NOT NULL DEFAULT now(),
        type text NOT NULL,
        detail jsonb NOT NULL DEFAULT '{}'::jsonb
      );
      CREATE INDEX job_events_job ON job_events (job_id, id);

      CREATE TABLE endpoints (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL UNIQUE,
        url text NOT NULL,
        secret_encrypted text NOT NULL,
        previous_secret_encrypted text,
        previous_secret_expires_at timestamptz,
        disabled_at timestamptz,
        disabled_reason text,
        consecutive_failures integer NOT NULL DEFAULT 0,
        last_success_at timestamptz,
        first_failure_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE subscriptions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        destination_key text NOT NULL,
        webhook_url text,
        endpoint_id uuid REFERENCES endpoints (id) ON DELETE CASCADE,
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        disabled_at timestamptz,
        disabled_reason text,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (job_id, destination_key),
        CHECK ((webhook_url IS NULL) <> (endpoint_id IS NULL))
      );

      CREATE TABLE deliveries (
        id text PRIMARY KEY,
        job_id uuid REFERENCES jobs (id) ON DELETE CASCADE,
        subscription_id uuid REFERENCES subscriptions (id) ON DELETE CASCADE,
        endpoint_id uuid REFERENCES endpoints (id) ON DELETE CASCADE,
        event_type text NOT NULL,
        payload jsonb NOT NULL,
        status text NOT NULL DEFAULT 'pending',
        attempt_count integer NOT NULL DEFAULT 0,
        last_status_code integer,
        last_error text,
        last_attempt_at timestamptz,
        delivered_at timestamptz,
        failed_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      -- One outcome, one delivery per subscription: the settle transaction relies on this.
      CREATE UNIQUE INDEX deliveries_one_per_subscription ON deliveries (subscription_id)
        WHERE subscription_id IS NOT NULL;
      CREATE INDEX deliveries_status ON deliveries (status, created_at DESC);
      CREATE INDEX deliveries_job ON deliveries (job_id);

      CREATE TABLE delivery_attempts (
        delivery_id text NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
        run_id text NOT NULL,
        attempt integer NOT NULL,
        attempted_at timestamptz NOT NULL DEFAULT now(),
        status_code integer,
        duration_ms integer NOT NULL,
        error text,
        response_body text,
        PRIMARY KEY (delivery_id, run_id, attempt)
      );
      CREATE INDEX delivery_attempts_time ON delivery_attempts (attempted_at);

      CREATE TABLE inbound_events (
        id bigserial PRIMARY KEY,
        source text NOT NULL,
        webhook_id text NOT NULL,
        event_type text NOT NULL,
        object_id text,
        payload jsonb NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        applied_at timestamptz,
        UNIQUE (source, webhook_id)
      );
      CREATE INDEX inbound_events_object ON inbound_events (source, object_id) WHERE applied_at IS NULL;

      -- Events written in the same transaction as the state they announce, sent at least once.
      CREATE TABLE outbox (
        event_id text PRIMARY KEY,
        name text NOT NULL,
        data jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz
      );
      CREATE INDEX outbox_unsent ON outbox (created_at) WHERE sent_at IS NULL;
    `,
  },
  {
    version: 2,
    name: "delivery schedule and closing reason; deliveries by endpoint",
    sql: /* sql */ `
      -- When the next attempt is due (a retry's backoff, or now for a resend): the dashboard tells
      -- a delivery that waits for its retry from one the engine never picked up.
      ALTER TABLE deliveries ADD COLUMN next_attempt_at timestamptz;
      -- Why a failed delivery stopped: gave_up, gone, endpoint_disabled, subscription_disabled, sent_once.
      ALTER TABLE deliveries ADD COLUMN closed_reason text;
      -- An endpoint's own deliveries, newest first (its page, its success rate, ON DELETE CASCADE).
      CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, created_at DESC, id DESC) WHERE endpoint_id IS NOT NULL;
    `,
  },
  {
    version: 3,
    name: "server-side dashboard sessions; failed authentication attempts",
    sql: /* sql */ `
      -- A dashboard session: the cookie holds an opaque token, this table only its SHA-256.
      CREATE TABLE sessions (
        token_hash text PRIMARY KEY,
        key_fingerprint text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX sessions_expires_at ON sessions (expires_at);
      -- Failed authentication attempts, for throttling (lib/auth/throttle.ts); kept 10 minutes.
      CREATE TABLE auth_failures (client text NOT NULL, at timestamptz NOT NULL);
      CREATE INDEX auth_failures_client_at ON auth_failures (client, at DESC);
      CREATE INDEX auth_failures_at ON auth_failures (at);
    `,
  },
  {
    version: 4,
    name: "event filters, notices, honest outcomes, stall alerts and job groups",
    sql: /* sql */ `
      -- Event filters: a subscription's own (null: its endpoint's default, else the four outcomes).
      ALTER TABLE subscriptions ADD COLUMN events text[];
      ALTER TABLE endpoints ADD COLUMN events text[];
      -- Job groups: the key a subscription was tracked with; a group settles once per membership.
      ALTER TABLE subscriptions ADD COLUMN group_key text;
      CREATE INDEX subscriptions_group ON subscriptions (group_key) WHERE group_key IS NOT NULL;
      CREATE TABLE job_groups (
        key text PRIMARY KEY,
        created_at timestamptz NOT NULL DEFAULT now(),
        -- Null while a batch of the group is unsettled (or joined after it settled).
        settled_at timestamptz,
        -- How many times it has settled: the number of its latest group.settled.
        settlements integer NOT NULL DEFAULT 0
      );
      -- Notices (stalled, resumed, group settled) are deliveries too: one per subscription and topic.
      -- A job's outcome keeps topic null and stays one per subscription.
      ALTER TABLE deliveries ADD COLUMN topic text;
      DROP INDEX deliveries_one_per_subscription;
      CREATE UNIQUE INDEX deliveries_one_per_subscription ON deliveries (subscription_id)
        WHERE subscription_id IS NOT NULL AND topic IS NULL;
      CREATE UNIQUE INDEX deliveries_one_per_topic ON deliveries (subscription_id, topic)
        WHERE subscription_id IS NOT NULL AND topic IS NOT NULL;
      -- Honest outcomes: what the requests of a settled batch came to (all/partly failed, the common error).
      ALTER TABLE jobs ADD COLUMN results jsonb;
      -- Stall alerts: the stall in progress (null when moving) and how many there were.
      ALTER TABLE jobs ADD COLUMN stall jsonb;
      ALTER TABLE jobs ADD COLUMN stall_count integer NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 6,
    name: "indexes for a million jobs; when a subscription became active",
    concurrently: true,
    steps: [
      // Set when a subscription is created and when tracking again re-enables it (NULL on rows
      // older than this migration: their created_at stands in). The reconciler finds late
      // subscribers through it. Adding a nullable column rewrites nothing.
      { sql: "ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS activated_at timestamptz" },
      ...concurrentIndex(
        "subscriptions_active_since",
        "ON subscriptions ((COALESCE(activated_at, created_at))) WHERE disabled_at IS NULL",
      ),
      // The lists, newest first, per filter (keyset pagination stays on the index).
      ...concurrentIndex("jobs_status_tracked_at", "ON jobs (status, tracked_at DESC, id DESC)"),
      ...concurrentIndex("jobs_provider_tracked_at", "ON jobs (provider, tracked_at DESC, id DESC)"),
      ...concurrentIndex("jobs_provider_status_tracked_at", "ON jobs (provider, status, tracked_at DESC, id DESC)"),
      // Retention: settled jobs, oldest first.
      ...concurrentIndex("jobs_settled_at", "ON jobs (settled_at) WHERE settled_at IS NOT NULL"),
      // The dashboard's search by any part of a batch id.
      ...ifExtensionAvailable("pg_trgm", [
        { sql: "CREATE EXTENSION IF NOT EXISTS pg_trgm" },
        ...concurrentIndex("jobs_batch_id_trgm", "ON jobs USING gin (batch_id gin_trgm_ops)"),
      ]),
      // The deliveries page: what failed, and what happened lately.
      ...concurrentIndex("deliveries_failed", "ON deliveries (failed_at DESC NULLS LAST, id DESC) WHERE status = 'failed'"),
      ...concurrentIndex(
        "deliveries_recent",
        "ON deliveries ((COALESCE(last_attempt_at, created_at)) DESC, id DESC) WHERE status <> 'failed'",
      ),
      // Whether a provider's native signals are live (every poll), and retention.
      ...concurrentIndex("inbound_events_source_received", "ON inbound_events (source, received_at)"),
      ...concurrentIndex("inbound_events_received", "ON inbound_events (received_at)"),
      ...concurrentIndex("outbox_sent", "ON outbox (sent_at) WHERE sent_at IS NOT NULL"),
    ],
  },
  {
    version: 7,
    name: "indexes for the cascades of deleting a subscription or an endpoint, and for overdue polls",
    concurrently: true,
    steps: [
      // A deleted subscription (a pruned job's, an endpoint's) takes its deliveries by
      // subscription_id alone. Since migration 5 both indexes on that column are partial on
      // `topic`, so every cascade scanned all of deliveries: pruning a day of jobs took 58 s at
      // 100k jobs, and would not have finished at 1M.
      ...concurrentIndex("deliveries_subscription", "ON deliveries (subscription_id) WHERE subscription_id IS NOT NULL"),
      // A deleted endpoint takes its subscriptions by endpoint_id (a scan of all of them before).
      ...concurrentIndex("subscriptions_endpoint", "ON subscriptions (endpoint_id) WHERE endpoint_id IS NOT NULL"),
      // The engine-health check on every dashboard page reads the overdue polls only (it read every
      // running job's row before).
      ...concurrentIndex("jobs_unsettled_next_poll", "ON jobs (next_poll_at) WHERE settled_at IS NULL"),
    ],
  },
];

export const LATEST_MIGRATION_VERSION = MIGRATIONS.at(-1)!.version;

// Any fixed number works; it only has to be the same in every instance of batchwatch.
const MIGRATION_LOCK_KEY = 7_316_240_581;
/** How often a second instance asks for the migration lock while the first one migrates. */
const LOCK_RETRY_MS = 100;

const CREATE_SCHEMA_MIGRATIONS = `
  CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`;

/**
 * Applies every pending migration (with `through`, only those up to that version). An advisory
 * lock serialises concurrent callers; whoever comes second finds the work done and applies nothing.
 *
 * On Postgres the lock is session-level, held on one connection across the transactions of the
 * plain migrations and the statements of the concurrent ones. It is taken with
 * pg_try_advisory_lock, retried: a caller blocked in pg_advisory_lock would hold a snapshot, and
 * CREATE INDEX CONCURRENTLY in the lock holder waits for every older snapshot — a deadlock.
 */
export async function migrate(db: Database, options: { through?: number } = {}): Promise<{ applied: number[]; version: number }> {
  const through = options.through ?? Number.POSITIVE_INFINITY;
  if (db.driver === "pglite") {
    return db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
      return { applied: await applyPending(tx, through, "in-transaction"), version: LATEST_MIGRATION_VERSION };
    });
  }
  return db.session(async (conn) => {
    while (!(await conn.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1) AS locked", [MIGRATION_LOCK_KEY]))[0]!.locked) {
      await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
    }
    try {
      return { applied: await applyPending(conn, through, "session"), version: LATEST_MIGRATION_VERSION };
    } finally {
      await conn.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]);
    }
  });
}

/**
 * Applies the pending migrations up to `through`. In a session (Postgres), each plain migration
 * gets its own transaction and concurrent steps run as they are; already in a transaction (PGlite),
 * everything runs in it, CONCURRENTLY dropped.
 */
async function applyPending(conn: Queryable, through: number, mode: "session" | "in-transaction"): Promise<number[]> {
  const done = await appliedVersions(conn);
  const applied: number[] = [];
  for (const migration of MIGRATIONS) {
    if (done.has(migration.version) || migration.version > through) continue;
    if (migration.concurrently) {
      for (const step of migration.steps) {
        if (step.when !== undefined && (await conn.query(step.when)).length === 0) continue;
        await conn.exec(mode === "session" ? step.sql : step.sql.replace(/\bCONCURRENTLY\s+/gi, ""));
      }
      await recordMigration(conn, migration);
    } else if (mode === "session") {
      await inTransaction(conn, async () => {
        await conn.exec(migration.sql);
        await recordMigration(conn, migration);
      });
    } else {
      await conn.exec(migration.sql);
      await recordMigration(conn, migration);
    }
    applied.push(migration.version);
  }
  return applied;
}

async function appliedVersions(conn: Queryable): Promise<Set<number>> {
  await conn.exec(CREATE_SCHEMA_MIGRATIONS);
  const rows = await conn.query<{ version: number }>("SELECT version FROM schema_migrations");
  return new Set(rows.map((row) => row.version));
}

async function recordMigration(conn: Queryable, migration: Migration): Promise<void> {
  await conn.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [migration.version, migration.name]);
}

async function inTransaction(conn: Queryable, work: () => Promise<void>): Promise<void> {
  await conn.query("BEGIN");
  try {
    await work();
    await conn.query("COMMIT");
  } catch (error) {
    await conn.query("ROLLBACK");
    throw error;
  }
}

export async function currentMigrationVersion(db: Database): Promise<number | null> {
  const rows = await db.query<{ version: number | null }>(
    "SELECT max(version) AS version FROM schema_migrations",
  );
  return rows[0]?.version ?? null;
}
