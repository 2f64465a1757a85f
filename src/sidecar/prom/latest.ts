/**
 * The last sample of every collector of every target, kept in memory for /metrics, and the
 * catalog's interval ratios computed from it and the sample before, once per sample: a scrape
 * then formats what is here and never touches the store (cheap whatever the scrape rate).
 */
import { metrics as catalogMetrics, type MetricDef } from '../../model/catalog';
import { promDerivedMetric } from '../../model/catalog/prometheus';
import type { CollectorShape } from '../collectors/types';
import type { SampleRow } from '../store/types';

export interface LatestCollector {
  ts: number;
  shape: CollectorShape;
  rows: SampleRow[];
}

export interface DerivedValue {
  labels: Record<string, string>;
  value: number;
}

type RatioCompute = Extract<MetricDef['compute'], { op: 'ratio' }>;

const rowKey = (shape: CollectorShape, r: SampleRow) => shape.key.map((k) => r.key[k] ?? '').join('\u0000');

/**
 * Σ Δnum / Σ Δden per `by` group between two samples, the engine's interval ratio over one step.
 * A row whose counters went down was reset between the samples and is left out, as is a group
 * whose denominator did not move (no activity: no ratio, rather than a made-up 0 or 1).
 */
export function intervalRatio(
  c: RatioCompute,
  shape: CollectorShape,
  prev: SampleRow[],
  cur: SampleRow[]
): DerivedValue[] {
  const before = new Map<string, SampleRow>();
  for (const r of prev) {
    before.set(rowKey(shape, r), r);
  }
  const groups = new Map<string, { labels: Record<string, string>; num: number; den: number }>();
  const fields = [...new Set([...c.num, ...c.den])];
  for (const r of cur) {
    const p = before.get(rowKey(shape, r));
    if (!p) {
      continue;
    }
    const delta: Record<string, number> = {};
    let usable = true;
    for (const f of fields) {
      const a = p.values[f];
      const b = r.values[f];
      if (typeof a !== 'number' || typeof b !== 'number' || b < a) {
        usable = false;
        break;
      }
      delta[f] = b - a;
    }
    if (!usable) {
      continue;
    }
    const labels: Record<string, string> = {};
    for (const k of c.by) {
      labels[k] = r.key[k] ?? '';
    }
    const g = c.by.map((k) => labels[k]).join('\u0000');
    const acc = groups.get(g) ?? { labels, num: 0, den: 0 };
    for (const f of c.num) {
      acc.num += delta[f];
    }
    for (const f of c.den) {
      acc.den += delta[f];
    }
    groups.set(g, acc);
  }
  const out: DerivedValue[] = [];
  for (const g of groups.values()) {
    if (g.den > 0) {
      out.push({ labels: g.labels, value: g.num / g.den });
    }
  }
  return out;
}

export class LatestSamples {
  private readonly byTarget = new Map<string, Map<string, LatestCollector>>();
  private readonly derivedByTarget = new Map<string, Map<string, DerivedValue[]>>();
  /** bumped on every change: the exposition is re-rendered only when it moved */
  generation = 0;

  /** Called by the sampler after a successful write. */
  record(target: string, collector: string, shape: CollectorShape | undefined, ts: number, rows: SampleRow[]): void {
    if (!shape) {
      return; // a collector that declares no row shape has nothing Prometheus could label
    }
    let cols = this.byTarget.get(target);
    if (!cols) {
      cols = new Map();
      this.byTarget.set(target, cols);
    }
    const prev = cols.get(collector);
    cols.set(collector, { ts, shape, rows });
    let derived = this.derivedByTarget.get(target);
    if (!derived) {
      derived = new Map();
      this.derivedByTarget.set(target, derived);
    }
    for (const m of catalogMetrics) {
      if (promDerivedMetric(m) && m.compute.op === 'ratio' && m.compute.collector === collector) {
        // no previous sample (first run, or after a failed one was dropped): no ratio yet
        derived.set(m.id, prev ? intervalRatio(m.compute, shape, prev.rows, rows) : []);
      }
    }
    this.generation++;
  }

  /** A collector that failed or became unavailable: its old values must not look current. */
  forget(target: string, collector: string): void {
    if (this.byTarget.get(target)?.delete(collector)) {
      for (const m of catalogMetrics) {
        if (m.compute.op === 'ratio' && m.compute.collector === collector) {
          this.derivedByTarget.get(target)?.delete(m.id);
        }
      }
      this.generation++;
    }
  }

  /** The target is unreachable: none of its values is current. */
  forgetTarget(target: string): void {
    if (this.byTarget.delete(target)) {
      this.derivedByTarget.delete(target);
      this.generation++;
    }
  }

  targets(): string[] {
    return [...this.byTarget.keys()];
  }

  collectors(target: string): Map<string, LatestCollector> {
    return this.byTarget.get(target) ?? new Map();
  }

  derived(target: string, metricId: string): DerivedValue[] {
    return this.derivedByTarget.get(target)?.get(metricId) ?? [];
  }
}
