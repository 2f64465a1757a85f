/**
 * Collector SQL of the vital signs beyond wraparound and replication: I/O by backend type
 * (pg_stat_io), VACUUM progress and autovacuum workers, open transactions by age, the oldest
 * sessions, connections by application and user, sequences near exhaustion. Same rules as
 * collectors.ts: read-only, pg_monitor is enough, every catalog object written pg_catalog.x.
 */
import type { CollectorSpec } from './collectors';

const ms = (col: string) => `(extract(epoch from ${col}) * 1000)::float8`;

/** the connected database's oid: progress rows of other databases name relations we cannot resolve */
const CURRENT_DB_OID = `(SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())`;

/** Age buckets of open transactions, seconds [lo, hi): the labels the transactions_by_age series carry. */
export const XACT_AGE_BUCKETS: Array<{ label: string; lo: number; hi: number | null }> = [
  { label: '<1m', lo: 0, hi: 60 },
  { label: '1-5m', lo: 60, hi: 300 },
  { label: '5-15m', lo: 300, hi: 900 },
  { label: '15-60m', lo: 900, hi: 3600 },
  { label: '>=1h', lo: 3600, hi: null },
];
/** states of a backend inside a transaction (a plain 'idle' session holds none) */
export const XACT_STATES = ['active', 'idle in transaction', 'idle in transaction (aborted)'];

const bucketValues = XACT_AGE_BUCKETS.map(
  (b, i) => `(${i}, '${b.label}', ${b.lo}::float8, ${b.hi === null ? `'Infinity'::float8` : `${b.hi}::float8`})`
).join(', ');
const stateValues = XACT_STATES.map((s) => `('${s}')`).join(', ');

function vacuumProgressSql(indexesTotal: string, indexesProcessed: string): string {
  return `SELECT coalesce(p.datname::text, '') AS datname,
                 coalesce(n.nspname OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) c.relname, 'oid ' OPERATOR(pg_catalog.||) p.relid::text) AS relation,
                 p.pid, p.phase, p.heap_blks_total, p.heap_blks_scanned, p.heap_blks_vacuumed, p.index_vacuum_count,
                 CASE WHEN p.heap_blks_total > 0 THEN p.heap_blks_scanned::float8 / p.heap_blks_total::float8 END AS scanned_ratio,
                 (a.backend_type OPERATOR(pg_catalog.=) 'autovacuum worker')::int AS autovacuum,
                 ${indexesTotal} AS indexes_total, ${indexesProcessed} AS indexes_processed
          FROM pg_catalog.pg_stat_progress_vacuum p
          LEFT JOIN pg_catalog.pg_class c ON c.oid = p.relid AND p.datid = ${CURRENT_DB_OID}
          LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = p.pid`;
}

/** how many of the oldest transactions the oldest_sessions collector keeps (one entity per rank) */
export const OLDEST_SESSIONS = 10;

