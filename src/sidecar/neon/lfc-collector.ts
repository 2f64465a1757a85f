/**
 * Collector `neon`: Neon's local file cache (LFC), working set, storage latency and size limits,
 * from the `neon` extension — each object read only when the monitoring role may read it.
 *
 * On Neon, `pg_monitor` is granted `neon_stat_file_cache` and
 * `approximate_working_set_size_seconds`, but not `neon_lfc_stats` or `neon_perf_counters` (only
 * neon_superuser has those). So every object is checked first with has_table_privilege /
 * has_function_privilege, and each read stands alone: a denied one is recorded (store kv
 * `neon:denied:<target>`, which the metric notices read) and the others still run. Reading a
 * denied object inside the collector's transaction would abort it and lose everything.
 *
 * - neon_stat_file_cache: file_cache_hits, _misses, _writes (cumulative, compute-wide) and
 *   file_cache_used (chunks in use);
 * - neon_lfc_stats: file_cache_used_pages and file_cache_chunk_size_pages (exact bytes in use);
 * - approximate_working_set_size_seconds(n) for 5 min, 15 min and 1 h (neon 1.4+), as Neon's
 *   exporter does (neon_lfc_approximate_working_set_size_windows);
 * - neon_perf_counters (neon 1.5+): getpage and LFC read waits, prefetch misses, pageserver
 *   disconnects (cumulative);
 * - settings neon.file_cache_size_limit and neon.max_cluster_size (MB), and pg_cluster_size()
 *   when present.
 * Objects are qualified with the extension's schema from pg_extension. Every statement is a
 * read; none calls a reset function.
 */
import type { PoolClient } from 'pg';
import type { Collector, CollectorResult, TargetContext } from '../collectors/types';

export const NEON_LFC = 'neon';
export const WORKING_SET_SECONDS = 300;
export const WORKING_SET_WINDOWS = [
  { seconds: 300, field: 'working_set_bytes', duration: '5m' },
  { seconds: 900, field: 'working_set_15m_bytes', duration: '15m' },
  { seconds: 3600, field: 'working_set_1h_bytes', duration: '1h' },
] as const;
/** neon's default chunk: 128 pages of 8 KB = 1 MB (file_cache_used counts chunks) */
const DEFAULT_CHUNK_PAGES = 128;
/** non-histogram rows of neon_perf_counters pgpulse keeps (Neon's exported names) */
export const PERF_COUNTERS = [
  'getpage_wait_seconds_count',
  'getpage_wait_seconds_sum',
  'file_cache_read_wait_seconds_count',
  'file_cache_read_wait_seconds_sum',
  'getpage_prefetch_misses_total',
  'pageserver_disconnects_total',
] as const;

export interface LfcCollectorOptions {
  /**
   * Run even when pg_extension lists no `neon` (a stand-in on stock PostgreSQL, used by the
   * tests): true looks the objects up in public, a string in that schema.
   */
  assumeExtension?: boolean | string;
  /** the same for neon_utils (num_cpus()): the schema holding a stand-in */
  assumeNeonUtils?: string;
}

/** the objects, what reads them, and what a missing grant costs (shown on the panels) */
export const NEON_OBJECTS = {
  neon_stat_file_cache: { kind: 'view', feeds: 'LFC hit ratio, effective hit ratio, LFC used' },
  neon_lfc_stats: { kind: 'view', feeds: 'exact LFC bytes in use (without it: chunks × chunk size)' },
  approximate_working_set_size_seconds: {
    kind: 'function',
    feeds: 'working set 5 m / 15 m / 1 h and the min CU that holds it',
  },
  neon_perf_counters: {
    kind: 'view',
    feeds: 'storage latency (getpage wait, LFC read wait, prefetch misses, pageserver disconnects)',
  },
} as const;
export type NeonObject = keyof typeof NEON_OBJECTS;

export const deniedKey = (target: string) => `neon:denied:${target}`;

function missing(what: string): Error {
  // a SQLSTATE code marks it as a collector error, not a lost connection
  return Object.assign(
    new Error(
      `${what} not found: the neon extension is missing or too old here (CREATE EXTENSION neon, or ALTER EXTENSION neon UPDATE)`
    ),
    {
      code: '42P01',
    }
  );
}

export function deniedMessage(object: NeonObject, qualified: string, role: string): string {
  return `${qualified} is not readable by role ${role} (${NEON_OBJECTS[object].kind === 'function' ? 'EXECUTE' : 'SELECT'} not granted): on Neon only neon_superuser members (roles created in the Neon console or API) have it, pg_monitor does not — lost: ${NEON_OBJECTS[object].feeds}. Connect pgpulse with such a role to get it; everything else works without it`;
}

