/**
 * Table and index bloat of the connected database (methods and their error: catalog/bloat-sql.ts).
 * Every table and B-tree index gets the statistics estimate; where pgstattuple is installed and
 * pgpulse may run it, the largest tables up to a size budget get pgstattuple_approx instead, which
 * measures. A failing pgstattuple call (a lock, a dropped table) is a partial problem, not a lost
 * sample: it runs under a savepoint and the statistics rows are kept. Docs: docs/vitals.md.
 */
import type { PoolClient } from 'pg';
import { BLOAT_APPROX_ALLOWED_SQL, BLOAT_APPROX_SQL, BLOAT_STATISTICS_SQL } from '../../model/catalog/bloat-sql';
import type { SampleRow } from '../store/types';
import { bindExtensionSchemas } from '../targets/safe-sql';
import type { Collector, CollectorResult, TargetContext } from './types';

/** pgstattuple_approx reads what is not all-visible: at most this many tables of at most this size */
export const APPROX_MAX_TABLES = 20;
export const APPROX_MAX_BYTES = 1024 ** 3;

const KEY = ['datname', 'schemaname', 'relname', 'indexrelname'];
const GAUGES = ['size_bytes', 'bloat_bytes', 'bloat_ratio'];

function toRow(r: Record<string, unknown>): SampleRow {
  const num = (v: unknown) => (v === null || v === undefined || !Number.isFinite(Number(v)) ? null : Number(v));
  return {
    key: Object.fromEntries(KEY.map((k) => [k, String(r[k] ?? '')])),
    values: Object.fromEntries(GAUGES.map((g) => [g, num(r[g])])),
    info: { kind: r.kind ?? null, method: r.method ?? null },
  };
}

export function bloatCollector(): Collector {
  return {
    id: 'bloat',
    // catalog-only most of the time, but pgstattuple_approx reads tables: every 40 cycles (10 min at 15 s)
    intervalFactor: 40,
    timeoutMs: 30000,
    shape: { key: KEY, counters: [], gauges: GAUGES },
    unavailable(ctx: TargetContext) {
      return ctx.serverVersionNum < 140000
        ? `needs PostgreSQL 14 or newer (this server is PostgreSQL ${Math.floor(ctx.serverVersionNum / 10000)})`
        : null;
    },
    async collect(db: PoolClient, ctx: TargetContext): Promise<CollectorResult> {
      const stats = await db.query(BLOAT_STATISTICS_SQL);
      const rows = new Map<string, SampleRow>();
      for (const r of stats.rows as Array<Record<string, unknown>>) {
        const row = toRow(r);
        rows.set(JSON.stringify(row.key), row);
      }
      const problems: string[] = [];
      if (ctx.extensions.has('pgstattuple')) {
        const allowed = await db.query(bindExtensionSchemas(BLOAT_APPROX_ALLOWED_SQL, ctx.extensionSchemas));
        if (allowed.rows[0]?.allowed === true) {
          await db.query('SAVEPOINT pgpulse_bloat');
          try {
            const approx = await db.query(bindExtensionSchemas(BLOAT_APPROX_SQL, ctx.extensionSchemas), [
              APPROX_MAX_BYTES,
              APPROX_MAX_TABLES,
            ]);
            for (const r of approx.rows as Array<Record<string, unknown>>) {
              const row = toRow(r);
              rows.set(JSON.stringify(row.key), row);
            }
            await db.query('RELEASE SAVEPOINT pgpulse_bloat');
          } catch (e) {
            await db.query('ROLLBACK TO SAVEPOINT pgpulse_bloat');
            problems.push(
              `pgstattuple_approx failed (${(e as Error).message}): the statistics estimate is used instead`
            );
          }
        } else {
          problems.push(
            "pgstattuple is installed but pgpulse's role may not run pgstattuple_approx: GRANT pg_stat_scan_tables (part of pg_monitor) to it"
          );
        }
      }
      return { rows: [...rows.values()], problems: problems.length ? problems : undefined };
    },
  };
}
