/**
 * Turns a catalog CollectorSpec (SQL as data) into a Collector: picks the SQL for the server
 * version, maps columns to labels, numbers and info.
 */
import type { PoolClient } from 'pg';
import { sqlFor, type CollectorSpec } from '../../model/catalog/collectors';
import type { SampleRow } from '../store/types';
import { OWN_QUERY_MARK } from '../targets/own-queries';
import type { Collector, CollectorResult, TargetContext } from './types';


export { OWN_QUERY_MARK };

function num(v: unknown): number | null {
  if (v === null || v === undefined) {
    return null;
  }
  if (typeof v === 'boolean') {
    return v ? 1 : 0;
  }
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

export function sqlCollector(spec: CollectorSpec): Collector {
  return {
    id: spec.id,
    intervalFactor: spec.intervalFactor,
    timeoutMs: spec.timeoutMs,
    unavailable(ctx: TargetContext) {
      if (spec.requires && !ctx.extensions.has(spec.requires)) {
        return `extension ${spec.requires} is not installed in this database: CREATE EXTENSION ${spec.requires}${
          spec.requires === 'pg_stat_statements' ? " (and add it to shared_preload_libraries, then restart)" : ''
        }`;
      }
      if (!sqlFor(spec.variants, ctx.serverVersionNum)) {
        return `PostgreSQL ${Math.floor(ctx.serverVersionNum / 10000)} is not supported by the ${spec.id} collector (needs 14 or newer)`;
      }
      return null;
    },
    async collect(db: PoolClient, ctx: TargetContext): Promise<CollectorResult> {
      const sql = sqlFor(spec.variants, ctx.serverVersionNum);
      if (!sql) {
        return { rows: [] };
      }
      const res = await db.query(OWN_QUERY_MARK + sql);
      const rows: SampleRow[] = res.rows.map((r: Record<string, unknown>) => {
        const key: Record<string, string> = {};
        for (const k of spec.key) {
          key[k] = r[k] === null || r[k] === undefined ? '' : String(r[k]);
        }
        const values: Record<string, number | null> = {};
        for (const c of [...spec.counters, ...spec.gauges]) {
          values[c] = num(r[c]);
        }
        if (spec.rowEpoch) {
          values._epoch = num(r[spec.rowEpoch]);
        }
        const row: SampleRow = { key, values };
        if (spec.info) {
          row.info = Object.fromEntries(spec.info.map((c) => [c, r[c] ?? null]));
        }
        return row;
      });
      let epoch: number | null | undefined;
      const epochSql = spec.epochSql ? sqlFor(spec.epochSql, ctx.serverVersionNum) : undefined;
      if (epochSql) {
        const e = await db.query(OWN_QUERY_MARK + epochSql);
        epoch = num(e.rows[0]?.epoch_ms);
      }
      return { rows, epoch };
    },
  };
}
