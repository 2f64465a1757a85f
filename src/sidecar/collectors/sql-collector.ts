/**
 * Turns a catalog CollectorSpec (SQL as data) into a Collector: picks the SQL for the server
 * version, maps columns to labels, numbers and info.
 */
import type { PoolClient } from 'pg';
import { sqlFor, type CollectorSpec } from '../../model/catalog/collectors';
import type { SampleRow } from '../store/types';
import { normalizeSentText } from '../store/scrub';
import { installHint } from '../targets/capabilities';
import { OWN_QUERY_MARK } from '../targets/own-statements';
import { bindExtensionSchemas } from '../targets/safe-sql';
import type { Collector, CollectorResult, TargetContext } from './types';

// every statement is marked by the connection pool (targets/own-statements); kept for importers
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
  // per target: descriptive details by key, and runs since they were last all refreshed
  const details = new Map<string, { runs: number; byKey: Map<string, Record<string, unknown>> }>();
  // per target: the last exact figures by key, the watched columns they were read at, and runs since all were re-read
  const exacts = new Map<
    string,
    { runs: number; byKey: Map<string, { watched: string; values: Record<string, unknown> }> }
  >();
  return {
    id: spec.id,
    intervalFactor: spec.intervalFactor,
    timeoutMs: spec.timeoutMs,
    shape: { key: spec.key, counters: spec.counters, gauges: spec.gauges },
    scope: spec.scope,
    unavailable(ctx: TargetContext) {
      if (spec.requires && !ctx.extensions.has(spec.requires)) {
        return `extension ${spec.requires} is not installed in this database: ${installHint(spec.requires, ctx.capabilities)}`;
      }
      if (!sqlFor(spec.variants, ctx.serverVersionNum)) {
        const min = Math.min(...spec.variants.map((v) => v.minVersion));
        return `needs PostgreSQL ${Math.floor(min / 10000)} or newer (this server is PostgreSQL ${Math.floor(ctx.serverVersionNum / 10000)})`;
      }
      return null;
    },
    async collect(db: PoolClient, ctx: TargetContext): Promise<CollectorResult> {
      const variant = sqlFor(spec.variants, ctx.serverVersionNum);
      if (!variant) {
        return { rows: [] };
      }
      const sql = bindExtensionSchemas(variant, ctx.extensionSchemas);
      const res = await db.query(sql);
      const described = await describe(db, ctx, res.rows as Array<Record<string, unknown>>);
      const exact = await readExact(db, ctx, res.rows as Array<Record<string, unknown>>);
      const rows: SampleRow[] = res.rows.map((fresh: Record<string, unknown>) => {
        const raw = spec.exact ? { ...fresh, ...exact.get(String(fresh[spec.exact.keyColumn]))?.values } : fresh;
        const r = spec.details ? { ...described.get(String(raw[spec.details.keyColumn])), ...raw } : raw;
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
          row.info = Object.fromEntries(
            spec.info.map((c) => [
              c,
              spec.scrub?.includes(c) && typeof r[c] === 'string' ? normalizeSentText(r[c]) : (r[c] ?? null),
            ])
          );
        }
        return row;
      });
      let epoch: number | null | undefined;
      const epochSql = spec.epochSql ? sqlFor(spec.epochSql, ctx.serverVersionNum) : undefined;
      if (epochSql) {
        const e = await db.query(bindExtensionSchemas(epochSql, ctx.extensionSchemas));
        epoch = num(e.rows[0]?.epoch_ms);
      }
      return { rows, epoch };
    },
  };

  async function describe(
    db: PoolClient,
    ctx: TargetContext,
    rows: Array<Record<string, unknown>>
  ): Promise<Map<string, Record<string, unknown>>> {
    if (!spec.details) {
      return new Map();
    }
    const { keyColumn, variants, refreshFactor } = spec.details;
    let cache = details.get(ctx.target.name);
    if (!cache || cache.runs >= refreshFactor) {
      cache = { runs: 0, byKey: new Map() };
      details.set(ctx.target.name, cache);
    }
    cache.runs++;
    const present = new Set(rows.map((r) => String(r[keyColumn])));
    for (const k of cache.byKey.keys()) {
      if (!present.has(k)) {
        cache.byKey.delete(k); // dropped objects: their oids may be reused
      }
    }
    const missing = [...present].filter((k) => !cache.byKey.has(k));
    const sql = sqlFor(variants, ctx.serverVersionNum);
    if (missing.length > 0 && sql) {
      const res = await db.query(bindExtensionSchemas(sql, ctx.extensionSchemas), [missing]);
      for (const d of res.rows as Array<Record<string, unknown>>) {
        cache.byKey.set(String(d[keyColumn]), d);
      }
    }
    return cache.byKey;
  }

  async function readExact(
    db: PoolClient,
    ctx: TargetContext,
    rows: Array<Record<string, unknown>>
  ): Promise<Map<string, { watched: string; values: Record<string, unknown> }>> {
    if (!spec.exact) {
      return new Map();
    }
    const { keyColumn, watch, variants, refreshFactor } = spec.exact;
    let cache = exacts.get(ctx.target.name);
    if (!cache || cache.runs >= refreshFactor) {
      cache = { runs: 0, byKey: new Map() };
      exacts.set(ctx.target.name, cache);
    }
    cache.runs++;
    const watchedNow = new Map(rows.map((r) => [String(r[keyColumn]), JSON.stringify(watch.map((c) => r[c] ?? null))]));
    for (const k of cache.byKey.keys()) {
      if (!watchedNow.has(k)) {
        cache.byKey.delete(k); // dropped relations: their oids may be reused
      }
    }
    const stale = [...watchedNow].filter(([k, w]) => cache.byKey.get(k)?.watched !== w).map(([k]) => k);
    const sql = sqlFor(variants, ctx.serverVersionNum);
    if (stale.length > 0 && sql) {
      const res = await db.query(bindExtensionSchemas(sql, ctx.extensionSchemas), [stale]);
      for (const d of res.rows as Array<Record<string, unknown>>) {
        const k = String(d[keyColumn]);
        cache.byKey.set(k, { watched: watchedNow.get(k) ?? '', values: d });
      }
    }
    return cache.byKey;
  }
}
