/**
 * Grafana alert rules on pgpulse queries, built with the foundation SDK and written as Grafana's
 * file-provisioning format (provisioning/alerting/*.yaml).
 *
 * Each rule: A = the pgpulse query, B = reduce A over the rule's window (nulls dropped: a gap is
 * not a zero), C = threshold on B (the condition).
 *
 * State choices, deliberately:
 * - noDataState OK for workload rules: an idle database, or a Neon endpoint scaled to zero, has no
 *   statements, no block reads and no locks. That is not a problem.
 * - execErrState Error for workload rules: a query that cannot run (pg_stat_statements missing,
 *   sidecar down) shows as an error, never as a silent OK.
 * - Vector rules use execErrState OK: on a target without pgvector the sidecar answers "needs the
 *   vector extension" by design, and that must not page anyone. With pgvector but probes off
 *   (they are opt-in) there is no data, which is OK too.
 * - The sampler watchdog alerts on both: it is the rule that exists to say "pgpulse cannot see
 *   the target". It never fires for scale-to-zero because sampler_staleness is 0 while the Neon
 *   endpoint is idle by design.
 */
import {
  QueryBuilder,
  RuleBuilder,
  RuleGroupBuilder,
  ContactPointBuilder,
  NotificationPolicyBuilder,
  type Rule,
} from '@grafana/grafana-foundation-sdk/alerting';
import { TypeReduceBuilder, TypeThresholdBuilder } from '@grafana/grafana-foundation-sdk/expr';
import { findMetric } from '../model/catalog';
import { DATASOURCE_UID, DASHBOARD_UIDS, FIXED_DATASOURCE, FOLDER_TITLE } from './constants';
import { PgpulseQueryBuilder, type PanelQueryOptions } from './pgpulse-query';

export const EXPR_UID = '__expr__';
const EXPR_DATASOURCE = { type: EXPR_UID, uid: EXPR_UID };
export const RULE_GROUP = 'pgpulse';
export const RULE_GROUP_INTERVAL_SECONDS = 60;
export const CONTACT_POINT = 'pgpulse-webhook';
/** Step of the alert query: one value per minute keeps a 15 s sampler's noise out of the reduction. */
export const ALERT_QUERY_INTERVAL_MS = 60_000;

type Reducer = 'mean' | 'max' | 'min' | 'last' | 'sum';
type Op = 'gt' | 'lt';

export interface AlertSpec {
  uid: string;
  title: string;
  metric: string;
  options?: Omit<PanelQueryOptions, 'target'>;
  /** how far back the query looks, seconds */
  windowSeconds: number;
  reducer: Reducer;
  op: Op;
  threshold: number;
  for: string;
  noDataState: 'OK' | 'NoData' | 'Alerting' | 'KeepLast';
  execErrState: 'OK' | 'Error' | 'Alerting' | 'KeepLast';
  severity: 'warning' | 'critical';
  summary: string;
  description: string;
  runbook: string;
  /** dashboard whose panel of the same metric the rule links to */
  dashboard: string;
}

const workload = { noDataState: 'OK', execErrState: 'Error' } as const;
/** Vector rules: quiet where pgvector or the probes are absent (see the header). */
const optionalFeature = { noDataState: 'OK', execErrState: 'OK' } as const;

/**
 * Wraparound thresholds. Not "above 50% of autovacuum_freeze_max_age": a busy healthy server lives
 * between vacuum_freeze_table_age (75% by default) and 100%, so that would page forever. 150% means
 * the anti-wraparound vacuums that start at 100% are not getting anywhere; 50% of 2^31 is still a
 * billion IDs from the stop, enough time to act, and never reached while freezing works.
 */
export const WRAPAROUND_FREEZE_RATIO = 1.5;
export const WRAPAROUND_LIMIT_RATIO = 0.5;
/** 1 GiB: several max_wal_size worth on default settings, yet far from filling a typical WAL disk. */
export const INACTIVE_SLOT_BYTES = 1024 ** 3;
/**
 * 5 minutes: a healthy standby replays within seconds, and a long query on it (max_standby_streaming_delay,
 * 30 s by default) holds replay back for less than this; beyond it reads on the standby are stale enough to matter.
 */
export const REPLICA_LAG_SECONDS = 300;

