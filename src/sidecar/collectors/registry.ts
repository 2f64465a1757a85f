/**
 * The core collectors: one per catalog SQL collector, and bloat (SQL from the catalog, but the
 * method depends on pgstattuple). Feature modules (vector, neon) bring their code-driven ones
 * through their Feature.
 */
import { collectorSpecs } from '../../model/catalog/collectors';
import { bloatCollector } from './bloat';
import { sqlCollector } from './sql-collector';
import { fetchNewStatementTexts, withoutOwnStatements } from './statement-texts';
import type { Collector } from './types';

export function catalogCollectors(): Collector[] {
  const sql = collectorSpecs.map((spec) => {
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
  return [...sql, bloatCollector()];
}
