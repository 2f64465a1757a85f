/**
 * Bloat of the connected database's tables and B-tree indexes, as SQL data for the bloat collector
 * (src/sidecar/collectors/bloat.ts). Two methods, and each row says which one it got:
 *
 * statistics — no scan, catalog only, as of the last VACUUM / ANALYZE (pg_class.relpages,
 *   reltuples). The minimal size the live rows need is
 *     pages = ⌈reltuples × (tuple + 4) / ((block − page header) × fillfactor)⌉
 *   with tuple = MAXALIGN(header [+ null bitmap]) + MAXALIGN(Σ (1 − null_frac) × avg_width), the
 *   widths from pg_stats; for a B-tree leaf the same with an 8-byte index tuple header, the 16-byte
 *   special space and fillfactor 90, plus the metapage (internal pages are left out: ~1/fanout).
 *   bloat = relpages − that. Error: alignment padding inside the row is averaged (MAXALIGN of the
 *   average width, not the average of MAXALIGNs), and the statistics are a sample, so a table
 *   without bloat reads a few percent either way; tables whose widths vary a lot read worse.
 *   pg_stats shows only columns the role can SELECT: for a pg_monitor-only role that is none, so
 *   those rows come back with method 'none' (GRANT SELECT, or install pgstattuple).
 * pgstattuple_approx — pgstattuple's own estimate: it reads every page that is not all-visible
 *   and takes the free space of the rest from the free space map. pg_monitor may run it (it is
 *   granted to pg_stat_scan_tables). bloat = approx_free_space + dead_tuple_len − the space
 *   fillfactor reserves on purpose. It reads the table, so only tables up to a size budget get it.
 */

const BLOCK = `pg_catalog.current_setting('block_size')::float8`;
const fillfactor = (dflt: number) =>
  `coalesce((SELECT pg_catalog.substring(o, '^fillfactor=([0-9]+)$')::float8 FROM pg_catalog.unnest(c.reloptions) o WHERE o OPERATOR(pg_catalog.~) '^fillfactor='), ${dflt})`;
const maxalign = (x: string) => `(8 * pg_catalog.ceil((${x}) / 8.0))`;

const RELATIONS = `
  SELECT c.oid, n.nspname, c.relname, c.reltuples::float8 AS reltuples, c.relpages::float8 AS relpages, ${fillfactor(100)} AS fillfactor
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = ANY (ARRAY['r', 'm']::"char"[]) AND c.relpersistence OPERATOR(pg_catalog.<>) 't'
    AND n.nspname OPERATOR(pg_catalog.<>) ALL (ARRAY['pg_catalog', 'information_schema']) AND n.nspname OPERATOR(pg_catalog.!~) '^pg_toast'`;