/** 5 minutes idle inside a transaction: well past any request's think time, while locks and the xmin horizon stay held. */
export const IDLE_IN_TRANSACTION_SECONDS = 300;
/** 1 hour: longer than any OLTP transaction; batch jobs that legitimately run longer get their own silence. */
export const LONG_TRANSACTION_SECONDS = 3600;
/** 80 % used: at a steady rate the remaining 20 % is usually months, time to migrate the column to bigint. */
export const SEQUENCE_USED_RATIO = 0.8;

/** load above the vCPUs on average: more sessions active than CPUs to run them */
export const LOAD_VCPU_RATIO = 1;

export const SLOW_STATEMENT_MS = 100;
export const SLOW_STATEMENT_MIN_CALLS = 10;
export const SLOW_STATEMENT_COUNT = 3;

/** The rules, in the order they appear in Grafana. Vector rules join when the catalog has the metrics. */
export function alertSpecs(): AlertSpec[] {
  const specs: AlertSpec[] = [
    {
      uid: 'pgpulse-cache-hit-ratio-low',
      title: 'PostgreSQL cache hit ratio low',
      metric: 'cache_hit_ratio',
      windowSeconds: 600,
      reducer: 'mean',
      op: 'lt',
      threshold: 0.98,
      for: '10m',
      ...workload,
      severity: 'warning',
      summary:
        'Cache hit ratio of {{ $labels.datname }} is {{ humanizePercentage $values.B.Value }} (below 98%) over the last 10 minutes.',
      description:
        'Share of block reads served from shared buffers, Δblks_hit / (Δblks_hit + Δblks_read) over 1-minute steps, averaged over 10 minutes. Below 98% the working set no longer fits in shared_buffers (on Neon: the local file cache) and reads go to disk or storage.',
      runbook:
        'Open pgpulse / Indexes & tables and Queries: find the statements and tables with the most block reads. Check for new sequential scans (missing index), a grown table or index (compare with shared_buffers), or a one-off batch job. Fix the plan first; raise shared_buffers / the Neon compute size only if the working set truly grew. A database with very few reads can dip on a handful of cold pages: then raise the threshold for it or silence it.',
      dashboard: DASHBOARD_UIDS.overview,
    },
    {
      uid: 'pgpulse-slow-statements',
      title: 'PostgreSQL slow statements',
      metric: 'slow_statements',
      options: { threshold: SLOW_STATEMENT_MS, minCalls: SLOW_STATEMENT_MIN_CALLS },
      windowSeconds: 600,
      reducer: 'max',
      op: 'gt',
      threshold: SLOW_STATEMENT_COUNT,
      for: '10m',
      ...workload,
      severity: 'warning',
      summary: '{{ $values.B.Value }} statements average at least ' + SLOW_STATEMENT_MS + ' ms per call.',
      description: `Number of pg_stat_statements entries whose mean time per call within a 1-minute step (Δtotal_exec_time / Δcalls) is at least ${SLOW_STATEMENT_MS} ms with at least ${SLOW_STATEMENT_MIN_CALLS} calls; highest step of the last 10 minutes is above ${SLOW_STATEMENT_COUNT}.`,
      runbook:
        'Open pgpulse / Queries, order Top queries by mean time and drill into the worst queryid. Run EXPLAIN (ANALYZE, BUFFERS) on a representative call; look for sequential scans on large tables, sorts and hashes spilling to temp files (raise work_mem for that role or add an index), lock waits (Blocked queries), or a plan change after ANALYZE. Check `pgpulse advise` for index recommendations.',
      dashboard: DASHBOARD_UIDS.queries,
    },
    {
      uid: 'pgpulse-long-running-query',
      title: 'PostgreSQL long-running query',
      metric: 'longest_query_seconds',
      windowSeconds: 300,
      reducer: 'max',
      op: 'gt',
      threshold: 300,
      for: '1m',
      ...workload,
      severity: 'warning',
      summary: 'A statement has been running for {{ humanizeDuration $values.B.Value }}.',
      description:
        'Age of the longest-running active statement (now − query_start in pg_stat_activity), highest sample of the last 5 minutes, is above 5 minutes.',
      runbook:
        "Find it: SELECT pid, usename, now() - query_start AS age, wait_event_type, query FROM pg_stat_activity WHERE state = 'active' ORDER BY age DESC. If it is a known report or migration, let it finish. Otherwise check whether it waits on a lock (Blocked queries panel) and, with the owner's agreement, SELECT pg_cancel_backend(pid). Long statements hold back VACUUM (xmin horizon): set statement_timeout for application roles.",
      dashboard: DASHBOARD_UIDS.overview,
    },
    {
      uid: 'pgpulse-blocked-queries',
      title: 'PostgreSQL queries blocked on locks',
      metric: 'blocked_queries',
      windowSeconds: 300,
      reducer: 'min',
      op: 'gt',
      threshold: 0,
      for: '5m',
      ...workload,
      severity: 'warning',
      summary: '{{ $values.B.Value }} backends have waited on locks held by others for 5 minutes.',
      description:
        'Backends waiting on a lock held by another backend (pg_blocking_pids): the lowest sample of the last 5 minutes is above 0, so something has been blocked the whole time, not just a brief contention.',
      runbook:
        'Find the blocker: SELECT pid, pg_blocking_pids(pid) AS blocked_by, now() - xact_start AS xact_age, state, query FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0. The blocker is often a session "idle in transaction" or a DDL statement (ALTER TABLE) queued behind a long reader. End the blocking transaction in the application; as a last resort pg_terminate_backend(blocker_pid). Set lock_timeout for DDL and idle_in_transaction_session_timeout.',
      dashboard: DASHBOARD_UIDS.overview,
    },
    {
      uid: 'pgpulse-connection-saturation',
      title: 'PostgreSQL connections near max_connections',
      metric: 'connection_utilization',
      windowSeconds: 300,
      reducer: 'max',
      op: 'gt',
      threshold: 0.8,
      for: '5m',
      ...workload,
      severity: 'critical',
      summary: 'Connections use {{ humanizePercentage $values.B.Value }} of max_connections.',
      description:
        'All backends / max_connections, highest sample of the last 5 minutes, has stayed above 80%. At 100% new clients get "too many clients already".',
      runbook:
        'Open pgpulse / Overview, Connections by state: many "idle" connections mean an oversized application pool; many "idle in transaction" mean a leak (set idle_in_transaction_session_timeout). Put a pooler in front (PgBouncer in transaction mode; on Neon use the -pooler endpoint) rather than raising max_connections, which costs memory per backend.',
      dashboard: DASHBOARD_UIDS.overview,
    },
    {
      uid: 'pgpulse-sampler-stale',
      title: 'pgpulse cannot sample the target',
      metric: 'sampler_staleness',
      windowSeconds: 300,
      reducer: 'last',
      op: 'gt',
      threshold: 180,
      for: '2m',
      noDataState: 'Alerting',
      execErrState: 'Alerting',
      severity: 'critical',
      summary: 'pgpulse has had no successful sample of the target for {{ humanizeDuration $values.B.Value }}.',
      description:
        'Seconds since the sidecar last sampled the target is above 3 minutes (12 sampling intervals at the default 15 s). It stays 0 while a Neon endpoint is idle by design, so scale-to-zero never fires this rule. Also fires when the sidecar does not answer at all (no data or query error): then every other pgpulse rule is blind.',
      runbook:
        'Run `pgpulse doctor` (or GET /healthz on the sidecar) to see the last sampling error. Typical causes: the database is down or unreachable from the sidecar (network, DNS, TLS), the monitoring role\'s password changed or it lost pg_monitor, max_connections exhausted, or the sidecar container stopped (docker compose ps). The Grafana datasource "Save & test" tells whether Grafana reaches the sidecar.',
      dashboard: DASHBOARD_UIDS.overview,
    },
    {
      uid: 'pgpulse-deadlocks',
      title: 'PostgreSQL deadlocks',
      metric: 'deadlocks',
      windowSeconds: 900,
      reducer: 'sum',
      op: 'gt',
      threshold: 0,
      for: '0s',
      ...workload,
      severity: 'warning',
      summary: '{{ $values.B.Value }} deadlocks in {{ $labels.datname }} in the last 15 minutes.',
      description:
        'Deadlocks detected (Δdeadlocks from pg_stat_database) summed over the last 15 minutes. PostgreSQL resolved each by aborting one transaction, which the application saw as an error.',
      runbook:
        'The server log has the two statements of every deadlock ("deadlock detected", with log_lock_waits on). Make transactions touch rows and tables in the same order, keep them short, and retry on SQLSTATE 40P01 in the application.',
      dashboard: DASHBOARD_UIDS.overview,
    },
    {
      uid: 'pgpulse-wraparound-vacuum-behind',
      title: 'PostgreSQL anti-wraparound vacuum falling behind',
      metric: 'wraparound_freeze_ratio',
      windowSeconds: 1800,
      reducer: 'min',
      op: 'gt',
      threshold: WRAPAROUND_FREEZE_RATIO,
      for: '30m',
      ...workload,
      severity: 'warning',
      summary:
        '{{ $labels.kind }} age of {{ $labels.datname }} has stayed at {{ humanizePercentage $values.B.Value }} of its autovacuum freeze max age for an hour.',
      description: `age(datfrozenxid) / autovacuum_freeze_max_age (kind xid) or mxid_age(datminmxid) / autovacuum_multixact_freeze_max_age (kind multixact) has stayed above ${WRAPAROUND_FREEZE_RATIO * 100}% for 30 minutes (then 30 minutes pending). A busy healthy server sits between 75% (vacuum_freeze_table_age) and 100%, where autovacuum starts anti-wraparound vacuums; staying far above means those vacuums cannot finish or cannot advance the horizon.`,
      runbook:
        "Find the oldest tables: SELECT c.oid::regclass, age(c.relfrozenxid) FROM pg_class c WHERE c.relkind IN ('r','m','t') ORDER BY 2 DESC LIMIT 10. Check what holds the xmin horizon back: long transactions and idle in transaction sessions (pg_stat_activity.backend_xmin), prepared transactions (pg_prepared_xacts), replication slots (pg_replication_slots.xmin / catalog_xmin, see the Vitals dashboard), hot_standby_feedback from a lagging standby. Remove the holder, then run VACUUM (FREEZE, VERBOSE) on the oldest tables; check autovacuum is on and not cancelled by lock conflicts (log_autovacuum_min_duration).",
      dashboard: DASHBOARD_UIDS.vitals,
    },
    {
      uid: 'pgpulse-wraparound-near-limit',
      title: 'PostgreSQL transaction ID wraparound approaching',
      metric: 'wraparound_limit_ratio',
      windowSeconds: 300,
      reducer: 'max',
      op: 'gt',
      threshold: WRAPAROUND_LIMIT_RATIO,
      for: '5m',
      ...workload,
      severity: 'critical',
      summary:
        '{{ $labels.kind }} age of {{ $labels.datname }} is {{ humanizePercentage $values.B.Value }} of the 2^31 wraparound limit.',
      description: `age(datfrozenxid) or mxid_age(datminmxid) is above ${WRAPAROUND_LIMIT_RATIO * 100}% of 2^31 (about a billion IDs left). At 100% PostgreSQL refuses every statement that needs a new transaction ID until the database is vacuumed; with default settings nothing gets here unless freezing has been failing for a long time.`,
      runbook:
        'Treat as an incident: at the current XID rate (pgpulse / Overview, Transactions per second) compute the time left. Remove what holds the xmin horizon back (long or idle in transaction sessions, prepared transactions, stale replication slots, a standby with hot_standby_feedback), then VACUUM (FREEZE, VERBOSE) the tables with the highest age(relfrozenxid) in that database, largest first, with maintenance_work_mem raised; do not cancel the anti-wraparound autovacuum. Do not restart: it does not help and loses progress.',
      dashboard: DASHBOARD_UIDS.vitals,
    },
    {
      uid: 'pgpulse-inactive-slot-retaining-wal',
      title: 'PostgreSQL inactive replication slot retaining WAL',
      metric: 'inactive_slot_retained_wal',
      windowSeconds: 900,
      reducer: 'min',
      op: 'gt',
      threshold: INACTIVE_SLOT_BYTES,
      for: '15m',
      ...workload,
      severity: 'warning',
      summary:
        'Replication slot {{ $labels.slot_name }} has no consumer and keeps {{ humanize1024 $values.B.Value }}B of WAL.',
      description: `A replication slot with no consumer attached (pg_replication_slots.active false) has kept more than 1 GiB of WAL (pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) for the whole last 15 minutes. Nothing removes that WAL until the consumer returns or the slot is dropped: left alone it fills the WAL disk and the server stops. A standby restarting briefly does not fire this (the slot must stay inactive for 30 minutes in all).`,
      runbook:
        "See which slot and whose: SELECT slot_name, slot_type, database, active, restart_lsn, wal_status FROM pg_replication_slots. If the standby or subscriber is gone for good, SELECT pg_drop_replication_slot('name') (a logical subscriber then needs a new initial sync). If it is coming back, check the disk headroom of pg_wal and consider max_slot_wal_keep_size (PG13+) so a forgotten slot is invalidated instead of stopping the server.",
      dashboard: DASHBOARD_UIDS.vitals,
    },
    {
      uid: 'pgpulse-replica-lag',
      title: 'PostgreSQL standby replay lag',
      metric: 'standby_replay_lag_seconds',
      windowSeconds: 600,
      reducer: 'min',
      op: 'gt',
      threshold: REPLICA_LAG_SECONDS,
      for: '5m',
      ...workload,
      severity: 'warning',
      summary:
        'Standby {{ $labels.application_name }} ({{ $labels.client_addr }}) replays {{ humanizeDuration $values.B.Value }} behind the primary.',
      description: `pg_stat_replication.replay_lag of a standby, as seen by the primary, has stayed above ${REPLICA_LAG_SECONDS / 60} minutes for the last 10 minutes (then 5 minutes pending). Queries on that standby see data that old; with synchronous_commit = remote_apply commits on the primary wait for it; a failover to it would lose nothing but takes longer to finish replay. No standby, or a caught-up one on an idle primary (replay_lag NULL), never fires this.`,
      runbook:
        "On the primary: SELECT application_name, client_addr, state, pg_wal_lsn_diff(pg_current_wal_lsn(), write_lsn) AS write_bytes, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) AS replay_bytes, write_lag, replay_lag FROM pg_stat_replication. Write lag as large as replay lag: the network or the standby's disk cannot keep up (compare the WAL rate on the Vitals dashboard with the link). Only replay lag: on the standby check SELECT pg_get_wal_replay_pause_state() (someone paused replay: pg_wal_replay_resume()), long queries holding replay back (max_standby_streaming_delay, pg_stat_database_conflicts), and the standby's I/O. A standby that cannot catch up keeps WAL on the primary through its slot (see the Replication slots row).",
      dashboard: DASHBOARD_UIDS.vitals,
    },
    {
      uid: 'pgpulse-idle-in-transaction',
      title: 'PostgreSQL session idle in transaction too long',
      metric: 'idle_in_transaction_age',
      windowSeconds: 300,
      reducer: 'last',
      op: 'gt',
      threshold: IDLE_IN_TRANSACTION_SECONDS,
      for: '2m',
      ...workload,
      severity: 'warning',
      summary: 'A session has been idle inside its transaction for {{ humanizeDuration $values.B.Value }}.',
      description: `The longest time a session has sat in state "idle in transaction" (now − state_change in pg_stat_activity), latest sample, is above ${IDLE_IN_TRANSACTION_SECONDS / 60} minutes, and stayed so for 2 more. Such a session keeps its locks and its snapshot: VACUUM cannot remove rows deleted since it began, and DDL on its tables queues behind it.`,
      runbook:
        "Open pgpulse / Vitals, Transactions left open: the Oldest transactions table names pid, user, application and the last statement. It is almost always an application that opened a transaction and waits on something else (a remote call, user input) or leaked a connection without COMMIT/ROLLBACK. Fix the code path; meanwhile set idle_in_transaction_session_timeout (per role: ALTER ROLE app SET idle_in_transaction_session_timeout = '5min') and, with the owner's agreement, SELECT pg_terminate_backend(pid).",
      dashboard: DASHBOARD_UIDS.vitals,
    },
    {
      uid: 'pgpulse-long-transaction',
      title: 'PostgreSQL long-running transaction',
      metric: 'oldest_transaction_age',
      windowSeconds: 300,
      reducer: 'last',
      op: 'gt',
      threshold: LONG_TRANSACTION_SECONDS,
      for: '5m',
      ...workload,
      severity: 'warning',
      summary: 'A transaction in state {{ $labels.state }} has been open for {{ humanizeDuration $values.B.Value }}.',
      description: `Age of the oldest open transaction (now − xact_start in pg_stat_activity) in a state, latest sample, is above ${LONG_TRANSACTION_SECONDS / 3600} hour for 5 minutes. Until it ends, VACUUM keeps every row version it might still see (tables and indexes bloat) and its locks stay held.`,
      runbook:
        'Open pgpulse / Vitals, Oldest transactions: who (user, application), which statement, and its xmin age. A report or migration may be expected: then let it finish or move it to a standby. Otherwise ask the owner and end it: SELECT pg_cancel_backend(pid) for an active statement, pg_terminate_backend(pid) for an idle one. Prevent: statement_timeout and idle_in_transaction_session_timeout for application roles, transaction_timeout on PostgreSQL 17+.',
      dashboard: DASHBOARD_UIDS.vitals,
    },
    {
      uid: 'pgpulse-sequence-near-exhaustion',
      title: 'PostgreSQL sequence near exhaustion',
      metric: 'sequence_used_ratio',
      windowSeconds: 3600,
      reducer: 'last',
      op: 'gt',
      threshold: SEQUENCE_USED_RATIO,
      for: '15m',
      ...workload,
      severity: 'warning',
      summary:
        'Sequence {{ $labels.schemaname }}.{{ $labels.sequence_name }} in {{ $labels.datname }} has used {{ humanizePercentage $values.B.Value }} of its values.',
      description: `(last_value − first) / (limit − first) of a sequence is above ${SEQUENCE_USED_RATIO * 100}%, where the limit is the tighter of the sequence's own bound and the type of the columns it feeds (a bigint sequence behind an int4 column fails at 2^31 − 1). When it runs out every INSERT that needs a value fails ("nextval: reached maximum value" or "integer out of range"). Only sequences pgpulse's role can read (SELECT on the sequence) and only in the database it connects to.`,
      runbook:
        'Open pgpulse / Vitals, Sequences near exhaustion: the table names the columns it feeds and their types. Usual fix: widen the column to bigint (ALTER TABLE … ALTER COLUMN … TYPE bigint rewrites the table: on a large one add a new bigint column, backfill in batches, and swap in a short lock) and ALTER SEQUENCE … AS bigint. A cycling sequence wraps around instead and collides with existing keys. Time left: values left / the insert rate of the table.',
      dashboard: DASHBOARD_UIDS.vitals,
    },
    {
      uid: 'pgpulse-load-above-vcpus',
      title: 'PostgreSQL database load above vCPUs',
      metric: 'db_load_vcpu_ratio',
      windowSeconds: 900,
      reducer: 'mean',
      op: 'gt',
      threshold: LOAD_VCPU_RATIO,
      for: '15m',
      ...workload,
      severity: 'warning',
      summary:
        'Database load is {{ humanizePercentage $values.B.Value }} of the vCPUs (average active sessions above the number of vCPUs) over the last 15 minutes.',
      description: `Average active sessions (the 1 s activity sampler: active backends of pg_stat_activity, Σ sessions / ticks), divided by the vCPUs (neon_utils.num_cpus() on Neon, else activity.vcpus of the target config), averaged over 15 minutes, has been above ${LOAD_VCPU_RATIO * 100}% for 15 more. More sessions are active than there are CPUs: they queue for CPU or wait on locks, I/O or the client. Without a vCPU figure the rule has no data and stays OK.`,
      runbook:
        'Open pgpulse / Load. The stacked load says what the sessions wait on: CPU (busy statements: see Top statements by load, then their plans), Lock (click Lock/transactionid or Lock/relation to see who waits; Connections & locks shows the blockers), IO (reads that miss the cache: Indexes & tables, cache hit ratio), LWLock (contention on buffers, WAL or the lock manager), Client/IPC. Fix the top statement first (index, plan, batch size); split or reschedule batch jobs; only then add vCPUs. On Neon, raise the autoscaling maximum if the load sits at the vCPUs of the largest size.',
      dashboard: DASHBOARD_UIDS.load,
    },
    {
      uid: 'pgpulse-neon-compute-over-allowance',
      title: 'Neon compute on course to exceed its allowance',
      metric: 'neon_compute_forecast_ratio',
      windowSeconds: 3600,
      reducer: 'last',
      op: 'gt',
      threshold: 1,
      for: '1h',
      ...workload,
      severity: 'warning',
      summary:
        'Neon compute forecast for this billing period is {{ humanizePercentage $values.B.Value }} of the configured allowance.',
      description:
        "Straight-line forecast of the project's CU-hours (compute_time_seconds from the Neon API) to the end of the billing period, divided by neon.computeAllowanceCuHours. Above 100% the project is on course to exceed it. Quiet without a Neon target or an allowance in the config.",
      runbook:
        'Open pgpulse / Neon, row Cost and scale to zero: see which active periods kept the compute awake (clients by application, user and database; walsenders; subscriptions). Typical causes: a client polling more often than every 5 minutes, a connection pool keeping sessions busy, logical replication, or a minimum compute size above what the working set needs. Each wake bills at least the suspend timeout.',
      dashboard: DASHBOARD_UIDS.neon,
    },
  ];
  return [...specs, ...vectorAlertSpecs()];
}

