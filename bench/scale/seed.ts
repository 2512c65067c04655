import pg from "pg";

/**
 * Realistic data for the scale benchmark, written set-based (generate_series, one INSERT … SELECT
 * per table), in the proportions of a team that tracks a few thousand batches a day: per job
 * 1.4 subscriptions, ≈ 1.1 deliveries, ≈ 1.7 delivery attempts, `timelinePerJob` timeline rows
 * (10 in production-like data) and 2.9 outbox rows, plus native provider events for OpenAI and
 * Gemini. Jobs are spread over the last {@link SEED_DAYS} days (newest first by `i`); the jobs of
 * the last day are partly still running. Everything is derived from the row number, so a seed of
 * the same size is the same data (ids are md5-based uuids, reproducible without a lookup).
 */

/** Days of history seeded: the 30-day retention period, plus a missed week to prune. */
export const SEED_DAYS = 37;
/** Endpoints the endpoint subscriptions spread over. */
export const SEED_ENDPOINTS = 20;
/** Subscriptions activated after their job settled, still without a delivery (the reconciler's work). */
export const SEED_LATE_SUBSCRIBERS = 10;

export interface SeedCounts {
  jobs: number;
  running: number;
  subscriptions: number;
  deliveries: number;
  failedDeliveries: number;
  attempts: number;
  timeline: number;
  outbox: number;
  inboundEvents: number;
}

export interface SeedOptions {
  jobs: number;
  timelinePerJob: number;
  log?: (message: string) => void;
}

// Row i's tracked_at: i = 1 is the newest, i = N the oldest (SEED_DAYS ago).
const TRACKED_AT = (n: number) => `(now() - (i::double precision / ${n}) * interval '${SEED_DAYS} days')`;
// Still running: 30 % of the jobs tracked in the last 24 hours.
const RUNNING = (n: number) => `(i <= ${n} / ${SEED_DAYS} AND i % 10 < 3)`;
/** A v4-shaped uuid (zod checks the version and variant) derived from `expr`'s md5. */
export const seededUuid = (expr: string) => `overlay(overlay(md5(${expr}) placing '4' from 13) placing '8' from 17)::uuid`;
const JOB_ID = seededUuid("'job' || i");

