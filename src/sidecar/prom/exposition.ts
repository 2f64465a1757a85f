/**
 * The catalog on /metrics in the Prometheus text format (0.0.4): one family per collector column
 * (cumulative counters as `_total` counters, point-in-time values as gauges, units in base units
 * in the name, labels = the collector's key columns plus `target`), and one family per catalog
 * interval ratio. Names, units, ranking and limits come from src/model/catalog/prometheus.ts.
 */
import { metrics as catalogMetrics, type Compute } from '../../model/catalog';
import { findCollectorSpec } from '../../model/catalog/collectors';
import {
  PROM_DEFAULT_LIMITS,
  PROM_PREFIX,
  promDerivedMetric,
  promMetricUnits,
  promRankedCollectors,
  promUnitRules,
  type PromLimit,
} from '../../model/catalog/prometheus';
import type { SampleRow } from '../store/types';
import type { LatestSamples } from './latest';

export type PromLimits = Record<PromLimit, number>;

interface Family {
  type: 'counter' | 'gauge';
  help: string;
  lines: string[];
}

const sanitize = (s: string) => s.replace(/[^a-zA-Z0-9_]/g, '_');

/** Family name and scale of one collector column. */
export function columnFamily(collector: string, field: string, counter: boolean): { name: string; scale: number } {
  let base = sanitize(field);
  let scale = 1;
  for (const rule of promUnitRules) {
    if (rule.match.test(base)) {
      base = base.replace(rule.match, rule.replace);
      scale = rule.scale;
      break;
    }
  }
  const name = `${PROM_PREFIX}${sanitize(collector)}_${base}`;
  return { name: counter && !name.endsWith('_total') ? `${name}_total` : name, scale };
}

/** Family name and scale of a catalog metric exposed on its own. */
export function metricFamily(id: string, unit: string): { name: string; scale: number } {
  const u = promMetricUnits[unit];
  const base = `${PROM_PREFIX}${sanitize(id)}`;
  if (!u) {
    return { name: base, scale: 1 };
  }
  // neon_getpage_wait_seconds_avg already says its unit
  return { name: base.includes(u.suffix.slice(1)) ? base : `${base}${u.suffix}`, scale: u.scale };
}

export const escapeHelp = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
export const escapeLabel = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function labelText(labels: Array<[string, string]>): string {
  return labels.length === 0 ? '' : `{${labels.map(([k, v]) => `${sanitize(k)}="${escapeLabel(v)}"`).join(',')}}`;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) {
    return 'NaN';
  }
  if (!Number.isFinite(v)) {
    return v > 0 ? '+Inf' : '-Inf';
  }
  return String(v);
}

/** collector.field → the catalog metrics computed from it (named in HELP so a user finds the panel). */
function readersIndex(): Map<string, string[]> {
  const idx = new Map<string, string[]>();
  const add = (c: Compute, id: string) => {
    const fields =
      c.op === 'rate' || c.op === 'increase' || c.op === 'gauge'
        ? c.fields.map((f) => f.field)
        : c.op === 'ratio'
          ? [...c.num, ...c.den]
          : [];
    for (const f of fields) {
      const k = `${c.collector}.${f}`;
      const list = idx.get(k) ?? [];
      if (!list.includes(id)) {
        list.push(id);
      }
      idx.set(k, list);
    }
  };
  for (const m of catalogMetrics) {
    add(m.compute, m.id);
    for (const v of m.variants ?? []) {
      add(v.compute, m.id);
    }
  }
  return idx;
}

const KEEP_RENDERED_MS = 5_000;

export class PromExposition {
  private readonly readers = readersIndex();
  private cached: { generation: number; text: string } | undefined;
  private release: NodeJS.Timeout | undefined;

  constructor(
    private readonly latest: LatestSamples,
    private readonly limits: PromLimits = PROM_DEFAULT_LIMITS
  ) {}

  /**
   * The catalog families; re-rendered only when a sample arrived since the last scrape. The text
   * (megabytes with thousands of relations) is kept only briefly: scrapes come every 15–60 s and
   * samples every few seconds, so holding it until the next scrape saves nothing but memory; a
   * second scraper of the same samples (an HA Prometheus pair) comes within seconds.
   */
  text(): string {
    if (this.cached?.generation !== this.latest.generation) {
      this.cached = { generation: this.latest.generation, text: this.render() };
      clearTimeout(this.release);
      this.release = setTimeout(() => (this.cached = undefined), KEEP_RENDERED_MS);
      this.release.unref();
    }
    return this.cached.text;
  }