/** The sidecar's default vector.probes.targetRecall (src/sidecar/vector/config.ts). */
export const VECTOR_TARGET_RECALL = 0.95;
export const VECTOR_LATENCY_MS = 100;

/** Vector rules, for the vector metrics the catalog marks alertable. */
export function vectorAlertSpecs(): AlertSpec[] {
  const out: AlertSpec[] = [];
  const opts = (metric: string) => {
    const def = findMetric(metric);
    // Grafana expressions cannot pick series by label: without efSearch the sidecar answers only the
    // session's own ef_search / probes, and the latency rule asks for one quantile
    return def?.alertable && def.options.includes('efSearch') ? def : undefined;
  };
  const probeNote = `Probes are opt-in per target (vector.probes.enabled in the sidecar config); without them this rule has no data and stays OK. It watches the series at the session's own ef_search / probes: what the application's queries get.`;
  const recall = opts('vector_recall');
  if (recall) {
    out.push({
      uid: 'pgpulse-vector-recall-low',
      title: 'pgvector recall below target',
      metric: 'vector_recall',
      options: {},
      windowSeconds: 1800,
      reducer: 'last',
      op: 'lt',
      threshold: VECTOR_TARGET_RECALL,
      for: '15m',
      ...optionalFeature,
      severity: 'warning',
      summary: `recall@{{ $labels.k }} of index {{ $labels.index }} at ef_search={{ $labels.ef_search }} is {{ humanizePercentage $values.B.Value }} (target ${VECTOR_TARGET_RECALL * 100}%).`,
      description: `${recall.description} The latest probe run in the last 30 minutes is below ${VECTOR_TARGET_RECALL}. ${probeNote}`,
      runbook:
        'Open pgpulse / Vector search: the Vector indexes table names the smallest ef_search (or probes) that reaches the target recall. Raise hnsw.ef_search (or ivfflat.probes) for the searching role (ALTER ROLE … SET hnsw.ef_search = …) and watch probe latency. With filters, enable iterative scans (pgvector 0.8+: hnsw.iterative_scan = relaxed_order). Dead tuples take ef_search slots: VACUUM the table. An IVFFlat index built on little data needs a rebuild (lists ≈ rows / 1000).',
      dashboard: DASHBOARD_UIDS.vector,
    });
  }
  const latency = opts('vector_probe_latency');
  if (latency) {
    out.push({
      uid: 'pgpulse-vector-latency-high',
      title: 'pgvector probe latency high',
      metric: 'vector_probe_latency',
      options: { quantile: 'p95' },
      windowSeconds: 1800,
      reducer: 'last',
      op: 'gt',
      threshold: VECTOR_LATENCY_MS,
      for: '15m',
      ...optionalFeature,
      severity: 'warning',
      summary: `p95 latency of ANN probes on index {{ $labels.index }} at ef_search={{ $labels.ef_search }} is {{ $values.B.Value }} ms (above ${VECTOR_LATENCY_MS} ms).`,
      description: `${latency.description} The latest probe run in the last 30 minutes is above ${VECTOR_LATENCY_MS} ms. Only the p95 series is evaluated (quantile: p95). ${probeNote}`,
      runbook:
        'Open pgpulse / Vector search. Compare the index size with shared_buffers (and the Neon local file cache): an HNSW index that no longer fits in memory makes latency jump while the buffer hit ratio barely moves; give the compute more memory, use halfvec for large dimensions, or partition. Check the Vector queries table for queries not using their index (operator / opclass mismatch, no LIMIT) and for filters walking hnsw.max_scan_tuples with iterative scans. A higher ef_search raises latency: pick the smallest that meets the recall target.',
      dashboard: DASHBOARD_UIDS.vector,
    });
  }
  return out;
}

