import type { MetricDef } from './types';

/**
 * Database load (active session history): a separate 1 s sampler per target (src/sidecar/activity)
 * counts the active sessions of pg_stat_activity by wait event, statement (query_id) and client,
 * and writes one bucket per sampling interval. Load = average active sessions (AAS) = Σ sessions
 * seen / ticks, the measure AWS Performance Insights calls "DB load"; an active session with no
 * wait event is on CPU (or waiting on something PostgreSQL does not instrument), labelled "CPU".
 */

/** the label of an active session without a wait event, as Performance Insights shows it */
export const CPU_LABEL = 'CPU';

/**
 * One tick: active backends grouped by what they wait on, their statement and client. pgpulse's
 * own backends are left out by pid ($OWN_PIDS is replaced by an integer array literal built from
 * the pids of this process's connections) and, for those the pids cannot name (behind a
 * transaction pooler the pids are the pooler's; other pgpulse processes), as sessions of
 * pgpulse's own role named pgpulse… — a name alone proves nothing, the role needs its
 * credentials. Idle, idle-in-transaction sessions and walsenders (always "active", waiting for
 * WAL to send) are not load.
 */
export const ACTIVITY_TICK_SQL = `SELECT coalesce(a.wait_event_type, '${CPU_LABEL}') AS wait_event_type,
       coalesce(a.wait_event, '${CPU_LABEL}') AS wait_event,
       a.query_id::text AS queryid,
       coalesce(a.datname::text, '') AS datname,
       coalesce(a.usename::text, '') AS usename,
       coalesce(a.application_name, '') AS application_name,
       (a.backend_type = 'client backend') AS client,
       count(*)::int AS sessions
FROM pg_catalog.pg_stat_activity a
WHERE a.state = 'active'
  AND a.backend_type IN ('client backend', 'parallel worker', 'autovacuum worker')
  AND a.pid <> pg_catalog.pg_backend_pid()
  AND a.pid <> ALL ($OWN_PIDS::int[])
  AND NOT (a.usename = CURRENT_USER AND coalesce(a.application_name, '') LIKE 'pgpulse%')
GROUP BY 1, 2, 3, 4, 5, 6, 7`;

/** read once per bucket with the tick: whether sessions carry a query_id at all */
export const COMPUTE_QUERY_ID_SQL = `SELECT pg_catalog.current_setting('compute_query_id') AS compute_query_id`;

/** Neon: vCPUs of the compute now (autoscaling changes it), read once per bucket where neon_utils is installed */
export const NEON_NUM_CPUS_SQL = `SELECT @extschema:neon_utils@.num_cpus()::float8 AS vcpus`;

const AAS =
  'Average active sessions (AAS) in each step = Σ active sessions seen by the 1 s activity sampler / its ticks';

export const loadMetrics: MetricDef[] = [
  {
    id: 'db_load',
    title: 'Database load by wait event type',
    description: `${AAS}, one series per wait_event_type of pg_stat_activity; "CPU" = active without a wait event. Stacked, the total is the database load; compare it with the vCPUs.`,
    unit: 'short',
    kind: 'series',
    area: 'Load',
    options: ['database', 'queryid', 'waitEvent', 'legend'],
    compute: { op: 'custom', handler: 'db_load', collector: 'load' },
    alertable: true,
    defaultLegend: '{{wait_event_type}}',
  },
  {
    id: 'db_load_vcpus',
    title: 'vCPUs',
    description:
      'The number of vCPUs the load is measured against: neon_utils.num_cpus() on Neon (follows autoscaling), else activity.vcpus of the target config. Load above it means sessions queue for CPU or wait.',
    unit: 'short',
    kind: 'series',
    area: 'Load',
    options: ['legend'],
    compute: { op: 'custom', handler: 'db_load_vcpus', collector: 'load_ticks' },
    alertable: true,
    defaultLegend: 'vCPUs',
  },
  {
    id: 'db_load_vcpu_ratio',
    title: 'Database load per vCPU',
    description: `${AAS}, all sessions, divided by the vCPUs (neon_utils.num_cpus() on Neon, else activity.vcpus). Above 1 more sessions are active than there are CPUs.`,
    unit: 'percentunit',
    kind: 'series',
    area: 'Load',
    options: ['legend'],
    compute: { op: 'custom', handler: 'db_load_vcpu_ratio', collector: 'load' },
    alertable: true,
    defaultLegend: 'load / vCPUs',
  },
  {
    id: 'db_load_wait_events',
    title: 'Top wait events',
    description: `Wait events by their share of the load over the selected range: ${AAS.replace(' in each step', '')}, per wait_event_type / wait_event ("CPU" = active without a wait event).`,
    unit: 'short',
    kind: 'table',
    area: 'Load',
    options: ['database', 'queryid', 'topN'],
    defaults: { topN: 20 },
    compute: { op: 'custom', handler: 'db_load_wait_events', collector: 'load' },
    alertable: false,
  },
  {
    id: 'db_load_statements',
    title: 'Top statements by load',
    description: `Statements (pg_stat_activity.query_id = pg_stat_statements queryid, PG14+ compute_query_id) by their share of the load over the selected range, with their main wait event and text. With a wait event set: only the sessions waiting on it (drill-down).`,
    unit: 'short',
    kind: 'table',
    area: 'Load',
    options: ['database', 'waitEvent', 'topN'],
    defaults: { topN: 20 },
    compute: { op: 'custom', handler: 'db_load_statements', collector: 'load' },
    alertable: false,
  },
  {
    id: 'db_load_by_database',
    title: 'Database load by database',
    description: `${AAS}, one series per database.`,
    unit: 'short',
    kind: 'series',
    area: 'Load',
    options: ['database', 'waitEvent', 'legend'],
    compute: { op: 'custom', handler: 'db_load_by_database', collector: 'load' },
    alertable: true,
    defaultLegend: '{{datname}}',
  },
  {
    id: 'db_load_by_user',
    title: 'Database load by user',
    description: `${AAS}, one series per role (usename).`,
    unit: 'short',
    kind: 'series',
    area: 'Load',
    options: ['database', 'waitEvent', 'legend'],
    compute: { op: 'custom', handler: 'db_load_by_user', collector: 'load' },
    alertable: true,
    defaultLegend: '{{usename}}',
  },
  {
    id: 'db_load_by_application',
    title: 'Database load by application',
    description: `${AAS}, one series per application_name.`,
    unit: 'short',
    kind: 'series',
    area: 'Load',
    options: ['database', 'waitEvent', 'legend'],
    compute: { op: 'custom', handler: 'db_load_by_application', collector: 'load' },
    alertable: true,
    defaultLegend: '{{application_name}}',
  },
];
