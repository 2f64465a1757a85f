/**
 * validateCatalog: every catalog metric must be answerable by this build. A compute field its
 * collector does not write, a group-by label that is not a key column, a rate over a gauge, a
 * custom handler nobody registered, a collector that does not exist, an option the vocabulary does
 * not declare: each would answer an empty 200 forever (or never be offered). Run at sidecar startup (refuses to start) and in tests/unit/engine/catalog-check.test.ts
 * (fails the build), naming the metric and the field.
 */
import { metrics as catalogMetrics, type Compute, type MetricDef } from '../model/catalog';
import { orderByValues, queryOptionDecls, queryOptionNames, type OptionDecl } from '../model/options';
import type { Collector } from './collectors/types';
import type { Handler } from './engine/context';

function fieldsOf(c: Compute): { counters: string[]; gauges: string[]; by: string[] } {
  switch (c.op) {
    case 'rate':
    case 'increase':
      return { counters: c.fields.map((f) => f.field), gauges: [], by: c.by };
    case 'ratio':
      return { counters: [...c.num, ...c.den], gauges: [], by: c.by };
    case 'gauge':
      return { counters: [], gauges: c.fields.map((f) => f.field), by: c.by };
    default:
      return { counters: [], gauges: [], by: [] };
  }
}

/**
 * The options a metric uses (options, required, variants, defaults, orderBy) against the one
 * vocabulary (model/options.ts): an undeclared option would be dropped by validation and never
 * offered by the editor.
 */
export function optionProblems(m: MetricDef): string[] {
  const problems: string[] = [];
  const declared = queryOptionDecls as Record<string, OptionDecl>;
  const perMetric = queryOptionNames.filter((o) => !declared[o].everyQuery);
  for (const o of new Set<string>(m.options)) {
    if (!declared[o]) {
      problems.push(
        `metric ${m.id}: option "${o}" is not declared in model/options.ts (declared: ${perMetric.join(', ')})`
      );
    } else if (declared[o].everyQuery) {
      problems.push(`metric ${m.id}: option "${o}" is taken by every query; do not list it in options`);
    }
  }
  const twice = m.options.filter((o, i) => m.options.indexOf(o) !== i);
  if (twice.length) {
    problems.push(
      `metric ${m.id}: option${twice.length > 1 ? 's' : ''} ${[...new Set(twice)].join(', ')} listed more than once`
    );
  }
  const uses: Array<[string, string]> = [
    ...(m.required ?? []).map((o): [string, string] => [o, 'required']),
    ...(m.variants ?? []).map((v): [string, string] => [v.when, "a variant's filter"]),
    ...Object.keys(m.defaults ?? {}).map((o): [string, string] => [o, 'has a default']),
    ...(m.orderBy?.length ? [['orderBy', 'orderBy choices'] as [string, string]] : []),
  ];
  for (const [o, why] of uses) {
    if (!(m.options as string[]).includes(o)) {
      problems.push(
        `metric ${m.id}: uses option ${o} (${why}) but does not list it in options, so the editor never offers it`
      );
    }
  }
  for (const v of [...(m.orderBy ?? []), ...(m.defaults?.orderBy ? [m.defaults.orderBy] : [])]) {
    if (!(orderByValues as string[]).includes(v)) {
      problems.push(`metric ${m.id}: orderBy "${v}" is not declared in model/options.ts (orderByLabels)`);
    }
  }
  return problems;
}

/** Problems as sentences; empty when every metric can be answered. */
export function validateCatalog(
  parts: { collectors: readonly Collector[]; handlers: ReadonlyMap<string, Handler> },
  metrics: readonly MetricDef[] = catalogMetrics
): string[] {
  const { collectors, handlers } = parts;
  const byId = new Map(collectors.map((c) => [c.id, c]));
  const problems: string[] = [];
  for (const m of metrics) {
    problems.push(...optionProblems(m));
    const computes: Array<{ where: string; c: Compute }> = [
      { where: 'compute', c: m.compute },
      ...(m.variants ?? []).map((v) => ({ where: `variant when ${v.when}`, c: v.compute })),
    ];
    for (const { where, c } of computes) {
      const at = `metric ${m.id} (${where})`;
      if (c.op === 'custom') {
        if (!handlers.has(c.handler)) {
          problems.push(`${at}: handler "${c.handler}" is not registered (Feature.handlers of its feature module)`);
        }
        continue;
      }
      const col = byId.get(c.collector);
      if (!col) {
        problems.push(`${at}: collector "${c.collector}" does not exist`);
        continue;
      }
      if (!col.shape) {
        problems.push(
          `${at}: collector "${c.collector}" does not declare its shape (Collector.shape), so its fields cannot be checked`
        );
        continue;
      }
      const want = fieldsOf(c);
      for (const f of want.counters) {
        if (col.shape.gauges.includes(f)) {
          problems.push(
            `${at}: field "${f}" of collector ${c.collector} is a gauge; ${c.op} needs a cumulative counter`
          );
        } else if (!col.shape.counters.includes(f)) {
          problems.push(
            `${at}: collector ${c.collector} has no counter "${f}" (counters: ${col.shape.counters.join(', ') || 'none'})`
          );
        }
      }
      for (const f of want.gauges) {
        if (!col.shape.gauges.includes(f) && !col.shape.counters.includes(f)) {
          problems.push(
            `${at}: collector ${c.collector} has no field "${f}" (gauges: ${col.shape.gauges.join(', ') || 'none'})`
          );
        }
      }
      for (const b of want.by) {
        if (!col.shape.key.includes(b)) {
          problems.push(
            `${at}: cannot group by "${b}": collector ${c.collector} keys rows by ${col.shape.key.join(', ') || 'nothing (one row)'}`
          );
        }
      }
    }
  }
  return problems;
}