function rule(spec: AlertSpec): RuleBuilder {
  const relative = { from: spec.windowSeconds, to: 0 };
  const query = new PgpulseQueryBuilder(spec.metric, { ...spec.options }).refId('A').datasource(FIXED_DATASOURCE);
  return new RuleBuilder(spec.title)
    .uid(spec.uid)
    .ruleGroup(RULE_GROUP)
    .condition('C')
    .withQuery(new QueryBuilder('A').datasourceUid(DATASOURCE_UID).relativeTimeRange(relative).model(query))
    .withQuery(
      new QueryBuilder('B')
        .datasourceUid(EXPR_UID)
        .relativeTimeRange(relative)
        .model(
          new TypeReduceBuilder()
            .refId('B')
            .datasource(EXPR_DATASOURCE)
            .expression('A')
            .reducer(spec.reducer)
            .settings({ mode: 'dropNN' })
        )
    )
    .withQuery(
      new QueryBuilder('C')
        .datasourceUid(EXPR_UID)
        .relativeTimeRange(relative)
        .model(
          new TypeThresholdBuilder()
            .refId('C')
            .datasource(EXPR_DATASOURCE)
            .expression('B')
            .conditions([{ evaluator: { type: spec.op, params: [spec.threshold] } }])
        )
    )
    .forDuration(spec.for)
    .noDataState(spec.noDataState)
    .execErrState(spec.execErrState)
    .labels({ severity: spec.severity, source: 'pgpulse', metric: spec.metric })
    .annotations({ summary: spec.summary, description: spec.description, runbook: spec.runbook });
}

