/**
 * The core collectors: one per catalog SQL collector with its code hooks (hooks.ts), and bloat
 * (SQL from the catalog, but the method depends on pgstattuple). Feature modules (vector, neon)
 * bring their code-driven ones through their Feature.
 */
import { collectorSpecs } from '../../model/catalog/collectors';
import { bloatCollector } from './bloat';
import { collectorHooks } from './hooks';
import { sqlCollector } from './sql-collector';
import type { Collector } from './types';

export function catalogCollectors(): Collector[] {
  const sql = collectorSpecs.map((spec) => ({ ...sqlCollector(spec), ...collectorHooks[spec.id] }));
  return [...sql, bloatCollector()];
}