  private render(): string {
    const families = new Map<string, Family>();
    const family = (name: string, type: Family['type'], help: () => string): Family | undefined => {
      const f = families.get(name);
      if (f) {
        // two columns mapping onto one name with different types would make the scrape invalid
        return f.type === type ? f : undefined;
      }
      const created: Family = { type, help: help(), lines: [] };
      families.set(name, created);
      return created;
    };
    const omitted: string[] = [];

    for (const target of this.latest.targets()) {
      for (const [collector, sample] of this.latest.collectors(target)) {
        const rank = promRankedCollectors[collector];
        let rows: SampleRow[] = sample.rows;
        if (rank) {
          if (rows.length > this.limits[rank.limit]) {
            const by = rank.by;
            rows = [...rows]
              .sort((a, b) => (b.values[by] ?? -Infinity) - (a.values[by] ?? -Infinity))
              .slice(0, this.limits[rank.limit]);
          }
          omitted.push(
            `${PROM_PREFIX}metrics_rows_omitted${labelText([
              ['target', target],
              ['collector', collector],
            ])} ${sample.rows.length - rows.length}`
          );
        }
        const spec = findCollectorSpec(collector);
        // one label text per row, shared by all of its columns
        const rowLabels = rows.map((r) =>
          labelText([['target', target], ...sample.shape.key.map((k): [string, string] => [k, r.key[k] ?? ''])])
        );
        const columns: Array<[string, boolean]> = [
          ...sample.shape.counters.map((f): [string, boolean] => [f, true]),
          ...sample.shape.gauges.map((f): [string, boolean] => [f, false]),
        ];
        for (const [field, counter] of columns) {
          const { name, scale } = columnFamily(collector, field, counter);
          const fam = family(name, counter ? 'counter' : 'gauge', () => {
            const readers = this.readers.get(`${collector}.${field}`);
            const parts = [
              `${field} from the ${collector} collector (${spec?.description ?? 'code-driven collector'})`,
              counter ? 'cumulative since the statistics were last reset' : 'value at the last sample',
              scale !== 1
                ? `converted to ${name.includes('timestamp') ? 'Unix seconds' : 'seconds'} from milliseconds`
                : '',
              readers ? `pgpulse catalog metric(s): ${readers.join(', ')}` : '',
              rank
                ? `only the top ${this.limits[rank.limit]} ${rank.what} per target (metrics.${rank.limit}; see pgpulse_metrics_rows_omitted)`
                : '',
            ];
            return parts.filter(Boolean).join('; ');
          });
          if (!fam) {
            continue;
          }
          for (let i = 0; i < rows.length; i++) {
            const v = rows[i].values[field];
            if (typeof v === 'number') {
              fam.lines.push(`${name}${rowLabels[i]} ${formatValue(scale === 1 ? v : v * scale)}`);
            }
          }
        }
      }
    }

    for (const m of catalogMetrics) {
      if (!promDerivedMetric(m) || m.compute.op !== 'ratio') {
        continue;
      }
      const { name, scale } = metricFamily(m.id, m.unit);
      const collector = m.compute.collector;
      const fam = family(
        name,
        'gauge',
        () => `${m.title}: ${m.description} On /metrics: between the last two samples of the ${collector} collector.`
      );
      if (!fam) {
        continue;
      }
      for (const target of this.latest.targets()) {
        for (const d of this.latest.derived(target, m.id)) {
          const labels: Array<[string, string]> = [['target', target], ...Object.entries(d.labels)];
          fam.lines.push(`${name}${labelText(labels)} ${formatValue(d.value * scale)}`);
        }
      }
    }

    const out: string[] = [];
    for (const [name, f] of families) {
      if (f.lines.length === 0) {
        continue;
      }
      out.push(`# HELP ${name} ${escapeHelp(f.help)}`, `# TYPE ${name} ${f.type}`, ...f.lines);
    }
    const om = `${PROM_PREFIX}metrics_rows_omitted`;
    if (omitted.length) {
      out.push(
        `# HELP ${om} Rows of a collector's last sample left off /metrics by the cardinality limits (metrics.topStatements, metrics.topRelations); 0 when none`,
        `# TYPE ${om} gauge`,
        ...omitted
      );
    }
    return out.length ? out.join('\n') + '\n' : '';
  }
}
