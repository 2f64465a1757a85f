/**
 * Collector SQL as data: what each collector reads, gated by server version. Every statement is
 * read-only and works for a role with only pg_monitor. Catalog relations are written pg_catalog.x
 * and extension objects @extschema:<extension>@.x (bound to the schema pg_extension names), so no
 * schema on anyone's search_path can stand in for them (src/sidecar/targets/safe-sql.ts). The sampler runs each inside a
 * transaction with SET LOCAL statement_timeout (PgBouncer transaction pooling keeps no session
 * state), and never calls a *_reset() function.
 */
import { replicationCollectorSpecs } from './replication';
import type { CollectorId } from './types';
import { vitalSignsCollectors } from './vital-signs-collectors';

export interface CollectorSql {
  /** inclusive server_version_num bounds */
  minVersion: number;
  maxVersion?: number;
  sql: string;
}

export type CollectorScope = 'database' | 'cluster' | 'cluster-by-database';

export interface CollectorSpec {
  id: CollectorId;
  description: string;
  /** sampling interval as a multiple of the target interval: cheap views every cycle, costly ones less often */
  intervalFactor: number;
  timeoutMs: number;
  requires?: 'pg_stat_statements' | 'vector' | 'neon';
  variants: CollectorSql[];
  /** label columns identifying a row (entity) */
  key: string[];
  /** cumulative counters: the engine takes reset-aware deltas */
  counters: string[];
  /** point-in-time values */
  gauges: string[];
  /** descriptive columns kept as the entity's latest info (written only when they change) */
  info?: string[];
  /** epoch in ms of this row's counters (stats_reset, PG17 stats_since): a change is a reset */
  rowEpoch?: string;
  /** one number (ms) for the whole collector's counters, e.g. pg_stat_statements_info.stats_reset */
  epochSql?: CollectorSql[];
  /**
   * Costly descriptive columns (index definitions) read only for rows not seen before, and all of
   * them again every refreshFactor runs: $1 is the array of keyColumn values to describe.
   */
  details?: { keyColumn: string; variants: CollectorSql[]; refreshFactor: number };
  /**
   * Costly gauges (exact relation sizes: a filesystem stat per fork and segment, and a lock per
   * relation) read only for rows that are new or whose `watch` columns moved, and for all rows
   * every refreshFactor runs; the cached figure is reported in between. $1 is the array of
   * keyColumn values to read; the query returns keyColumn and the `columns`.
   */
  exact?: { keyColumn: string; watch: string[]; columns: string[]; variants: CollectorSql[]; refreshFactor: number };
  /**
   * What the view shows, which decides how targets on one server share its read (src/sidecar/cluster):
   * - database (default): the connected database only (pg_stat_user_tables, current_database()): read by every target;
   * - cluster: the whole server, the same rows from any database (pg_stat_activity, pg_stat_bgwriter,
   *   pg_settings): read once per cycle for all targets of the server, each stores the same rows;
   * - cluster-by-database: the whole server with a datname per row (pg_stat_statements, pg_stat_database):
   *   read once, each target stores the rows of its own database; rows of a database no target
   *   connects to stay with the server's first target (so a lone target keeps every row, as before).
   */
  scope?: CollectorScope;
  /** info columns holding statement text as sent (pg_stat_activity.query): stored with every constant replaced by $n (normalizeSentText), as pg_stat_statements shows statements */
  scrub?: string[];
}

/** runs of the tables/indexes collectors between two exact reads of every relation's size */
export const EXACT_SIZE_REFRESH = 10;

const ms = (col: string) => `(extract(epoch from ${col}) * 1000)::float8`;

/**
 * pg_stat_reset() resets every table and index counter of the connected database and stamps its
 * pg_stat_database.stats_reset: the evidence for the per-database collectors, which have no
 * stamp of their own (a counter that climbed past its old value would otherwise hide the reset).
 */
const connectedDatabaseReset: CollectorSql[] = [
  {
    minVersion: 140000,
    sql: `SELECT ${ms('stats_reset')} AS epoch_ms FROM pg_catalog.pg_stat_database WHERE datname = current_database()`,
  },
];

