/**
 * What pgvector has in this database: the extension version (with known-bug flags), every HNSW /
 * IVFFlat index with its build parameters and size, vector columns, builds in progress, and the
 * caches an index has to fit in. Catalog reads only; works for a pg_monitor role.
 */
import type { PoolClient } from 'pg';
import { quoteIdent } from '../targets/safe-sql';

export interface AnnIndex {
  datname: string;
  schemaname: string;
  relname: string;
  indexrelname: string;
  amname: 'hnsw' | 'ivfflat';
  opclass: string;
  /** the distance operator the opclass orders by (<->, <=>, <#> …) */
  operator: string | null;
  /** the indexed column (for an expression index: the vector column it reads) */
  column: string | null;
  /** the indexed expression when it is not a bare column, as pg_get_indexdef prints it */
  expression: string | null;
  /** what pg_get_indexdef(idx, 1) prints for the key: the column or the expression */
  keySql: string;
  /** type of the indexed key (vector, halfvec, bit, sparsevec) */
  keyType: string;
  /** the key type as SQL, schema-qualified when not in pg_catalog */
  keyTypeSql?: string;
  /** keySql / predicate as the pinned search_path prints them (pgvector names schema-qualified): for probe statements */
  probeKeySql?: string;
  probePredicate?: string | null;
  /** the ordering operator as SQL: OPERATOR(schema.op), never resolved through a search_path */
  operatorSql?: string | null;
  dims: number | null;
  m: number | null;
  efConstruction: number | null;
  lists: number | null;
  sizeBytes: number;
  tableBytes: number;
  /** pg_class.reltuples when analyzed, else n_live_tup */
  tableRows: number | null;
  deadTuples: number | null;
  /** pg_stat_user_indexes.idx_scan (cumulative; HNSW and IVFFlat scans count) */
  idxScan?: number | null;
  valid: boolean;
  predicate: string | null;
  indexdef: string;
}

export interface VectorColumn {
  datname: string;
  schemaname: string;
  relname: string;
  column: string;
  type: string;
  dims: number | null;
}

export interface IndexBuild {
  pid: number;
  relname: string;
  indexrelname: string;
  method: string;
  phase: string;
  blocksDone: number | null;
  blocksTotal: number | null;
  tuplesDone: number | null;
  tuplesTotal: number | null;
}

export interface VectorServer {
  version: string | null;
  /** known bugs of this release, each naming the fix */
  bugs: string[];
  sharedBuffersBytes: number | null;
  /** Neon local file cache size limit, when the neon extension / settings exist */
  lfcBytes: number | null;
  efSearch: number | null;
  probes: number | null;
  iterativeScan: string | null;
}

export interface Discovery {
  server: VectorServer;
  indexes: AnnIndex[];
  columns: VectorColumn[];
  builds: IndexBuild[];
}

function cmpVersion(a: string, b: string): number {
  const pa = a.split('.').map((x) => parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) {
    if ((pa[i] ?? 0) !== (pb[i] ?? 0)) {
      return (pa[i] ?? 0) - (pb[i] ?? 0);
    }
  }
  return 0;
}

/** Known problems of a pgvector release (from its CHANGELOG), each with the fix. */
export function knownBugs(version: string | null): string[] {
  if (!version) {
    return [];
  }
  const out: string[] = [];
  if (cmpVersion(version, '0.5.0') < 0) {
    out.push(`pgvector ${version} has no HNSW: upgrade to 0.8.x (ALTER EXTENSION vector UPDATE)`);
  }
  if (cmpVersion(version, '0.6.0') >= 0 && cmpVersion(version, '0.8.2') < 0) {
    out.push(
      `pgvector ${version}: parallel HNSW builds can overflow a buffer (fixed in 0.8.2): upgrade, or build with max_parallel_maintenance_workers = 0`
    );
  }
  if (cmpVersion(version, '0.5.0') >= 0 && cmpVersion(version, '0.8.4') < 0) {
    out.push(
      `pgvector ${version}: HNSW vacuum can corrupt the index (fixed in 0.8.3/0.8.4): upgrade, then REINDEX the HNSW indexes`
    );
  }
  if (cmpVersion(version, '0.8.0') < 0) {
    out.push(
      `pgvector ${version} has no iterative index scans: filtered queries can return fewer than k rows (0.8.0 adds hnsw.iterative_scan)`
    );
  }
  return out;
}

const UNIT_BYTES: Record<string, number> = { '8kB': 8192, kB: 1024, MB: 1048576, GB: 1073741824 };

