/**
 * The catalog's generic computations: rate, increase, ratio and gauge over stored samples.
 */
import type { Compute } from '../../model/catalog';
import type { Frame } from '../../model/frames';
import { databaseStepSums, loadSeries, stepSums, type BucketSums, type EngineContext } from './context';
import { bucketOf } from './steps';
import { seriesFrame } from './series-frames';

function groupKey(labels: Record<string, string>, by: string[]): { key: string; labels: Record<string, string> } {
  const picked: Record<string, string> = {};
  for (const b of by) {
    picked[b] = labels[b] ?? '';
  }
  return { key: JSON.stringify(picked), labels: picked };
}

/** Sum bucket sums of several series into groups (by labels) and fields. */
function groupSums(sums: BucketSums[], by: string[], n: number) {
  const groups = new Map<
    string,
    { labels: Record<string, string>; fields: Map<string, { sum: Array<number | null>; elapsed: number[] }> }
  >();
  for (const s of sums) {
    const g = groupKey(s.labels, by);
    let e = groups.get(g.key);
    if (!e) {
      e = { labels: g.labels, fields: new Map() };
      groups.set(g.key, e);
    }
    let f = e.fields.get(s.field);
    if (!f) {
      f = { sum: new Array(n).fill(null), elapsed: new Array(n).fill(0) };
      e.fields.set(s.field, f);
    }
    for (let i = 0; i < n; i++) {
      if (s.sum[i] !== null) {
        f.sum[i] = (f.sum[i] ?? 0) + (s.sum[i] as number);
        // elapsed is a property of the sample pair, identical across series: keep the max, not the sum
        f.elapsed[i] = Math.max(f.elapsed[i], s.elapsed[i]);
      }
    }
  }
  return groups;
}

const describe = (c: Compute): string => {
  switch (c.op) {
    case 'rate':
      return `rate: Σ Δ(${c.fields.map((f) => f.field).join(', ')}) / Δt between samples, spread over the steps each delta covers, from ${c.collector} samples (reset-aware)`;
    case 'increase':
      return `increase: Σ Δ(${c.fields.map((f) => f.field).join(', ')}) per step from ${c.collector} samples (reset-aware)`;
    case 'ratio':
      return `ratio: Σ Δ(${c.num.join(' + ')}) / Σ Δ(${c.den.join(' + ')}) per step from ${c.collector} samples (reset-aware)`;
    case 'gauge':
      return `gauge: ${c.rowAgg} of ${c.fields.map((f) => f.field).join(', ')} over matching rows, ${c.stepAgg} per step, from ${c.collector} samples`;
    default:
      return `custom: ${c.handler}`;
  }
};

export function evaluateGeneric(ctx: EngineContext, c: Compute): Frame[] {
  const n = ctx.grid.starts.length;
  const how = describe(c);
  switch (c.op) {
    case 'rate':
    case 'increase': {
      const fields = c.fields.map((f) => f.field);
      // a rate is Δ over the real time between samples; an increase keeps whole counts per step
      const mode = c.op === 'rate' ? 'spread' : 'end';
      const sums = databaseStepSums(ctx, c.collector, fields, mode, c.by) ?? stepSums(ctx, c.collector, fields, mode);
      const frames: Frame[] = [];
      for (const g of groupSums(sums, c.by, n).values()) {
        for (const f of c.fields) {
          const data = g.fields.get(f.field);
          if (!data) {
            continue;
          }
          const values = data.sum.map((v, i) =>
            v === null ? null : c.op === 'rate' ? (data.elapsed[i] > 0 ? v / (data.elapsed[i] / 1000) : null) : v
          );
          const labels = c.fields.length > 1 ? { ...g.labels, kind: f.name } : g.labels;
          frames.push(seriesFrame(ctx, f.name, labels, values, how));
        }
      }
      return frames;
    }
    case 'ratio': {
      const fields = [...new Set([...c.num, ...c.den])];
      // shares of one sample pair keep its ratio, and a short step gets no alternating nulls
      const sums =
        databaseStepSums(ctx, c.collector, fields, 'spread', c.by) ?? stepSums(ctx, c.collector, fields, 'spread');
      const frames: Frame[] = [];
      for (const g of groupSums(sums, c.by, n).values()) {
        const values: Array<number | null> = [];
        // each field's step sums, looked up once per group instead of once per step
        const column = (f: string) => g.fields.get(f)?.sum;
        const nums = c.num.map(column).filter((x) => x !== undefined);
        const dens = c.den.map(column).filter((x) => x !== undefined);
        for (let i = 0; i < n; i++) {
          let num = 0;
          let den = 0;
          let any = false;
          for (const sum of nums) {
            const v = sum[i];
            if (v !== null && v !== undefined) {
              num += v;
              any = true;
            }
          }
          for (const sum of dens) {
            const v = sum[i];
            if (v !== null && v !== undefined) {
              den += v;
            }
          }
          values.push(any && den > 0 ? num / den : null);
        }
        frames.push(seriesFrame(ctx, c.name, g.labels, values, how));
      }
      return frames;
    }
    case 'gauge': {
      const fields = c.fields.map((f) => f.field);
      const data = loadSeries(ctx, c.collector, fields);
      // per sample: aggregate rows into groups, then per bucket across samples
      const groups = new Map<string, { labels: Record<string, string>; perField: Map<string, Array<number | null>> }>();
      for (const s of data.series) {
        if (!fields.includes(s.field)) {
          continue;
        }
        const g = groupKey(s.labels, c.by);
        let e = groups.get(g.key);
        if (!e) {
          e = { labels: g.labels, perField: new Map() };
          groups.set(g.key, e);
        }
        let arr = e.perField.get(s.field);
        if (!arr) {
          arr = new Array(data.samples.length).fill(null);
          e.perField.set(s.field, arr);
        }
        for (let i = 0; i < data.samples.length; i++) {
          if (!data.samples[i].ok) {
            continue;
          }
          // a row absent from a successful sample is zero backends / zero blocked, not a gap
          const raw = s.values[i];
          if ((raw === null || raw === undefined) && c.missing === 'gap') {
            continue;
          }
          const v = raw ?? 0;
          const cur = arr[i];
          arr[i] = cur === null ? v : c.rowAgg === 'sum' ? cur + v : Math.max(cur, v);
        }
      }
      const frames: Frame[] = [];
      for (const g of groups.values()) {
        for (const f of c.fields) {
          const perSample = g.perField.get(f.field);
          if (!perSample) {
            continue;
          }
          const values: Array<number | null> = new Array(n).fill(null);
          const counts: number[] = new Array(n).fill(0);
          for (let i = 0; i < data.samples.length; i++) {
            const v = perSample[i];
            const b = bucketOf(ctx.grid, data.samples[i].ts);
            if (v === null || b < 0) {
              continue;
            }
            const cur = values[b];
            if (cur === null || c.stepAgg === 'last') {
              values[b] = c.stepAgg === 'avg' && cur !== null ? cur + v : v;
            } else if (c.stepAgg === 'max') {
              values[b] = Math.max(cur, v);
            } else {
              values[b] = cur + v;
            }
            counts[b]++;
          }
          if (c.stepAgg === 'avg') {
            for (let b = 0; b < n; b++) {
              if (values[b] !== null && counts[b] > 0) {
                values[b] = (values[b] as number) / counts[b];
              }
            }
          }
          const labels = c.fields.length > 1 ? { ...g.labels, kind: f.name } : g.labels;
          frames.push(seriesFrame(ctx, f.name, labels, values, how));
        }
      }
      return frames;
    }
    default:
      throw new Error(`compute ${c.op} is not generic`);
  }
}