export const collectorSpecs: CollectorSpec[] = [
  {
    id: 'server',
    description: 'server identity and the postmaster start time (the compute epoch)',
    intervalFactor: 1,
    timeoutMs: 2000,
    variants: [
      {
        minVersion: 140000,
        sql: `SELECT current_setting('server_version_num')::int AS server_version_num,
                     ${ms('pg_postmaster_start_time()')} AS postmaster_start_ms,
                     pg_is_in_recovery()::int AS in_recovery,
                     current_database() AS datname`,
      },
    ],
    key: [],
    counters: [],
    gauges: ['server_version_num', 'postmaster_start_ms', 'in_recovery'],
  },
  {
    id: 'database',
    scope: 'cluster-by-database',
    description:
      'pg_stat_database: transactions, block I/O, temp files, deadlocks, sizes. size_bytes (pg_database_size) is exact, read for a new ' +
      'database and for all every 10th run (every 10 target intervals), the last figure in between',
    intervalFactor: 1,
    timeoutMs: 5000,
    variants: [
      {
        minVersion: 140000,
        sql: `SELECT d.datname, d.xact_commit, d.xact_rollback, d.blks_read, d.blks_hit, d.tup_returned, d.tup_fetched,
                     d.tup_inserted, d.tup_updated, d.tup_deleted, d.conflicts, d.temp_files, d.temp_bytes, d.deadlocks,
                     d.blk_read_time, d.blk_write_time, d.numbackends, d.datid::text AS datid,
                     ${ms('d.stats_reset')} AS stats_reset_ms
              FROM pg_catalog.pg_stat_database d
              JOIN pg_catalog.pg_database db ON db.oid = d.datid
              WHERE d.datname IS NOT NULL AND NOT db.datistemplate`,
      },
    ],
    key: ['datname'],
    counters: [
      'xact_commit',
      'xact_rollback',
      'blks_read',
      'blks_hit',
      'tup_returned',
      'tup_fetched',
      'tup_inserted',
      'tup_updated',
      'tup_deleted',
      'conflicts',
      'temp_files',
      'temp_bytes',
      'deadlocks',
      'blk_read_time',
      'blk_write_time',
    ],
    gauges: ['numbackends', 'size_bytes'],
    rowEpoch: 'stats_reset_ms',
    // pg_database_size stats every file of every database: read for a new database and for all
    // every EXACT_SIZE_REFRESH runs, the last figure reported in between
    exact: {
      keyColumn: 'datid',
      watch: [],
      columns: ['size_bytes'],
      refreshFactor: EXACT_SIZE_REFRESH,
      variants: [
        {
          minVersion: 140000,
          sql: `SELECT db.oid::text AS datid,
                       CASE WHEN pg_catalog.has_database_privilege(db.oid, 'CONNECT') OR pg_catalog.pg_has_role('pg_read_all_stats', 'MEMBER')
                            THEN pg_catalog.pg_database_size(db.oid) END AS size_bytes
                FROM pg_catalog.pg_database db WHERE db.oid = ANY($1::pg_catalog.oid[])`,
        },
      ],
    },
  },
  {
    id: 'statements',
    scope: 'cluster-by-database',
    description:
      'pg_stat_statements(false): per-statement counters without query text (texts are fetched once per new queryid)',
    intervalFactor: 2,
    timeoutMs: 10000,
    requires: 'pg_stat_statements',
    variants: [
      {
        minVersion: 140000,
        maxVersion: 169999,
        sql: `SELECT s.queryid::text AS queryid, d.datname, r.rolname AS username,
                     s.calls, s.total_exec_time, s.total_plan_time, s.rows, s.shared_blks_hit, s.shared_blks_read,
                     s.temp_blks_written, s.blk_read_time AS io_read_time, s.max_exec_time,
                     NULL::float8 AS stats_since_ms
              FROM @extschema:pg_stat_statements@.pg_stat_statements(false) s
              LEFT JOIN pg_catalog.pg_database d ON d.oid = s.dbid
              LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.userid
              WHERE s.toplevel AND s.queryid IS NOT NULL`,
      },
      {
        minVersion: 170000,
        sql: `SELECT s.queryid::text AS queryid, d.datname, r.rolname AS username,
                     s.calls, s.total_exec_time, s.total_plan_time, s.rows, s.shared_blks_hit, s.shared_blks_read,
                     s.temp_blks_written, s.shared_blk_read_time AS io_read_time, s.max_exec_time,
                     ${ms('s.stats_since')} AS stats_since_ms
              FROM @extschema:pg_stat_statements@.pg_stat_statements(false) s
              LEFT JOIN pg_catalog.pg_database d ON d.oid = s.dbid
              LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.userid
              WHERE s.toplevel AND s.queryid IS NOT NULL`,
      },
    ],
    key: ['queryid', 'datname', 'username'],
    counters: [
      'calls',
      'total_exec_time',
      'total_plan_time',
      'rows',
      'shared_blks_hit',
      'shared_blks_read',
      'temp_blks_written',
      'io_read_time',
    ],
    gauges: ['max_exec_time'],
    rowEpoch: 'stats_since_ms',
    epochSql: [
      {
        minVersion: 140000,
        sql: `SELECT ${ms('stats_reset')} AS epoch_ms, dealloc FROM @extschema:pg_stat_statements@.pg_stat_statements_info`,
      },
    ],
  },
  {
    id: 'tables',
    description:
      'pg_stat_user_tables + pg_statio_user_tables + sizes, for the connected database. heap_pages_bytes and all_visible_bytes are ' +
      'estimates read every run (pg_class.relpages / relallvisible × block_size, as of the last VACUUM, ANALYZE or CREATE INDEX); ' +
      'size_bytes (pg_total_relation_size) and heap_bytes (pg_relation_size) are exact, re-read when relpages or relfilenode moved ' +
      'and for every table every 10th run (every 20 target intervals), the last exact figure in between',
    intervalFactor: 2,
    timeoutMs: 10000,
    variants: [
      {
        minVersion: 140000,
        sql: `SELECT current_database() AS datname, s.schemaname, s.relname,
                     s.seq_scan, s.seq_tup_read, coalesce(s.idx_scan, 0) AS idx_scan, coalesce(s.idx_tup_fetch, 0) AS idx_tup_fetch,
                     s.n_tup_ins, s.n_tup_upd, s.n_tup_del, s.n_tup_hot_upd, s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze,
                     s.vacuum_count, s.autovacuum_count, s.analyze_count, s.autoanalyze_count,
                     ${ms('s.last_vacuum')} AS last_vacuum_ms, ${ms('s.last_autovacuum')} AS last_autovacuum_ms,
                     ${ms('s.last_analyze')} AS last_analyze_ms, ${ms('s.last_autoanalyze')} AS last_autoanalyze_ms,
                     io.heap_blks_read, io.heap_blks_hit, coalesce(io.idx_blks_read, 0) AS idx_blks_read, coalesce(io.idx_blks_hit, 0) AS idx_blks_hit,
                     s.relid::text AS relid, c.relfilenode::text AS relfilenode, c.relpages,
                     c.relpages::float8 * pg_catalog.current_setting('block_size')::float8 AS heap_pages_bytes,
                     c.relallvisible::float8 * pg_catalog.current_setting('block_size')::float8 AS all_visible_bytes,
                     pg_catalog.age(c.relfrozenxid)::float8 AS xid_age
              FROM pg_catalog.pg_stat_user_tables s
              JOIN pg_catalog.pg_statio_user_tables io ON io.relid = s.relid
              JOIN pg_catalog.pg_class c ON c.oid = s.relid`,
      },
    ],
    key: ['datname', 'schemaname', 'relname'],
    counters: [
      'seq_scan',
      'seq_tup_read',
      'idx_scan',
      'idx_tup_fetch',
      'n_tup_ins',
      'n_tup_upd',
      'n_tup_del',
      'n_tup_hot_upd',
      'vacuum_count',
      'autovacuum_count',
      'analyze_count',
      'autoanalyze_count',
      'heap_blks_read',
      'heap_blks_hit',
      'idx_blks_read',
      'idx_blks_hit',
    ],
    gauges: [
      'n_live_tup',
      'n_dead_tup',
      'n_mod_since_analyze',
      'last_vacuum_ms',
      'last_autovacuum_ms',
      'last_analyze_ms',
      'last_autoanalyze_ms',
      'size_bytes',
      'heap_bytes',
      'heap_pages_bytes',
      'all_visible_bytes',
      'xid_age',
    ],
    epochSql: connectedDatabaseReset,
    // pg_total_relation_size of every table every run was most of the database time of a cycle
    exact: {
      keyColumn: 'relid',
      watch: ['relpages', 'relfilenode'],
      columns: ['size_bytes', 'heap_bytes'],
      refreshFactor: EXACT_SIZE_REFRESH,
      variants: [
        {
          minVersion: 140000,
          sql: `SELECT c.oid::text AS relid, pg_catalog.pg_total_relation_size(c.oid) AS size_bytes, pg_catalog.pg_relation_size(c.oid) AS heap_bytes
                FROM pg_catalog.pg_class c WHERE c.oid = ANY($1::pg_catalog.oid[])`,
        },
      ],
    },
  },
  {
    id: 'indexes',
    description:
      'pg_stat_user_indexes + pg_statio_user_indexes + sizes and definitions, for the connected database. index_pages_bytes is an ' +
      'estimate read every run (pg_class.relpages × block_size, as of the last VACUUM, ANALYZE or CREATE INDEX); size_bytes ' +
      '(pg_relation_size) is exact, re-read when relpages or relfilenode moved and for every index every 10th run (every 20 target ' +
      'intervals), the last exact figure in between',
    intervalFactor: 2,
    timeoutMs: 10000,
    variants: [
      {
        minVersion: 140000,
        sql: `SELECT current_database() AS datname, s.schemaname, s.relname, s.indexrelname,
                     s.idx_scan, s.idx_tup_read, s.idx_tup_fetch,
                     pg_catalog.pg_stat_get_blocks_fetched(s.indexrelid) - pg_catalog.pg_stat_get_blocks_hit(s.indexrelid) AS idx_blks_read,
                     pg_catalog.pg_stat_get_blocks_hit(s.indexrelid) AS idx_blks_hit,
                     c.relpages::float8 * pg_catalog.current_setting('block_size')::float8 AS index_pages_bytes,
                     c.relfilenode::text AS relfilenode, c.relpages, s.indexrelid::text AS indexrelid,
                     i.indisunique AS is_unique, i.indisprimary AS is_primary, i.indisvalid AS is_valid,
                     i.indisexclusion AS is_exclusion, i.indisreplident AS is_replident, am.amname
              FROM pg_catalog.pg_stat_user_indexes s
              JOIN pg_catalog.pg_index i ON i.indexrelid = s.indexrelid
              JOIN pg_catalog.pg_class c ON c.oid = s.indexrelid
              JOIN pg_catalog.pg_am am ON am.oid = c.relam`,
      },
    ],
    key: ['datname', 'schemaname', 'relname', 'indexrelname'],
    counters: ['idx_scan', 'idx_tup_read', 'idx_tup_fetch', 'idx_blks_read', 'idx_blks_hit'],
    gauges: ['size_bytes', 'index_pages_bytes'],
    epochSql: connectedDatabaseReset,
    // idx_blks_read/hit are pg_statio_user_indexes' own definitions, called directly: joining that
    // second view (pg_class, pg_index, pg_namespace again) doubled the statement's time on 2,000 indexes
    exact: {
      keyColumn: 'indexrelid',
      watch: ['relpages', 'relfilenode'],
      columns: ['size_bytes'],
      refreshFactor: EXACT_SIZE_REFRESH,
      variants: [
        {
          minVersion: 140000,
          sql: `SELECT c.oid::text AS indexrelid, pg_catalog.pg_relation_size(c.oid) AS size_bytes
                FROM pg_catalog.pg_class c WHERE c.oid = ANY($1::pg_catalog.oid[])`,
        },
      ],
    },
    info: [
      'is_unique',
      'is_primary',
      'is_valid',
      'is_exclusion',
      'is_replident',
      'amname',
      'indexdef',
      'indkey',
      'predicate',
      'exprs',
      'reloptions',
    ],
    // pg_get_indexdef / pg_get_expr for thousands of indexes every cycle was most of the cycle's cost
    details: {
      keyColumn: 'indexrelid',
      refreshFactor: 30,
      variants: [
        {
          minVersion: 140000,
          sql: `SELECT i.indexrelid::text AS indexrelid, pg_get_indexdef(i.indexrelid) AS indexdef, i.indkey::text AS indkey,
                       pg_get_expr(i.indpred, i.indrelid) AS predicate, pg_get_expr(i.indexprs, i.indrelid) AS exprs,
                       array_to_string(c.reloptions, ',') AS reloptions
                FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
                WHERE i.indexrelid = ANY($1::oid[])`,
        },
      ],
    },
  },
  {
    id: 'activity',
    scope: 'cluster',
    description: 'pg_stat_activity grouped by database and state: counts, lock waits, longest query and transaction',
    intervalFactor: 1,
    timeoutMs: 3000,
    variants: [
      {
        minVersion: 140000,
        sql: `SELECT coalesce(datname, '') AS datname, coalesce(state, 'unknown') AS state, count(*) AS count,
                     count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiting,
                     coalesce(max(extract(epoch from clock_timestamp() - query_start)) FILTER (WHERE state = 'active'), 0)::float8 AS longest_query_s,
                     coalesce(max(extract(epoch from clock_timestamp() - xact_start)), 0)::float8 AS longest_xact_s
              FROM pg_catalog.pg_stat_activity
              WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
              GROUP BY 1, 2`,
      },
    ],
    key: ['datname', 'state'],
    counters: [],
    gauges: ['count', 'waiting', 'longest_query_s', 'longest_xact_s'],
  },
  {
    id: 'locks',
    scope: 'cluster',
    description: 'backends blocked by another backend (pg_blocking_pids), per database',
    intervalFactor: 1,
    timeoutMs: 3000,
    variants: [
      {
        minVersion: 140000,
        sql: `SELECT coalesce(datname, '') AS datname,
                     count(*) FILTER (WHERE cardinality(pg_blocking_pids(pid)) > 0) AS blocked
              FROM pg_catalog.pg_stat_activity
              WHERE backend_type = 'client backend'
              GROUP BY 1`,
      },
    ],
    key: ['datname'],
    counters: [],
    gauges: ['blocked'],
  },
  {
    id: 'bgwriter',
    scope: 'cluster',
    description: 'checkpoints and background writer (pg_stat_checkpointer on PG17)',
    intervalFactor: 4,
    timeoutMs: 3000,
    variants: [
      {
        minVersion: 140000,
        maxVersion: 169999,
        sql: `SELECT checkpoints_timed, checkpoints_req, checkpoint_write_time, checkpoint_sync_time,
                     buffers_checkpoint, buffers_clean, maxwritten_clean, buffers_backend, buffers_alloc,
                     ${ms('stats_reset')} AS stats_reset_ms
              FROM pg_catalog.pg_stat_bgwriter`,
      },
      {
        minVersion: 170000,
        sql: `SELECT c.num_timed AS checkpoints_timed, c.num_requested AS checkpoints_req, c.write_time AS checkpoint_write_time,
                     c.sync_time AS checkpoint_sync_time, c.buffers_written AS buffers_checkpoint, b.buffers_clean,
                     b.maxwritten_clean, NULL::bigint AS buffers_backend, b.buffers_alloc,
                     ${ms('greatest(c.stats_reset, b.stats_reset)')} AS stats_reset_ms
              FROM pg_catalog.pg_stat_checkpointer c, pg_catalog.pg_stat_bgwriter b`,
      },
    ],
    key: [],
    counters: [
      'checkpoints_timed',
      'checkpoints_req',
      'checkpoint_write_time',
      'checkpoint_sync_time',
      'buffers_checkpoint',
      'buffers_clean',
      'maxwritten_clean',
      'buffers_backend',
      'buffers_alloc',
    ],
    gauges: [],
    rowEpoch: 'stats_reset_ms',
  },
  {
    id: 'settings',
    scope: 'cluster',
    description: 'key settings in base units (bytes, ms) for ratios and advice',
    intervalFactor: 20,
    timeoutMs: 3000,
    variants: [
      {
        minVersion: 140000,
        sql: `SELECT name,
                     (CASE unit WHEN '8kB' THEN setting::float8 * 8192 WHEN 'kB' THEN setting::float8 * 1024
                                WHEN 'MB' THEN setting::float8 * 1048576 WHEN 's' THEN setting::float8 * 1000
                                WHEN 'min' THEN setting::float8 * 60000
                                ELSE CASE WHEN vartype IN ('integer', 'real') THEN setting::float8 END END) AS value,
                     setting, coalesce(unit, '') AS unit
              FROM pg_catalog.pg_settings
              WHERE name IN ('max_connections', 'shared_buffers', 'work_mem', 'maintenance_work_mem', 'effective_cache_size',
                             'max_wal_size', 'autovacuum', 'track_io_timing', 'statement_timeout', 'random_page_cost',
                             'max_parallel_maintenance_workers', 'shared_preload_libraries', 'pg_stat_statements.max',
                             'pg_stat_statements.track', 'hnsw.ef_search', 'ivfflat.probes', 'hnsw.iterative_scan',
                             'neon.max_file_cache_size', 'neon.file_cache_size_limit', 'idle_in_transaction_session_timeout')`,
      },
    ],
    key: ['name'],
    counters: [],
    gauges: ['value'],
    info: ['setting', 'unit'],
  },
  {
    id: 'wraparound',
    scope: 'cluster',
    description:
      'transaction ID and multixact age of every database (pg_database.datfrozenxid / datminmxid), against the 2^31 limit and the freeze settings',
    intervalFactor: 4,
    timeoutMs: 3000,
    variants: [
      {
        minVersion: 140000,
        // template databases included: a never-vacuumed template1 wraps around like any other
        sql: `SELECT d.datname,
                     pg_catalog.age(d.datfrozenxid)::float8 AS xid_age,
                     pg_catalog.mxid_age(d.datminmxid)::float8 AS mxid_age,
                     pg_catalog.age(d.datfrozenxid)::float8 / 2147483648 AS xid_limit_ratio,
                     pg_catalog.mxid_age(d.datminmxid)::float8 / 2147483648 AS mxid_limit_ratio,
                     pg_catalog.age(d.datfrozenxid)::float8 / pg_catalog.current_setting('autovacuum_freeze_max_age')::float8 AS xid_freeze_ratio,
                     pg_catalog.mxid_age(d.datminmxid)::float8 / pg_catalog.current_setting('autovacuum_multixact_freeze_max_age')::float8 AS mxid_freeze_ratio
              FROM pg_catalog.pg_database d`,
      },
    ],
    key: ['datname'],
    counters: [],
    gauges: ['xid_age', 'mxid_age', 'xid_limit_ratio', 'mxid_limit_ratio', 'xid_freeze_ratio', 'mxid_freeze_ratio'],
  },
  {
    id: 'slots',
    scope: 'cluster',
    description:
      'replication slots (pg_replication_slots): WAL each one keeps from removal, whether a consumer is attached',
    intervalFactor: 2,
    timeoutMs: 3000,
    variants: [
      {
        minVersion: 140000,
        // on a standby there is no current insert LSN: the replay position is what it keeps WAL from
        sql: `SELECT slot_name, slot_type, slot_database, active::int AS active, retained_bytes,
                     CASE WHEN active THEN 0 ELSE retained_bytes END AS inactive_retained_bytes
              FROM (SELECT s.slot_name::text AS slot_name, s.slot_type, coalesce(s.database::text, '') AS slot_database, s.active,
                           coalesce(pg_catalog.pg_wal_lsn_diff(
                             CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn() ELSE pg_catalog.pg_current_wal_lsn() END,
                             s.restart_lsn), 0)::float8 AS retained_bytes
                    FROM pg_catalog.pg_replication_slots s) slots`,
      },
    ],
    key: ['slot_name'],
    counters: [],
    gauges: ['active', 'retained_bytes', 'inactive_retained_bytes'],
    info: ['slot_type', 'slot_database'],
  },
  ...replicationCollectorSpecs,
  ...vitalSignsCollectors,
];