/**
 * A size setting in bytes from current_setting(): "1536MB", "1GB", "512kB", or a bare number in
 * the GUC's unit (MB for neon.file_cache_size_limit and neon.max_cluster_size). Negative (-1 =
 * unlimited) and unparsable values give null.
 */
export function sizeSettingBytes(v: string | null | undefined): number | null {
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*(kB|MB|GB|TB)?\s*$/.exec(v ?? '');
  if (!m) {
    return null;
  }
  const n = Number(m[1]);
  if (n < 0) {
    return null;
  }
  const unit = { kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 }[m[2] ?? 'MB'] as number;
  return n * unit;
}

export function neonLfcCollector(opts: LfcCollectorOptions = {}): Collector {
  return {
    id: NEON_LFC,
    intervalFactor: 1,
    timeoutMs: 3000,
    shape: {
      key: [],
      counters: ['file_cache_hits', 'file_cache_misses', 'file_cache_writes', ...PERF_COUNTERS],
      gauges: [
        'file_cache_used',
        'used_bytes',
        ...WORKING_SET_WINDOWS.map((w) => w.field),
        'lfc_size_limit_bytes',
        'max_cluster_size_bytes',
        'cluster_size_bytes',
        'num_cpus',
        'max_connections',
      ],
    },
    // the LFC counters are in shared memory: a compute restart (every Neon resume) zeroes them
    resetsOnRestart: true,
    unavailable(ctx: TargetContext) {
      if (ctx.extensions.has('neon') || opts.assumeExtension) {
        return null;
      }
      return 'extension neon is not installed in this database: CREATE EXTENSION neon (Neon computes only)';
    },
    async collect(db: PoolClient, ctx: TargetContext): Promise<CollectorResult> {
      // always schema-qualified (the schema from the target's capabilities probe): the collector's
      // transaction pins search_path to pg_catalog, and no schema someone else can write to may
      // stand in for neon's objects
      const schema =
        ctx.extensionSchemas.get('neon') ??
        (typeof opts.assumeExtension === 'string' ? opts.assumeExtension : opts.assumeExtension ? 'public' : null);
      if (schema === null) {
        throw missing('the neon extension');
      }
      const q = (name: string) => `"${schema.replace(/"/g, '""')}".${name}`;
      const found = await db.query<Record<string, string | number | boolean | null>>(
        `WITH o AS (
           SELECT pg_catalog.to_regclass($1) AS fc, pg_catalog.to_regclass($2) AS st, pg_catalog.to_regclass($3) AS pc,
                  pg_catalog.to_regprocedure($4) AS ws, pg_catalog.to_regprocedure($5) AS cs)
         SELECT fc::text, st::text, pc::text, ws::text, cs::text,
                pg_catalog.has_table_privilege(fc, 'SELECT') AS fc_ok, pg_catalog.has_table_privilege(st, 'SELECT') AS st_ok,
                pg_catalog.has_table_privilege(pc, 'SELECT') AS pc_ok, pg_catalog.has_function_privilege(ws, 'EXECUTE') AS ws_ok,
                pg_catalog.has_function_privilege(cs, 'EXECUTE') AS cs_ok,
                pg_catalog.current_setting('block_size')::int AS bs, current_user::text AS role
         FROM o`,
        [
          q('neon_stat_file_cache'),
          q('neon_lfc_stats'),
          q('neon_perf_counters'),
          `${q('approximate_working_set_size_seconds')}(integer)`,
          `${q('pg_cluster_size')}()`,
        ]
      );
      const f = found.rows[0];
      const bs = Number(f.bs);
      const role = String(f.role);
      const denied: Partial<Record<NeonObject, string>> = {};
      const may = (object: NeonObject, name: unknown, ok: unknown): name is string => {
        if (!name) {
          return false;
        }
        if (ok !== true) {
          denied[object] = deniedMessage(object, String(name), role);
          return false;
        }
        return true;
      };
      const values: Record<string, number | null> = {
        file_cache_hits: null,
        file_cache_misses: null,
        file_cache_writes: null,
        file_cache_used: null,
        used_bytes: null,
        lfc_size_limit_bytes: null,
        max_cluster_size_bytes: null,
        cluster_size_bytes: null,
        num_cpus: null,
        max_connections: null,
      };
      for (const w of WORKING_SET_WINDOWS) {
        values[w.field] = null;
      }
      if (!f.fc) {
        throw missing('neon_stat_file_cache');
      }
      if (may('neon_stat_file_cache', f.fc, f.fc_ok)) {
        const lfc = await db.query<Record<string, string | null>>(
          `SELECT file_cache_hits, file_cache_misses, file_cache_writes, file_cache_used FROM ${f.fc}`
        );
        const row = lfc.rows[0] ?? {};
        const n = (v: string | null | undefined) => (v === null || v === undefined ? null : Number(v));
        values.file_cache_hits = n(row.file_cache_hits);
        values.file_cache_misses = n(row.file_cache_misses);
        values.file_cache_writes = n(row.file_cache_writes);
        values.file_cache_used = n(row.file_cache_used);
      }
      let usedPages: number | null = null;
      let chunkPages = DEFAULT_CHUNK_PAGES;
      if (may('neon_lfc_stats', f.st, f.st_ok)) {
        const s = await db.query<{ k: string; v: string | null }>(
          `SELECT lfc_key AS k, lfc_value AS v FROM ${f.st} WHERE lfc_key IN ('file_cache_used_pages', 'file_cache_chunk_size_pages')`
        );
        for (const r of s.rows) {
          if (r.k === 'file_cache_used_pages' && r.v !== null) {
            usedPages = Number(r.v);
          } else if (r.k === 'file_cache_chunk_size_pages' && r.v !== null && Number(r.v) > 0) {
            chunkPages = Number(r.v);
          }
        }
      }
      if (usedPages !== null) {
        values.used_bytes = usedPages * bs;
      } else if (values.file_cache_used !== null) {
        values.used_bytes = values.file_cache_used * chunkPages * bs;
      }
      if (may('approximate_working_set_size_seconds', f.ws, f.ws_ok)) {
        const fn = String(f.ws).replace(/\(integer\)$/, '');
        const w = await db.query<Record<string, string | null>>(
          `SELECT ${WORKING_SET_WINDOWS.map((x, i) => `${fn}($${i + 1})::float8 AS w${i}`).join(', ')}`,
          WORKING_SET_WINDOWS.map((x) => x.seconds)
        );
        WORKING_SET_WINDOWS.forEach((x, i) => {
          const pages = w.rows[0]?.[`w${i}`];
          values[x.field] = pages === null || pages === undefined ? null : Number(pages) * bs;
        });
      }
      if (may('neon_perf_counters', f.pc, f.pc_ok)) {
        const p = await db.query<{ metric: string; value: string | null }>(
          `SELECT metric, sum(value)::float8 AS value FROM ${f.pc} WHERE bucket_le IS NULL AND metric = ANY ($1::text[]) GROUP BY metric`,
          [[...PERF_COUNTERS]]
        );
        for (const m of PERF_COUNTERS) {
          values[m] = null;
        }
        for (const r of p.rows) {
          values[r.metric] = r.value === null ? null : Number(r.value);
        }
      }
      const settings = await db.query<{ lfc: string | null; max: string | null }>(
        "SELECT pg_catalog.current_setting('neon.file_cache_size_limit', true) AS lfc, pg_catalog.current_setting('neon.max_cluster_size', true) AS max"
      );
      values.lfc_size_limit_bytes = sizeSettingBytes(settings.rows[0]?.lfc);
      values.max_cluster_size_bytes = sizeSettingBytes(settings.rows[0]?.max);
      if (f.cs && f.cs_ok === true) {
        const c = await db.query<{ b: string | null }>(`SELECT ${String(f.cs).replace(/\(\)$/, '')}()::float8 AS b`);
        values.cluster_size_bytes = c.rows[0]?.b == null ? null : Number(c.rows[0].b);
      }
      // autoscaling: neon_utils.num_cpus() reports the vCPUs the VM has now (1 CU = 1 vCPU)
      const utils = await db.query<{ fn: string | null; ok: boolean | null; mc: string }>(
        `WITH f AS (SELECT pg_catalog.to_regprocedure(
            CASE WHEN $1::text IS NULL THEN NULL ELSE pg_catalog.quote_ident($1::text) || '.num_cpus()' END) AS fn)
         SELECT fn::text AS fn, pg_catalog.has_function_privilege(fn, 'EXECUTE') AS ok, pg_catalog.current_setting('max_connections') AS mc FROM f`,
        // neon_utils' schema from the capabilities probe, else a test's stand-in
        [ctx.extensionSchemas.get('neon_utils') ?? opts.assumeNeonUtils ?? null]
      );
      const u = utils.rows[0];
      values.max_connections = Number(u.mc);
      if (u.fn && u.ok === true) {
        const c = await db.query<{ n: string | null }>(`SELECT ${u.fn.replace(/\(\)$/, '')}()::float8 AS n`);
        values.num_cpus = c.rows[0]?.n == null ? null : Number(c.rows[0].n);
      }
      ctx.store.kvSet(deniedKey(ctx.target.name), JSON.stringify(denied));
      return { rows: [{ key: {}, values }] };
    },
  };
}