/** Strip the SDK's marker methods and undefined fields: what Grafana reads is plain data. */
function plain<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** provisioning/alerting/rules.yaml as an object. panelFor links a rule to its dashboard panel. */
export function rulesFile(panelFor: (dashboardUid: string, metric: string) => number | undefined) {
  const specs = alertSpecs();
  const group = new RuleGroupBuilder(RULE_GROUP).interval(RULE_GROUP_INTERVAL_SECONDS);
  for (const s of specs) {
    group.withRule(rule(s));
  }
  const built = plain(group.build());
  return {
    apiVersion: 1,
    groups: [
      {
        orgId: 1,
        name: built.title,
        folder: FOLDER_TITLE,
        interval: `${built.interval}s`,
        rules: (built.rules ?? []).map((r: Rule, i: number) => {
          const spec = specs[i];
          const panelId = panelFor(spec.dashboard, spec.metric);
          return {
            uid: r.uid,
            title: r.title,
            condition: r.condition,
            data: r.data.map((q) => ({
              refId: q.refId,
              relativeTimeRange: q.relativeTimeRange,
              datasourceUid: q.datasourceUid,
              model: {
                ...q.model,
                ...(q.datasourceUid === DATASOURCE_UID
                  ? { intervalMs: ALERT_QUERY_INTERVAL_MS, maxDataPoints: 43200 }
                  : {}),
              },
            })),
            ...(panelId !== undefined ? { dashboardUid: spec.dashboard, panelId } : {}),
            noDataState: r.noDataState,
            execErrState: r.execErrState,
            for: r.for,
            annotations: r.annotations,
            labels: r.labels,
            isPaused: false,
          };
        }),
      },
    ],
  };
}

