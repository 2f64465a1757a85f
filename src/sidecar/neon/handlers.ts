/**
 * Engine computations of the Neon metrics that need more than one generic op:
 * the effective memory hit ratio (LFC counters against pg_stat_database of all databases) and
 * the compute state (Neon API answers, carried between polls).
 */
import type { Frame } from '../../model/frames';
import { bucketDeltas, loadSeries, type EngineContext } from '../engine/context';
import { seriesFrame } from '../engine/series-frames';
import { NEON_API } from './gate';
import { NEON_LFC } from './lfc-collector';

export function effectiveHitRatio(ctx: EngineContext): Frame[] {
  const n = ctx.grid.starts.length;
  const misses = bucketDeltas(ctx, loadSeries(ctx, NEON_LFC, ['file_cache_misses'], {}), ['file_cache_misses']);
  // LFC counters are compute-wide, so the denominator sums every database
  const reads = bucketDeltas(ctx, loadSeries(ctx, 'database', ['blks_hit', 'blks_read'], {}), [
    'blks_hit',
    'blks_read',
  ]);
  if (misses.length === 0) {
    ctx.notices.push('no local file cache samples in this range (neon extension missing, or the compute was idle)');
    return [];
  }
  const sum = (series: typeof misses, i: number): number | null => {
    let t: number | null = null;
    for (const s of series) {
      if (s.sum[i] !== null) {
        t = (t ?? 0) + (s.sum[i] as number);
      }
    }
    return t;
  };
  const values: Array<number | null> = new Array(n).fill(null);
  for (let i = 0; i < n; i++) {
    const m = sum(misses, i);
    const d = sum(reads, i);
    if (m === null || d === null || d <= 0) {
      continue;
    }
    values[i] = Math.min(1, Math.max(0, 1 - m / d));
  }
  return [
    seriesFrame(
      ctx,
      'neon_effective_hit_ratio',
      {},
      values,
      'effective hit ratio: 1 − Σ Δfile_cache_misses / Σ Δ(blks_hit + blks_read) over all databases, per step (reset-aware)'
    ),
  ];
}

export function computeState(ctx: EngineContext): Frame[] {
  const target = ctx.query.target;
  // look back far enough to carry the answer in force at the start of the range
  const samples = ctx.store.samples(target, NEON_API, ctx.range.from - 3_600_000, ctx.range.to);
  if (samples.length === 0) {
    ctx.notices.push(
      `no Neon API answers stored for target ${target}: configure neon.projectId, neon.endpointId and an API key for it`
    );
    return [];
  }
  const series = ctx.store.matrix(target, NEON_API, ['active', 'state_interval_ms'], undefined, samples);
  const active = series.find((s) => s.field === 'active')?.values ?? [];
  const interval = series.find((s) => s.field === 'state_interval_ms')?.values ?? [];
  const values: Array<number | null> = ctx.grid.starts.map(() => null);
  const now = Date.now();
  let j = -1;
  for (let i = 0; i < ctx.grid.starts.length; i++) {
    const end = Math.min(ctx.grid.starts[i] + ctx.grid.step, now + 1);
    if (ctx.grid.starts[i] > now) {
      break;
    }
    while (j + 1 < samples.length && samples[j + 1].ts < end) {
      j++;
    }
    if (j < 0) {
      continue;
    }
    const s = samples[j];
    // an answer holds until the next poll is due (plus one missed poll); a failed poll is a gap
    const holdMs = 2 * (interval[j] ?? 30_000);
    if (!s.ok || active[j] === null || end - s.ts > holdMs + ctx.grid.step) {
      continue;
    }
    values[i] = active[j];
  }
  return [
    seriesFrame(
      ctx,
      'neon_compute_state',
      {},
      values,
      'Neon API endpoint.current_state: 1 active, 0 idle or init; last answer in each step, held until the next poll is due'
    ),
  ];
}