export const vitalSignsCollectors: CollectorSpec[] = [
  {
    id: 'io',
    scope: 'cluster',
    description: 'pg_stat_io (PostgreSQL 16+): I/O operations and their time by backend type, object and context',
    intervalFactor: 2,
    timeoutMs: 3000,
    variants: [
      {
        // NULL where the combination cannot happen (e.g. fsyncs of a temp relation): kept as a gap, not a 0
        minVersion: 160000,
        sql: `SELECT backend_type, object, context, reads, writes, extends, hits, evictions, fsyncs,
                     read_time::float8 AS read_time, write_time::float8 AS write_time,
                     ${ms('stats_reset')} AS stats_reset_ms
              FROM pg_catalog.pg_stat_io`,
      },
    ],
    key: ['backend_type', 'object', 'context'],
    counters: ['reads', 'writes', 'extends', 'hits', 'evictions', 'fsyncs', 'read_time', 'write_time'],
    gauges: [],
    rowEpoch: 'stats_reset_ms',
  },
  {
    id: 'vacuum_progress',
    description:
      'VACUUMs running now (pg_stat_progress_vacuum): table, phase, heap blocks scanned of total, indexes processed (PostgreSQL 17+), manual or autovacuum',
    intervalFactor: 1,
    timeoutMs: 3000,
    variants: [
      { minVersion: 140000, maxVersion: 169999, sql: vacuumProgressSql('NULL::bigint', 'NULL::bigint') },
      // PostgreSQL 17 counts the indexes of the index-vacuuming and cleanup phases
      { minVersion: 170000, sql: vacuumProgressSql('p.indexes_total', 'p.indexes_processed') },
    ],
    key: ['datname', 'relation'],
    counters: [],
    gauges: [
      'pid',
      'heap_blks_total',
      'heap_blks_scanned',
      'heap_blks_vacuumed',
      'index_vacuum_count',
      'scanned_ratio',
      'autovacuum',
      'indexes_total',
      'indexes_processed',
    ],
    info: ['phase'],
  },
  {
    id: 'capacity',
    scope: 'cluster',
    description: 'busy autovacuum workers vs autovacuum_max_workers, client backends vs max_connections',
    intervalFactor: 1,
    timeoutMs: 3000,
    variants: [
      {
        minVersion: 140000,
        sql: `SELECT count(*) FILTER (WHERE a.backend_type OPERATOR(pg_catalog.=) 'autovacuum worker') AS autovacuum_workers,
                     pg_catalog.current_setting('autovacuum_max_workers')::int AS autovacuum_max_workers,
                     count(*) FILTER (WHERE a.backend_type OPERATOR(pg_catalog.=) 'client backend') AS client_backends,
                     pg_catalog.current_setting('max_connections')::int AS max_connections,
                     pg_catalog.current_setting('superuser_reserved_connections')::int AS superuser_reserved_connections
              FROM pg_catalog.pg_stat_activity a`,
      },
    ],
    key: [],
    counters: [],
    gauges: [
      'autovacuum_workers',
      'autovacuum_max_workers',
      'client_backends',
      'max_connections',
      'superuser_reserved_connections',
    ],
  },
  {
    id: 'clients',
    scope: 'cluster',
    description:
      "client backends by database, user, application and state (pg_stat_activity), pgpulse's own sampling session excluded",
    intervalFactor: 1,
    timeoutMs: 3000,
    variants: [
      {
        minVersion: 140000,
        sql: `SELECT coalesce(datname::text, '') AS datname, coalesce(usename::text, '') AS usename, coalesce(application_name, '') AS application_name,
                     coalesce(state, 'unknown') AS state, count(*) AS connections
              FROM pg_catalog.pg_stat_activity
              WHERE backend_type OPERATOR(pg_catalog.=) 'client backend' AND pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
              GROUP BY 1, 2, 3, 4`,
      },
    ],
    key: ['datname', 'usename', 'application_name', 'state'],
    counters: [],
    // not "count": a Prometheus family ending in _count is read as part of a histogram (/metrics)
    gauges: ['connections'],
  },
  {
    id: 'xact_ages',
    scope: 'cluster',
    description:
      'open transactions by state and age bucket (now − xact_start): count, oldest, and how long idle-in-transaction sessions have been idle',
    intervalFactor: 1,
    timeoutMs: 3000,
    variants: [
      {
        minVersion: 140000,
        // every state × bucket is a row, so an empty bucket is a 0, not a gap
        sql: `WITH x AS (
                SELECT state, extract(epoch from pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) xact_start)::float8 AS xact_s,
                       extract(epoch from pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) state_change)::float8 AS state_s
                FROM pg_catalog.pg_stat_activity
                WHERE backend_type OPERATOR(pg_catalog.=) 'client backend' AND xact_start IS NOT NULL
                  AND pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
              ), b(i, label, lo, hi) AS (VALUES ${bucketValues}),
              s(state) AS (VALUES ${stateValues})
              SELECT s.state, b.label AS age_bucket, count(x.state) AS sessions,
                     coalesce(max(x.xact_s), 0)::float8 AS oldest_xact_s,
                     coalesce(max(x.state_s) FILTER (WHERE x.state OPERATOR(pg_catalog.<>) 'active'), 0)::float8 AS idle_in_xact_s
              FROM s CROSS JOIN b
              LEFT JOIN x ON x.state OPERATOR(pg_catalog.=) s.state AND x.xact_s OPERATOR(pg_catalog.>=) b.lo AND x.xact_s OPERATOR(pg_catalog.<) b.hi
              GROUP BY s.state, b.i, b.label
              ORDER BY s.state, b.i`,
      },
    ],
    key: ['state', 'age_bucket'],
    counters: [],
    gauges: ['sessions', 'oldest_xact_s', 'idle_in_xact_s'],
  },
  {
    id: 'oldest_sessions',
    scope: 'cluster',
    description: `the ${OLDEST_SESSIONS} oldest open transactions (pg_stat_activity): who, from where, how long, and the last statement (constants replaced by $n)`,
    intervalFactor: 1,
    timeoutMs: 3000,
    variants: [
      {
        minVersion: 140000,
        sql: `SELECT (row_number() OVER (ORDER BY xact_start, pid))::text AS rank, pid,
                     coalesce(usename::text, '') AS usename, coalesce(application_name, '') AS application_name,
                     coalesce(datname::text, '') AS datname, coalesce(state, '') AS state, coalesce(wait_event_type, '') AS wait_event_type,
                     extract(epoch from pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) xact_start)::float8 AS xact_age_s,
                     extract(epoch from pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) state_change)::float8 AS state_age_s,
                     pg_catalog.age(backend_xmin)::float8 AS xmin_age,
                     query
              FROM pg_catalog.pg_stat_activity
              WHERE backend_type OPERATOR(pg_catalog.=) 'client backend' AND xact_start IS NOT NULL
                AND pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
              ORDER BY xact_start, pid
              LIMIT ${OLDEST_SESSIONS}`,
      },
    ],
    key: ['rank'],
    counters: [],
    gauges: ['pid', 'xact_age_s', 'state_age_s', 'xmin_age'],
    info: ['usename', 'application_name', 'datname', 'state', 'wait_event_type', 'query'],
    scrub: ['query'],
  },
  {
    id: 'sequences',
    description:
      'sequences of the connected database: last value against the limit of the sequence and of the columns it feeds (pg_sequence, pg_depend)',
    intervalFactor: 8,
    timeoutMs: 5000,
    variants: [
      {
        minVersion: 140000,
        // The limit is the tighter of the sequence's own bound and the type of every column it
        // feeds (serial / identity ownership, or a DEFAULT nextval()): a bigint sequence behind an
        // int4 column fails at 2^31-1. last_value needs SELECT or USAGE on the sequence
        // (pg_sequence_last_value raises otherwise): unreadable ones report readable = 0.
        sql: `WITH seq AS (
                SELECT s.seqrelid, n.nspname, c.relname, pg_catalog.format_type(s.seqtypid, NULL) AS seq_type,
                       s.seqincrement, s.seqmin, s.seqmax, s.seqcycle,
                       pg_catalog.has_sequence_privilege(s.seqrelid, 'SELECT,USAGE') AS readable
                FROM pg_catalog.pg_sequence s
                JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
                JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname OPERATOR(pg_catalog.<>) ALL (ARRAY['pg_catalog', 'information_schema']) AND c.relpersistence OPERATOR(pg_catalog.<>) 't'
              ), fed AS (
                SELECT d.objid AS seqrelid, d.refobjid AS relid, d.refobjsubid::int2 AS attnum
                FROM pg_catalog.pg_depend d
                WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                  AND d.deptype = ANY (ARRAY['a', 'i']::"char"[]) AND d.refobjsubid > 0
                UNION
                SELECT d.refobjid, ad.adrelid, ad.adnum
                FROM pg_catalog.pg_depend d
                JOIN pg_catalog.pg_attrdef ad ON ad.oid = d.objid
                WHERE d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
              ), col AS (
                SELECT f.seqrelid,
                       min(CASE a.atttypid WHEN 'pg_catalog.int2'::pg_catalog.regtype THEN 32767 WHEN 'pg_catalog.int4'::pg_catalog.regtype THEN 2147483647
                                           ELSE 9223372036854775807 END::numeric) AS col_max,
                       max(CASE a.atttypid WHEN 'pg_catalog.int2'::pg_catalog.regtype THEN -32768 WHEN 'pg_catalog.int4'::pg_catalog.regtype THEN -2147483648
                                           ELSE -9223372036854775808 END::numeric) AS col_min,
                       pg_catalog.string_agg(tn.nspname OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) t.relname OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) a.attname
                                             OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) pg_catalog.format_type(a.atttypid, a.atttypmod), ', ' ORDER BY t.relname, a.attname) AS columns
                FROM fed f
                JOIN pg_catalog.pg_attribute a ON a.attrelid = f.relid AND a.attnum = f.attnum AND NOT a.attisdropped
                JOIN pg_catalog.pg_class t ON t.oid = f.relid
                JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
                GROUP BY f.seqrelid
              ), v AS (
                SELECT s.*, col.columns,
                       CASE WHEN s.readable THEN pg_catalog.pg_sequence_last_value(s.seqrelid::pg_catalog.regclass) END::numeric AS last_value,
                       CASE WHEN s.seqincrement > 0 THEN least(s.seqmax::numeric, coalesce(col.col_max, s.seqmax::numeric))
                            ELSE greatest(s.seqmin::numeric, coalesce(col.col_min, s.seqmin::numeric)) END AS limit_value,
                       CASE WHEN s.seqincrement > 0 THEN s.seqmin::numeric ELSE s.seqmax::numeric END AS first_value
                FROM seq s LEFT JOIN col ON col.seqrelid = s.seqrelid
              )
              SELECT pg_catalog.current_database() AS datname, nspname AS schemaname, relname AS sequence_name,
                     seq_type, coalesce(columns, '') AS columns, seqincrement AS increment, seqcycle AS cycle,
                     readable::int AS readable, last_value::float8 AS last_value, limit_value::float8 AS limit_value,
                     (CASE WHEN last_value IS NULL OR limit_value = first_value THEN NULL
                           ELSE (last_value - first_value) / (limit_value - first_value) END)::float8 AS used_ratio,
                     (CASE WHEN last_value IS NOT NULL THEN pg_catalog.floor((limit_value - last_value) / seqincrement) END)::float8 AS remaining
              FROM v`,
      },
    ],
    key: ['datname', 'schemaname', 'sequence_name'],
    counters: [],
    gauges: ['readable', 'last_value', 'limit_value', 'used_ratio', 'remaining'],
    info: ['seq_type', 'columns', 'increment', 'cycle'],
  },
];