export async function seedScaleData(url: string, options: SeedOptions): Promise<{ counts: SeedCounts; elapsedMs: Record<string, number> }> {
  const n = options.jobs;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const elapsedMs: Record<string, number> = {};
  const step = async (name: string, sql: string) => {
    const started = performance.now();
    await client.query(sql);
    elapsedMs[name] = Math.round(performance.now() - started);
    options.log?.(`seeded ${name} in ${(elapsedMs[name]! / 1000).toFixed(1)} s`);
  };
  try {
    await client.query("SET synchronous_commit = off");
    await client.query("SET maintenance_work_mem = '256MB'");
    await step(
      "endpoints",
      `INSERT INTO endpoints (id, name, url, secret_encrypted, created_at, updated_at)
       SELECT ${seededUuid("'endpoint' || e")}, 'endpoint-' || e, 'https://hooks.example.com/endpoint/' || e, 'v1:seeded', now() - interval '60 days', now()
       FROM generate_series(1, ${SEED_ENDPOINTS}) e`,
    );
    await step(
      "jobs",
      `INSERT INTO jobs (id, provider, kind, batch_id, status, provider_status, request_counts, progress,
         provider_created_at, provider_ended_at, expires_at, raw, tracked_at, poll_count, last_polled_at, next_poll_at,
         observations, watch_generation, watch_lease_until, settled_at, outcome, settled_by, updated_at)
       SELECT ${JOB_ID}, p.provider, k.kind,
         p.prefix || substr(md5('batch' || i), 1, 24), s.status, s.status,
         jsonb_build_object('total', 1000 + i % 5000, 'completed', 990 + i % 5000, 'failed', i % 10),
         CASE WHEN s.running THEN 0.4 ELSE 1 END,
         t.at - interval '1 minute', CASE WHEN s.running THEN NULL ELSE t.settled END, t.at + interval '24 hours',
         jsonb_build_object('id', p.prefix || substr(md5('batch' || i), 1, 24), 'object', 'batch', 'endpoint', '/v1/chat/completions',
           'input_file_id', 'file-' || substr(md5('in' || i), 1, 24), 'output_file_id', 'file-' || substr(md5('out' || i), 1, 24),
           'completion_window', '24h', 'metadata', jsonb_build_object('team', 'research', 'run', 'eval-' || i % 977)),
         t.at, 3 + i % 40, t.at + interval '30 minutes', CASE WHEN s.running THEN now() + interval '5 minutes' END,
         jsonb_build_array(jsonb_build_object('at', extract(epoch FROM t.at) * 1000, 'completed', 0, 'total', 1000)),
         1, CASE WHEN s.running THEN now() + interval '1 hour' END,
         CASE WHEN s.running THEN NULL ELSE t.settled END, CASE WHEN s.running THEN NULL ELSE s.status END,
         CASE WHEN s.running THEN NULL WHEN i % 4 = 0 THEN 'signal' ELSE 'poll' END,
         COALESCE(CASE WHEN s.running THEN NULL ELSE t.settled END, t.at)
       FROM generate_series(1, ${n}) i
       CROSS JOIN LATERAL (SELECT ${TRACKED_AT(n)} AS at, least(now() - interval '1 minute', ${TRACKED_AT(n)} + (1 + i % 20) * interval '1 hour') AS settled) t
       CROSS JOIN LATERAL (SELECT CASE WHEN i % 100 < 50 THEN 'openai' WHEN i % 100 < 65 THEN 'anthropic' WHEN i % 100 < 75 THEN 'gemini'
         WHEN i % 100 < 82 THEN 'azure' WHEN i % 100 < 88 THEN 'mistral' WHEN i % 100 < 93 THEN 'groq' WHEN i % 100 < 97 THEN 'together' ELSE 'xai' END AS provider) p0
       CROSS JOIN LATERAL (SELECT p0.provider, CASE p0.provider WHEN 'anthropic' THEN 'msgbatch_' WHEN 'gemini' THEN 'batches/' ELSE 'batch_' END AS prefix) p
       CROSS JOIN LATERAL (SELECT CASE WHEN p.provider <> 'openai' OR i % 50 > 3 THEN 'batch' WHEN i % 50 < 2 THEN 'response' WHEN i % 50 = 2 THEN 'fine_tuning_job' ELSE 'eval_run' END AS kind) k
       CROSS JOIN LATERAL (SELECT ${RUNNING(n)} AS running,
         CASE WHEN ${RUNNING(n)} THEN (CASE WHEN i % 10 = 0 THEN 'validating' WHEN i % 10 = 1 THEN 'in_progress' ELSE 'finalizing' END)
           WHEN i % 100 < 86 THEN 'completed' WHEN i % 100 < 92 THEN 'failed' WHEN i % 100 < 96 THEN 'expired' ELSE 'cancelled' END AS status) s`,
    );
    // Every job has a subscription by URL (1 % untracked); 40 % have a second one to an endpoint,
    // active for a quarter of them (the rest were untracked before the job ended).
    await step(
      "subscriptions",
      `INSERT INTO subscriptions (id, job_id, destination_key, webhook_url, endpoint_id, metadata, disabled_at, disabled_reason, created_at)
       SELECT ${seededUuid("'sub1-' || i")}, ${JOB_ID}, 'url:https://hooks.example.com/batchwatch/' || i % 50, 'https://hooks.example.com/batchwatch/' || i % 50, NULL,
         jsonb_build_object('run', 'eval-' || i % 977), CASE WHEN i % 100 = 7 THEN ${TRACKED_AT(n)} + interval '5 minutes' END,
         CASE WHEN i % 100 = 7 THEN 'untracked' END, ${TRACKED_AT(n)}
       FROM generate_series(1, ${n}) i
       UNION ALL
       SELECT ${seededUuid("'sub2-' || i")}, ${JOB_ID}, 'endpoint:' || ${seededUuid(`'endpoint' || (1 + i % ${SEED_ENDPOINTS})`)}, NULL, ${seededUuid(`'endpoint' || (1 + i % ${SEED_ENDPOINTS})`)},
         '{}'::jsonb, CASE WHEN i % 10 <> 0 THEN ${TRACKED_AT(n)} + interval '10 minutes' END, CASE WHEN i % 10 <> 0 THEN 'untracked' END,
         ${TRACKED_AT(n)} + interval '1 second'
       FROM generate_series(1, ${n}) i WHERE i % 5 IN (0, 1)`,
    );
    // One delivery per active subscription of a settled job: 96 % delivered, 3 % failed, the rest pending.
    await step(
      "deliveries",
      `INSERT INTO deliveries (id, job_id, subscription_id, endpoint_id, event_type, payload, status, attempt_count, last_status_code,
         last_error, last_attempt_at, delivered_at, failed_at, created_at, closed_reason)
       SELECT 'msg_' || substr(md5(s.id::text), 1, 24), s.job_id, s.id, s.endpoint_id, 'batch.' || j.status,
         jsonb_build_object('type', 'batch.' || j.status, 'id', j.batch_id, 'provider', j.provider, 'kind', j.kind, 'status', j.status,
           'requestCounts', j.request_counts, 'createdAt', j.provider_created_at, 'endedAt', j.provider_ended_at, 'metadata', s.metadata),
         d.status, CASE d.status WHEN 'failed' THEN 8 WHEN 'pending' THEN 1 ELSE 1 + (h % 3 = 0)::int END,
         CASE d.status WHEN 'delivered' THEN 200 WHEN 'failed' THEN 503 END, CASE d.status WHEN 'failed' THEN 'receiver answered 503' END,
         j.settled_at + interval '2 seconds', CASE d.status WHEN 'delivered' THEN j.settled_at + interval '2 seconds' END,
         CASE d.status WHEN 'failed' THEN j.settled_at + interval '6 hours' END, j.settled_at,
         CASE d.status WHEN 'failed' THEN 'gave_up' END
       FROM subscriptions s JOIN jobs j ON j.id = s.job_id
       CROSS JOIN LATERAL (SELECT hashtext(s.id::text) & 2147483647 AS h) hh
       CROSS JOIN LATERAL (SELECT CASE WHEN h % 100 < 3 AND j.settled_at < now() - interval '6 hours' THEN 'failed'
         WHEN h % 100 = 3 AND j.settled_at > now() - interval '10 minutes' THEN 'pending' ELSE 'delivered' END AS status) d
       WHERE j.settled_at IS NOT NULL AND s.disabled_at IS NULL`,
    );
    // Endpoint test pings (no job), a few a day.
    await step(
      "test deliveries",
      `INSERT INTO deliveries (id, job_id, endpoint_id, event_type, payload, status, attempt_count, last_status_code, delivered_at, created_at, last_attempt_at)
       SELECT 'msg_test' || i, NULL, ${seededUuid(`'endpoint' || (1 + i % ${SEED_ENDPOINTS})`)}, 'webhook.test', '{"type":"webhook.test"}'::jsonb, 'delivered', 1, 200,
         now() - i * interval '1 hour', now() - i * interval '1 hour', now() - i * interval '1 hour'
       FROM generate_series(1, ${SEED_DAYS * 4}) i`,
    );
    // Attempt 1 for every delivery; a second for a third of them; all eight for the failed ones.
    await step(
      "delivery attempts",
      `INSERT INTO delivery_attempts (delivery_id, run_id, attempt, attempted_at, status_code, duration_ms, error, response_body)
       SELECT d.id, 'run-' || substr(d.id, 5, 8), a, d.created_at + (a - 1) * interval '40 minutes',
         CASE WHEN d.status = 'failed' OR a < d.attempt_count THEN 503 ELSE 200 END, 40 + a * 7,
         CASE WHEN d.status = 'failed' OR a < d.attempt_count THEN 'receiver answered 503' END,
         CASE WHEN d.status = 'failed' OR a < d.attempt_count THEN 'Service Unavailable' ELSE 'ok' END
       FROM deliveries d CROSS JOIN LATERAL generate_series(1, d.attempt_count) a
       WHERE d.status <> 'pending'`,
    );
    // The timeline: tracked, subscribed, watch_started, polls, settled.
    await step(
      "timeline",
      `INSERT INTO job_events (job_id, at, type, detail)
       SELECT ${JOB_ID}, ${TRACKED_AT(n)} + e * interval '10 minutes',
         CASE WHEN e = 1 THEN 'tracked' WHEN e = 2 THEN 'subscribed' WHEN e = 3 THEN 'watch_started'
           WHEN e = ${options.timelinePerJob} AND NOT ${RUNNING(n)} THEN 'settled' ELSE 'polled' END,
         CASE WHEN e > 3 THEN jsonb_build_object('status', 'in_progress', 'requestCounts', jsonb_build_object('total', 1000, 'completed', e * 90, 'failed', 0),
           'nextPollAt', ${TRACKED_AT(n)} + (e + 1) * interval '10 minutes') ELSE '{}'::jsonb END
       FROM generate_series(1, ${n}) i CROSS JOIN generate_series(1, ${options.timelinePerJob}) e`,
    );
    // 2.9 events per job (watch requested, settled, delivery requested, and some signals), all sent
    // but five that a crash left unsent a while ago (the reconciler's stale outbox).
    await step(
      "outbox",
      `INSERT INTO outbox (event_id, name, data, created_at, sent_at)
       SELECT 'evt_' || e || '_' || substr(md5('evt' || i || '-' || e), 1, 20),
         CASE e WHEN 1 THEN 'batch/watch.requested' WHEN 2 THEN 'batch/settled' ELSE 'delivery/requested' END,
         jsonb_build_object('jobId', ${JOB_ID}, 'generation', 1), ${TRACKED_AT(n)} + e * interval '1 hour',
         CASE WHEN i <= 5 AND e = 1 THEN NULL ELSE ${TRACKED_AT(n)} + e * interval '1 hour' + interval '50 milliseconds' END
       FROM generate_series(1, ${n}) i CROSS JOIN generate_series(1, 3) e
       WHERE e < 3 OR i % 10 < 9`,
    );
    // Native events: OpenAI's up to now; Gemini's stopped 8 days ago (its signals are not live,
    // so the freshness check finds nothing: the slow case of a check that is not indexed).
    await step(
      "inbound events",
      `INSERT INTO inbound_events (source, webhook_id, event_type, object_id, payload, received_at, applied_at)
       SELECT j.provider, 'wh_' || substr(md5('wh' || j.id), 1, 24), 'batch.' || j.status, j.batch_id,
         jsonb_build_object('type', 'batch.' || j.status, 'data', jsonb_build_object('id', j.batch_id)), j.settled_at, j.settled_at + interval '1 second'
       FROM jobs j
       WHERE j.settled_by = 'signal' AND (j.provider = 'openai' OR (j.provider = 'gemini' AND j.settled_at < now() - interval '8 days'))`,
    );
    // Late subscribers: subscribed an hour ago to a job that settled before, no delivery yet.
    await step(
      "late subscribers",
      `INSERT INTO subscriptions (id, job_id, destination_key, webhook_url, metadata, created_at)
       SELECT ${seededUuid("'late-' || j.id")}, j.id, 'url:https://late.example.com/' || j.id, 'https://late.example.com/' || j.id, '{}'::jsonb, now() - interval '1 hour'
       FROM (SELECT id FROM jobs WHERE settled_at < now() - interval '2 hours' ORDER BY settled_at DESC LIMIT ${SEED_LATE_SUBSCRIBERS}) j`,
    );
    // Steady state: autovacuum has set the visibility map and the statistics.
    await step("vacuum analyze", "VACUUM ANALYZE");
    const [counts] = (
      await client.query<SeedCounts>(
        `SELECT (SELECT count(*) FROM jobs)::int AS jobs, (SELECT count(*) FROM jobs WHERE settled_at IS NULL)::int AS running,
           (SELECT count(*) FROM subscriptions)::int AS subscriptions, (SELECT count(*) FROM deliveries)::int AS deliveries,
           (SELECT count(*) FROM deliveries WHERE status = 'failed')::int AS "failedDeliveries",
           (SELECT count(*) FROM delivery_attempts)::int AS attempts, (SELECT count(*) FROM job_events)::int AS timeline,
           (SELECT count(*) FROM outbox)::int AS outbox, (SELECT count(*) FROM inbound_events)::int AS "inboundEvents"`,
      )
    ).rows;
    return { counts: counts!, elapsedMs };
  } finally {
    await client.end();
  }
}
