/**
 * The last sampled value per step of optional Neon readings, with gaps where there is none.
 * The generic gauge reads a missing value as zero (right for "no backends"), but an unlimited
 * max_cluster_size or an extension without the function is not
 * zero: those steps stay empty.
 */
import type { Frame } from '../../model/frames';
import type { EngineContext } from '../engine/context';
import { seriesFrame } from '../engine/series-frames';

/** metric → collector and fields (series name = kind label when several) */
export const LAST_VALUE_METRICS: Record<string, { collector: string; fields: Array<{ field: string; name: string }> }> =
  {
    neon_db_total_size: {
      collector: 'neon',
      fields: [
        { field: 'cluster_size_bytes', name: 'neon_db_total_size' },
        { field: 'max_cluster_size_bytes', name: 'neon_max_cluster_size' },
      ],
    },
    neon_lfc_cache_size_limit: {
      collector: 'neon',
      fields: [{ field: 'lfc_size_limit_bytes', name: 'neon_lfc_cache_size_limit' }],
    },
    neon_lfc_approximate_working_set_size_windows: {
      collector: 'neon',
      fields: [
        { field: 'working_set_bytes', name: '5m' },
        { field: 'working_set_15m_bytes', name: '15m' },
        { field: 'working_set_1h_bytes', name: '1h' },
      ],
    },
  };

export function lastValues(ctx: EngineContext): Frame[] {
  const spec = LAST_VALUE_METRICS[ctx.metric.id];
  if (!spec) {
    return [];
  }
  const target = ctx.query.target;
  const samples = ctx.store.samples(target, spec.collector, ctx.range.from, ctx.range.to).filter((s) => s.ok);
  const series = ctx.store.matrix(
    target,
    spec.collector,
    spec.fields.map((f) => f.field),
    undefined,
    samples
  );
  const frames: Frame[] = [];
  for (const f of spec.fields) {
    const v = series.find((s) => s.field === f.field)?.values ?? [];
    const values: Array<number | null> = ctx.grid.starts.map(() => null);
    samples.forEach((s, i) => {
      const b = Math.floor((s.ts - ctx.grid.starts[0]) / ctx.grid.step);
      const x = v[i] ?? null;
      if (x !== null && b >= 0 && b < values.length) {
        values[b] = x; // samples are in time order: the last one wins
      }
    });
    if (values.some((x) => x !== null)) {
      frames.push(
        seriesFrame(
          ctx,
          f.name,
          spec.fields.length > 1 ? { kind: f.name } : {},
          values,
          `last ${f.field} sampled in each step; empty where there is none`
        )
      );
    }
  }
  if (frames.length === 0) {
    ctx.notices.push(
      `no ${spec.fields.map((f) => f.field).join(' / ')} samples in this range (not applicable here, e.g. an unlimited cluster size has no limit, or the compute was idle)`
    );
  }
  return frames;
}