export function findCollectorSpec(id: string): CollectorSpec | undefined {
  return collectorSpecs.find((c) => c.id === id);
}

/**
 * The counters a collector declares, in catalog order, less `except`: for readers that take all but
 * a few of them (top queries, the advisor's statement and table facts), so their lists follow the
 * catalog. A name in `except` the collector does not declare throws at load: a counter renamed in
 * the catalog cannot leave such a reader silently out of date.
 */
export function collectorCounters(id: string, except: string[] = []): string[] {
  return declaredFields(id, 'counters', except);
}

/** The gauges a collector declares, in catalog order, less `except` (as collectorCounters). */
export function collectorGauges(id: string, except: string[] = []): string[] {
  return declaredFields(id, 'gauges', except);
}

function declaredFields(id: string, kind: 'counters' | 'gauges', except: string[]): string[] {
  const spec = findCollectorSpec(id);
  if (!spec) {
    throw new Error(`the catalog has no collector ${id}`);
  }
  const fields = spec[kind];
  const unknown = except.filter((f) => !fields.includes(f));
  if (unknown.length > 0) {
    throw new Error(
      `collector ${id} declares no ${kind === 'counters' ? 'counter' : 'gauge'} ${unknown.join(', ')}: update the reader's exceptions`
    );
  }
  return fields.filter((f) => !except.includes(f));
}

/** The SQL for a server version, or undefined when the collector does not support it. */
export function sqlFor(variants: CollectorSql[], serverVersionNum: number): string | undefined {
  return variants.find(
    (v) => serverVersionNum >= v.minVersion && (v.maxVersion === undefined || serverVersionNum <= v.maxVersion)
  )?.sql;
}