/** Contact point and notification policy: every pgpulse alert goes to the webhook. */
export function notificationsFile() {
  const cp = plain(
    new ContactPointBuilder()
      .uid(CONTACT_POINT)
      .name(CONTACT_POINT)
      .type('webhook')
      // Grafana substitutes the environment variable when it reads the file (settings are interpolated).
      .settings({ url: '$PGPULSE_ALERT_WEBHOOK_URL', httpMethod: 'POST' })
      .disableResolveMessage(false)
      .build()
  );
  const policy = plain(
    new NotificationPolicyBuilder()
      .receiver(CONTACT_POINT)
      .groupBy(['grafana_folder', 'alertname'])
      .groupWait('30s')
      .groupInterval('5m')
      .repeatInterval('4h')
      .build()
  );
  return {
    apiVersion: 1,
    contactPoints: [
      {
        orgId: 1,
        name: cp.name,
        receivers: [
          { uid: cp.uid, type: cp.type, settings: cp.settings, disableResolveMessage: cp.disableResolveMessage },
        ],
      },
    ],
    policies: [{ orgId: 1, ...policy }],
  };
}

/**
 * The alert queries alone (refId A of each rule), for the Go conformance harness: it runs each
 * through the plugin protocol and applies the Go SDK's alerting-shape check.
 */
export function alertQueriesFile() {
  return {
    description:
      'Generated by `npm run dashboards` from src/dashboards/alerts.ts: the pgpulse query (refId A) of every provisioned alert rule. Frames must be timeseries-multi or numeric-multi.',
    datasourceUid: DATASOURCE_UID,
    queries: alertSpecs().map((s) => ({
      rule: s.uid,
      refId: 'A',
      relativeTimeRange: { from: s.windowSeconds, to: 0 },
      intervalMs: ALERT_QUERY_INTERVAL_MS,
      query: { refId: 'A', metric: s.metric, ...(s.options ?? {}) },
      acceptedFrameTypes: ['timeseries-multi', 'numeric-multi'],
    })),
  };
}
