/**
 * The metric catalog: every metric pgpulse answers, as data. Editor menus, backend dispatch,
 * dashboards, alert rules and docs are all driven by (and tested against) this one list.
 */
import { queryOptionDecls, queryOptionNames, type OptionDecl } from '../options';
import { adviceMetrics } from './advice';
import { coreMetrics } from './core';
import { loadMetrics } from './load';
import { neonMetrics } from './neon';
import { planMetrics } from './plans';
import { replicationMetrics } from './replication';
import type { MetricDef } from './types';
import { vectorMetrics } from './vector';
import { vitalSignsMetrics } from './vital-signs';
import { vitalsMetrics } from './vitals';

export * from './types';

export const metrics: readonly MetricDef[] = [
  ...coreMetrics,
  ...loadMetrics,
  ...planMetrics,
  ...vitalsMetrics,
  ...replicationMetrics,
  ...vitalSignsMetrics,
  ...vectorMetrics,
  ...neonMetrics,
  ...adviceMetrics,
];

export function findMetric(id: string): MetricDef | undefined {
  return metrics.find((m) => m.id === id);
}

/** The public, I/O-free view of a metric served by GET /api/v1/catalog and the catalog resource. */
export function publicCatalog() {
  return {
    metrics: metrics.map((m) => ({
      id: m.id,
      title: m.title,
      description: m.description,
      unit: m.unit,
      kind: m.kind,
      area: m.area,
      options: m.options,
      required: m.required ?? [],
      orderBy: m.orderBy ?? [],
      defaults: m.defaults ?? {},
      alertable: m.alertable,
      requires: m.requires ?? [],
      minPgVersion: m.minPgVersion ?? 14,
      defaultLegend: m.defaultLegend ?? '',
    })),
    // the option vocabulary, so an API client learns what a metric's option names mean
    options: queryOptionNames.map((name) => {
      const d: OptionDecl = queryOptionDecls[name];
      return {
        name,
        label: d.label,
        description: d.description,
        templated: d.templated,
        everyQuery: d.everyQuery === true,
      };
    }),
  };
}
export type PublicCatalog = ReturnType<typeof publicCatalog>;