function num(v: unknown): number | null {
  if (v === null || v === undefined || v === '') {
    return null;
  }
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

function relOption(reloptions: string | null, name: string): number | null {
  for (const kv of (reloptions ?? '').split(',')) {
    const [k, v] = kv.split('=');
    if (k === name) {
      return num(v);
    }
  }
  return null;
}

// Read under the pinned search_path (pg_catalog, pg_temp): pg_get_indexdef, pg_get_expr and
// format_type then print every pgvector object schema-qualified, so the probe statements built
// from them never resolve a name through a schema someone else can write to.
const INDEX_SQL = `
SELECT pg_catalog.current_database() AS datname, n.nspname AS schemaname, t.relname, ic.relname AS indexrelname,
       am.amname, opc.opcname AS opclass, pg_catalog.pg_get_indexdef(i.indexrelid) AS indexdef,
       pg_catalog.pg_get_indexdef(i.indexrelid, 1, true) AS key_sql, i.indkey[0] AS attnum, a.attname AS column,
       kt.typname AS key_type, pg_catalog.format_type(ia.atttypid, NULL) AS key_type_sql,
       ia.atttypmod AS key_typmod, a.atttypmod AS col_typmod,
       pg_catalog.array_to_string(ic.reloptions, ',') AS reloptions,
       pg_catalog.pg_relation_size(i.indexrelid) AS size_bytes, pg_catalog.pg_relation_size(t.oid) AS table_bytes,
       t.reltuples, s.n_live_tup, s.n_dead_tup, i.indisvalid,
       (SELECT ui.idx_scan FROM pg_catalog.pg_stat_user_indexes ui WHERE ui.indexrelid = i.indexrelid) AS idx_scan,
       pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS predicate,
       op.oprname AS operator, op.nspname AS operator_schema
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_am am ON am.oid = ic.relam
JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
JOIN pg_catalog.pg_opclass opc ON opc.oid = i.indclass[0]
JOIN pg_catalog.pg_attribute ia ON ia.attrelid = i.indexrelid AND ia.attnum = 1
JOIN pg_catalog.pg_type kt ON kt.oid = ia.atttypid
LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0] AND i.indkey[0] <> 0
LEFT JOIN pg_catalog.pg_stat_user_tables s ON s.relid = t.oid
LEFT JOIN LATERAL (
  SELECT o.oprname, onsp.nspname FROM pg_catalog.pg_amop ao
  JOIN pg_catalog.pg_operator o ON o.oid = ao.amopopr
  JOIN pg_catalog.pg_namespace onsp ON onsp.oid = o.oprnamespace
  WHERE ao.amopfamily = opc.opcfamily AND ao.amoppurpose = 'o' ORDER BY ao.amopstrategy LIMIT 1) op ON true
WHERE am.amname IN ('hnsw', 'ivfflat')
ORDER BY 2, 3, 4`;

const COLUMN_SQL = `
SELECT pg_catalog.current_database() AS datname, n.nspname AS schemaname, c.relname, a.attname AS column,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.atttypmod AS typmod
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
WHERE c.relkind IN ('r', 'p', 'm') AND a.attnum > 0 AND NOT a.attisdropped
  AND ty.typname IN ('vector', 'halfvec', 'sparsevec')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 2, 3, 4`;

const SETTINGS_SQL = `
SELECT name, setting, coalesce(unit, '') AS unit FROM pg_catalog.pg_settings
WHERE name IN ('shared_buffers', 'hnsw.ef_search', 'ivfflat.probes', 'hnsw.iterative_scan', 'neon.file_cache_size_limit', 'neon.max_file_cache_size')`;

const BUILD_SQL = `
SELECT p.pid, coalesce(c.relname, '') AS relname, coalesce(ic.relname, '') AS indexrelname, p.phase,
       p.blocks_done, p.blocks_total, p.tuples_done, p.tuples_total, pg_catalog.left(a.query, 2000) AS query
FROM pg_catalog.pg_stat_progress_create_index p
LEFT JOIN pg_catalog.pg_class c ON c.oid = p.relid
LEFT JOIN pg_catalog.pg_class ic ON ic.oid = p.index_relid
LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = p.pid`;

/** Read everything discovery needs. `methodOf` reads the access method of a CREATE INDEX text. */
export async function discover(
  db: PoolClient,
  vectorVersion: string | null,
  methodOf: (sql: string) => string | null | Promise<string | null>
): Promise<Discovery> {
  const settings = new Map<string, { setting: string; unit: string }>();
  for (const r of (await db.query(SETTINGS_SQL)).rows as Array<{ name: string; setting: string; unit: string }>) {
    settings.set(r.name, r);
  }
  const bytes = (name: string): number | null => {
    const s = settings.get(name);
    const v = s ? num(s.setting) : null;
    return v === null ? null : v * (UNIT_BYTES[s!.unit] ?? 1);
  };
  const lfc = bytes('neon.file_cache_size_limit') ?? bytes('neon.max_file_cache_size');
  const server: VectorServer = {
    version: vectorVersion,
    bugs: knownBugs(vectorVersion),
    sharedBuffersBytes: bytes('shared_buffers'),
    lfcBytes: lfc && lfc > 0 ? lfc : null,
    efSearch: num(settings.get('hnsw.ef_search')?.setting),
    probes: num(settings.get('ivfflat.probes')?.setting),
    iterativeScan: settings.get('hnsw.iterative_scan')?.setting ?? null,
  };
  const columns: VectorColumn[] = ((await db.query(COLUMN_SQL)).rows as Array<Record<string, any>>).map((r) => ({
    datname: r.datname,
    schemaname: r.schemaname,
    relname: r.relname,
    column: r.column,
    type: r.type,
    dims: num(r.typmod) !== null && Number(r.typmod) > 0 ? Number(r.typmod) : null,
  }));
  const indexes: AnnIndex[] = ((await db.query(INDEX_SQL)).rows as Array<Record<string, any>>).map((r) => {
    // shown to people and matched against statement texts: without pgvector's schema in casts
    const shown = (sql: string | null): string | null =>
      sql === null || !r.operator_schema
        ? sql
        : sql.split(`::${quoteIdent(r.operator_schema).replace(/^"([a-z_][a-z0-9_]*)"$/, '$1')}.`).join('::');
    const isExpr = Number(r.attnum) === 0;
    let column: string | null = r.column ?? null;
    if (isExpr) {
      // the vector column an expression reads: the table's vector column named in it
      const cands = columns.filter((c) => c.schemaname === r.schemaname && c.relname === r.relname);
      column =
        cands.find((c) =>
          new RegExp(`(^|[^A-Za-z0-9_$])"?${c.column.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"?([^A-Za-z0-9_$]|$)`).test(
            r.key_sql
          )
        )?.column ?? null;
    }
    const typmod = num(r.key_typmod);
    const reltuples = num(r.reltuples);
    return {
      datname: r.datname,
      schemaname: r.schemaname,
      relname: r.relname,
      indexrelname: r.indexrelname,
      amname: r.amname,
      opclass: r.opclass,
      operator: r.operator ?? null,
      column,
      expression: isExpr ? shown(r.key_sql) : null,
      keySql: shown(r.key_sql) as string,
      probeKeySql: r.key_sql,
      probePredicate: r.predicate ?? null,
      keyType: r.key_type,
      keyTypeSql: r.key_type_sql ?? r.key_type,
      operatorSql: r.operator ? `OPERATOR(${quoteIdent(r.operator_schema ?? 'pg_catalog')}.${r.operator})` : null,
      dims:
        typmod !== null && typmod > 0
          ? typmod
          : num(r.col_typmod) !== null && Number(r.col_typmod) > 0
            ? Number(r.col_typmod)
            : null,
      m: r.amname === 'hnsw' ? (relOption(r.reloptions, 'm') ?? 16) : null,
      efConstruction: r.amname === 'hnsw' ? (relOption(r.reloptions, 'ef_construction') ?? 64) : null,
      lists: r.amname === 'ivfflat' ? (relOption(r.reloptions, 'lists') ?? 100) : null,
      sizeBytes: Number(r.size_bytes),
      tableBytes: Number(r.table_bytes),
      tableRows: reltuples !== null && reltuples >= 0 ? reltuples : num(r.n_live_tup),
      deadTuples: num(r.n_dead_tup),
      idxScan: num(r.idx_scan),
      valid: r.indisvalid === true,
      predicate: shown(r.predicate ?? null),
      indexdef: shown(r.indexdef) as string,
    };
  });
  const builds: IndexBuild[] = [];
  for (const r of (await db.query(BUILD_SQL)).rows as Array<Record<string, any>>) {
    const method = r.query ? await methodOf(r.query) : null;
    if (method !== 'hnsw' && method !== 'ivfflat') {
      continue;
    }
    builds.push({
      pid: Number(r.pid),
      relname: r.relname,
      indexrelname: r.indexrelname,
      method,
      phase: r.phase,
      blocksDone: num(r.blocks_done),
      blocksTotal: num(r.blocks_total),
      tuplesDone: num(r.tuples_done),
      tuplesTotal: num(r.tuples_total),
    });
  }
  return { server, indexes, columns, builds };
}