/** Tables and B-tree indexes with the statistics estimate (NULL where pg_stats lacks a column). */
export const BLOAT_STATISTICS_SQL = `
WITH rel AS (${RELATIONS}),
-- pg_stats checks has_column_privilege on every column of the database, catalogs included: read it
-- once for the tables and their indexes, not once for each (≈40 % of the query's CPU, docs/benchmarks.md §9)
st AS (
  SELECT r.oid, s.attname, s.null_frac, s.avg_width
  FROM rel r
  JOIN pg_catalog.pg_stats s ON s.schemaname OPERATOR(pg_catalog.=) r.nspname AND s.tablename OPERATOR(pg_catalog.=) r.relname
                            AND NOT s.inherited
),
tcol AS (
  SELECT r.oid, count(*) AS natts, count(s.attname) AS nstats,
         sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 0))::float8 AS data_width,
         bool_or(coalesce(s.null_frac, 0) > 0) AS nulls
  FROM rel r
  JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN st s ON s.oid = r.oid AND s.attname OPERATOR(pg_catalog.=) a.attname
  GROUP BY r.oid
),
idx AS (
  SELECT i.indexrelid, r.oid AS relid, r.nspname, r.relname, c.relname AS indexrelname, c.reltuples::float8 AS reltuples,
         c.relpages::float8 AS relpages, ${fillfactor(90)} AS fillfactor, i.indkey::int2[] AS indkey, i.indexprs IS NULL AS plain
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
  JOIN pg_catalog.pg_am am ON am.oid = c.relam AND am.amname OPERATOR(pg_catalog.=) 'btree'
  JOIN rel r ON r.oid = i.indrelid
),
icol AS (
  SELECT x.indexrelid, count(*) AS natts, count(s.attname) AS nstats,
         sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 0))::float8 AS data_width,
         bool_or(coalesce(s.null_frac, 0) > 0) AS nulls
  FROM idx x
  CROSS JOIN LATERAL pg_catalog.unnest(x.indkey) k(attnum)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = x.relid AND a.attnum = k.attnum
  LEFT JOIN st s ON s.oid = x.relid AND s.attname OPERATOR(pg_catalog.=) a.attname
  GROUP BY x.indexrelid
),
est AS (
  SELECT r.nspname, r.relname, '' AS indexrelname, 'table' AS kind, r.relpages,
         CASE WHEN t.nstats = t.natts AND r.reltuples >= 0 AND r.relpages > 0 THEN
           pg_catalog.ceil(r.reltuples * (${maxalign(`23 + CASE WHEN t.nulls THEN pg_catalog.ceil(t.natts / 8.0) ELSE 0 END`)} + ${maxalign('t.data_width')} + 4)
                           / ((${BLOCK} - 24) * r.fillfactor / 100))
         END AS expected_pages
  FROM rel r JOIN tcol t ON t.oid = r.oid
  UNION ALL
  SELECT x.nspname, x.relname, x.indexrelname, 'index', x.relpages,
         CASE WHEN x.plain AND ic.nstats = ic.natts AND x.reltuples >= 0 AND x.relpages > 0 THEN
           1 + pg_catalog.ceil(x.reltuples * (${maxalign(`8 + CASE WHEN ic.nulls THEN 4 ELSE 0 END + ic.data_width`)} + 4)
                               / ((${BLOCK} - 24 - 16) * x.fillfactor / 100))
         END
  FROM idx x LEFT JOIN icol ic ON ic.indexrelid = x.indexrelid
)
SELECT pg_catalog.current_database() AS datname, nspname AS schemaname, relname, indexrelname, kind,
       CASE WHEN expected_pages IS NULL THEN 'none' ELSE 'statistics' END AS method,
       (relpages * ${BLOCK})::float8 AS size_bytes,
       -- greatest() skips NULLs: without an estimate the answer is NULL, not 0
       (CASE WHEN expected_pages IS NOT NULL THEN greatest(relpages - expected_pages, 0) * ${BLOCK} END)::float8 AS bloat_bytes,
       (CASE WHEN expected_pages IS NOT NULL AND relpages > 0 THEN greatest(relpages - expected_pages, 0) / relpages END)::float8 AS bloat_ratio
FROM est`;

/** pgstattuple's estimate for the largest tables up to $1 bytes each, at most $2 of them. */
export const BLOAT_APPROX_SQL = `
WITH rel AS (${RELATIONS}),
pick AS (
  SELECT r.*, pg_catalog.pg_relation_size(r.oid) AS bytes FROM rel r
  WHERE pg_catalog.pg_relation_size(r.oid) BETWEEN 1 AND $1
  ORDER BY pg_catalog.pg_relation_size(r.oid) DESC LIMIT $2
)
SELECT pg_catalog.current_database() AS datname, p.nspname AS schemaname, p.relname, '' AS indexrelname, 'table' AS kind,
       'pgstattuple_approx' AS method, a.table_len::float8 AS size_bytes,
       greatest(a.approx_free_space + a.dead_tuple_len - a.table_len * (100 - p.fillfactor) / 100, 0)::float8 AS bloat_bytes,
       (CASE WHEN a.table_len > 0 THEN greatest(a.approx_free_space + a.dead_tuple_len - a.table_len * (100 - p.fillfactor) / 100, 0) / a.table_len END)::float8 AS bloat_ratio
FROM pick p CROSS JOIN LATERAL @extschema:pgstattuple@.pgstattuple_approx(p.oid::pg_catalog.regclass) a`;

/** whether pgpulse's role may run pgstattuple_approx (granted to pg_stat_scan_tables, so to pg_monitor) */
export const BLOAT_APPROX_ALLOWED_SQL = `SELECT pg_catalog.has_function_privilege('@extschema:pgstattuple@.pgstattuple_approx(pg_catalog.regclass)', 'EXECUTE') AS allowed`;
