/**
 * Autoscaling visibility: the compute size the VM has now against the endpoint's limits.
 *
 * allocated: neon_utils.num_cpus() where that extension is installed (measured, whole vCPUs:
 * 1 CU = 1 vCPU, so 0.25/0.5 CU read as 1), else neon.file_cache_size_limit / 3 GiB (estimate:
 * Neon sizes the cache at about 75 % of 4 GiB per CU). min_cu / max_cu:
 * autoscaling_limit_{min,max}_cu from the Neon API. Only sampled while the compute is active.
 */
import type { Frame } from '../../model/frames';
import type { EngineContext } from '../engine/context';
import { seriesFrame } from '../engine/series-frames';
import { NEON_API } from './gate';
import { NEON_LFC } from './lfc-collector';
import { LFC_SHARE_OF_RAM, RAM_PER_CU_BYTES } from './sizing';

interface Point {
  ts: number;
  allocated: number | null;
  measured: boolean;
}

function allocatedPoints(ctx: EngineContext): Point[] {
  const target = ctx.query.target;
  const samples = ctx.store.samples(target, NEON_LFC, ctx.range.from, ctx.range.to).filter((s) => s.ok);
  const series = ctx.store.matrix(target, NEON_LFC, ['num_cpus', 'lfc_size_limit_bytes'], undefined, samples);
  const cpus = series.find((s) => s.field === 'num_cpus')?.values ?? [];
  const lfc = series.find((s) => s.field === 'lfc_size_limit_bytes')?.values ?? [];
  return samples.map((s, i) => {
    const c = cpus[i] ?? null;
    const l = lfc[i] ?? null;
    if (c !== null) {
      return { ts: s.ts, allocated: c, measured: true };
    }
    return { ts: s.ts, allocated: l === null ? null : l / (RAM_PER_CU_BYTES * LFC_SHARE_OF_RAM), measured: false };
  });
}

function limitPoints(ctx: EngineContext): Array<{ ts: number; min: number | null; max: number | null }> {
  const target = ctx.query.target;
  const samples = ctx.store.samples(target, NEON_API, ctx.range.from - 3_600_000, ctx.range.to).filter((s) => s.ok);
  const series = ctx.store.matrix(target, NEON_API, ['min_cu', 'max_cu'], undefined, samples);
  const min = series.find((s) => s.field === 'min_cu')?.values ?? [];
  const max = series.find((s) => s.field === 'max_cu')?.values ?? [];
  return samples.map((s, i) => ({ ts: s.ts, min: min[i] ?? null, max: max[i] ?? null }));
}

/** per step: the last value at or before the step's end (limits change rarely) */
function lastPerStep<T extends { ts: number }>(
  ctx: EngineContext,
  points: T[],
  pick: (p: T) => number | null,
  carry: boolean
): Array<number | null> {
  let j = -1;
  return ctx.grid.starts.map((start) => {
    const end = start + ctx.grid.step;
    let inStep: number | null = null;
    while (j + 1 < points.length && points[j + 1].ts < end) {
      j++;
      if (points[j].ts >= start) {
        inStep = pick(points[j]) ?? inStep;
      }
    }
    return inStep ?? (carry && j >= 0 ? pick(points[j]) : null);
  });
}

export function autoscaling(ctx: EngineContext): Frame[] {
  const alloc = allocatedPoints(ctx);
  const limits = limitPoints(ctx);
  const how =
    'allocated = neon_utils.num_cpus() (measured, whole vCPUs) or neon.file_cache_size_limit / 3 GiB (estimate); min_cu / max_cu = autoscaling limits from the Neon API';
  if (alloc.length > 0 && alloc.every((p) => !p.measured)) {
    ctx.notices.push(
      'allocated size is estimated from neon.file_cache_size_limit (≈ 3 GiB of cache per CU): CREATE EXTENSION neon_utils to read num_cpus() instead'
    );
  }
  const frames = [
    seriesFrame(
      ctx,
      'allocated',
      { kind: 'allocated' },
      lastPerStep(ctx, alloc, (p) => p.allocated, false),
      how
    ),
  ];
  frames.push(
    seriesFrame(
      ctx,
      'min_cu',
      { kind: 'min_cu' },
      lastPerStep(ctx, limits, (p) => p.min, true),
      how
    )
  );
  frames.push(
    seriesFrame(
      ctx,
      'max_cu',
      { kind: 'max_cu' },
      lastPerStep(ctx, limits, (p) => p.max, true),
      how
    )
  );
  return frames;
}

/** share of the samples in each step at which the compute was at its max_cu (0..1) */
export function timeAtMax(ctx: EngineContext): Frame[] {
  const alloc = allocatedPoints(ctx);
  const limits = limitPoints(ctx);
  const values: Array<number | null> = ctx.grid.starts.map(() => null);
  const counts = ctx.grid.starts.map(() => ({ at: 0, n: 0 }));
  let j = -1;
  for (const p of alloc) {
    while (j + 1 < limits.length && limits[j + 1].ts <= p.ts) {
      j++;
    }
    const max = j >= 0 ? limits[j].max : null;
    const b = Math.floor((p.ts - ctx.grid.starts[0]) / ctx.grid.step);
    if (p.allocated === null || max === null || max <= 0 || b < 0 || b >= counts.length) {
      continue;
    }
    counts[b].n++;
    // num_cpus is whole vCPUs: at max when it reaches ceil(max_cu)
    if (p.allocated >= (p.measured ? Math.ceil(max) : max) - 1e-9) {
      counts[b].at++;
    }
  }
  counts.forEach((c, i) => {
    values[i] = c.n ? c.at / c.n : null;
  });
  return [
    seriesFrame(
      ctx,
      'neon_time_at_max_cu',
      {},
      values,
      'share of the samples in each step with the allocated size at autoscaling_limit_max_cu'
    ),
  ];
}
