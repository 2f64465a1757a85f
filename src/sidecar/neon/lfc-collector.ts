/**
 * Collector `neon`: Neon's local file cache (LFC) and working set, from the `neon` extension.
 *
 * - neon_stat_file_cache (every neon extension version): file_cache_hits, _misses, _writes
 *   (cumulative, compute-wide) and file_cache_used (chunks in use);
 * - neon_lfc_stats, when present: file_cache_used_pages and file_cache_chunk_size_pages, so the
 *   bytes in use are exact on versions with variable chunk sizes;
 * - approximate_working_set_size_seconds(300), when present (neon 1.4+): distinct pages touched
 *   in the last 5 minutes.
 * Objects are looked up in the extension's schema, so `CREATE EXTENSION neon SCHEMA neon` works.
 * Every statement is a read; none calls a reset function.
 */
import type { PoolClient } from 'pg';
import type { Collector, CollectorResult, TargetContext } from '../collectors/types';

export const NEON_LFC = 'neon';
export const WORKING_SET_SECONDS = 300;
/** neon's default chunk: 128 pages of 8 KB = 1 MB (file_cache_used counts chunks) */
const DEFAULT_CHUNK_PAGES = 128;

export interface LfcCollectorOptions {
  /**
   * Run even when pg_extension lists no `neon` (a stand-in view on stock PostgreSQL, used by the
   * tests). The objects must still exist; a missing view is reported as an error.
   */
  assumeExtension?: boolean;
}

function missing(what: string): Error {
  // a SQLSTATE code marks it as a collector error, not a lost connection
  return Object.assign(new Error(`${what} not found: the neon extension is missing or too old here (CREATE EXTENSION neon, or ALTER EXTENSION neon UPDATE)`), {
    code: '42P01',
  });
}

async function extensionSchema(db: PoolClient): Promise<string | null> {
  const r = await db.query<{ nspname: string }>("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'neon'");
  return r.rows[0]?.nspname ?? null;
}

export function neonLfcCollector(opts: LfcCollectorOptions = {}): Collector {
  return {
    id: NEON_LFC,
    intervalFactor: 1,
    timeoutMs: 3000,
    unavailable(ctx: TargetContext) {
      if (ctx.extensions.has('neon') || opts.assumeExtension) {
        return null;
      }
      return 'extension neon is not installed in this database: CREATE EXTENSION neon (Neon computes only)';
    },
    async collect(db: PoolClient): Promise<CollectorResult> {
      const schema = await extensionSchema(db);
      const q = (name: string) => (schema ? `"${schema.replace(/"/g, '""')}".${name}` : name);
      const found = await db.query<{ fc: string | null; st: string | null; ws: string | null; bs: number }>(
        `SELECT to_regclass($1)::text AS fc, to_regclass($2)::text AS st, to_regprocedure($3)::text AS ws, current_setting('block_size')::int AS bs`,
        [q('neon_stat_file_cache'), q('neon_lfc_stats'), `${q('approximate_working_set_size_seconds')}(integer)`],
      );
      const { fc, st, ws, bs } = found.rows[0];
      if (!fc) {
        throw missing('neon_stat_file_cache');
      }
      const lfc = await db.query<Record<string, string | null>>(`SELECT file_cache_hits, file_cache_misses, file_cache_writes, file_cache_used FROM ${fc}`);
      const row = lfc.rows[0] ?? {};
      const n = (v: string | null | undefined) => (v === null || v === undefined ? null : Number(v));
      const values: Record<string, number | null> = {
        file_cache_hits: n(row.file_cache_hits),
        file_cache_misses: n(row.file_cache_misses),
        file_cache_writes: n(row.file_cache_writes),
        file_cache_used: n(row.file_cache_used),
        used_bytes: null,
        working_set_bytes: null,
      };
      let usedPages: number | null = null;
      let chunkPages = DEFAULT_CHUNK_PAGES;
      if (st) {
        const s = await db.query<{ k: string; v: string | null }>(
          `SELECT lfc_key AS k, lfc_value AS v FROM ${st} WHERE lfc_key IN ('file_cache_used_pages', 'file_cache_chunk_size_pages')`,
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
      if (ws) {
        const w = await db.query<{ pages: string | null }>(`SELECT ${ws.replace(/\(integer\)$/, '')}($1)::float8 AS pages`, [WORKING_SET_SECONDS]);
        const pages = w.rows[0]?.pages;
        values.working_set_bytes = pages === null || pages === undefined ? null : Number(pages) * bs;
      }
      return { rows: [{ key: {}, values }] };
    },
  };
}
