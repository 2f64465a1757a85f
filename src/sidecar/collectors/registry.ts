/**
 * Every collector the sampler runs: the catalog's SQL collectors plus code-driven ones registered
 * by feature modules (vector, neon).
 */
import { collectorSpecs } from '../../model/catalog/collectors';
import { sqlCollector } from './sql-collector';
import { fetchNewStatementTexts, withoutOwnStatements } from './statement-texts';
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
      // pgpulse's own statements (targets/own-statements) never reach the store: every statement
      // metric, vector classification and advisor rule reads these rows
      c.collect = async (db, ctx) => {
        const res = await collect(db, ctx);
        return { ...res, rows: await withoutOwnStatements(db, ctx, res.rows) };
      };
      c.after = async (db, ctx, result) => {
        await fetchNewStatementTexts(db, ctx, result);
      };
    }
    return c;
  });
  return [...base, ...extra];
}
