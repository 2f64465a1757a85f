/**
 * Every collector the sampler runs: the catalog's SQL collectors plus code-driven ones registered
 * by feature modules (vector, neon).
 */
import { collectorSpecs } from '../../model/catalog/collectors';
import { sqlCollector } from './sql-collector';
import { fetchNewStatementTexts, ownQueryIds } from './statement-texts';
import type { Collector } from './types';

const extra: Collector[] = [];

export function registerCollector(c: Collector): void {
  const at = extra.findIndex((e) => e.id === c.id);
  if (at >= 0) {
    extra[at] = c;
  } else {
    extra.push(c);
  }
}

export function allCollectors(): Collector[] {
  const base = collectorSpecs.map((spec) => {
    const c = sqlCollector(spec);
    if (spec.id === 'statements') {
      const collect = c.collect.bind(c);
      // the sidecar's own statements would otherwise top "top queries" on a quiet database
      c.collect = async (db, ctx) => {
        const res = await collect(db, ctx);
        const mine = ownQueryIds(ctx);
        return { ...res, rows: res.rows.filter((r) => !mine.has(r.key.queryid)) };
      };
      c.after = async (db, ctx, result) => {
        await fetchNewStatementTexts(db, ctx, result);
      };
    }
    return c;
  });
  return [...base, ...extra];
}
