/**
 * Cache sizing on Neon: the smallest compute size whose local file cache would hold the 1-hour
 * working set. Estimates, from Neon's published sizing: 1 CU ≈ 4 GiB of RAM, and the LFC is
 * about 75 % of RAM (neon.file_cache_size_limit follows the compute size).
 */
import type { Frame } from '../../model/frames';
import { loadSeries, type EngineContext } from '../engine/context';
import { seriesFrame } from '../engine/series-frames';
import { NEON_LFC } from './lfc-collector';

export const RAM_PER_CU_BYTES = 4 * 1024 ** 3;
export const LFC_SHARE_OF_RAM = 0.75;
/** compute sizes Neon offers (autoscaling reaches 16 CU; fixed sizes go beyond) */
export const CU_SIZES = [
  0.25,
  0.5,
  ...Array.from({ length: 16 }, (_, i) => i + 1),
  ...Array.from({ length: 20 }, (_, i) => 18 + 2 * i),
];

/** the smallest offered CU whose LFC (≈ 75 % of 4 GiB per CU) holds `bytes`; null above the largest */
export function minCuFor(bytes: number): number | null {
  for (const cu of CU_SIZES) {
    if (cu * RAM_PER_CU_BYTES * LFC_SHARE_OF_RAM >= bytes) {
      return cu;
    }
  }
  return null;
}

export function minCuForWorkingSet(ctx: EngineContext): Frame[] {
  const { samples, series } = loadSeries(ctx, NEON_LFC, ['working_set_1h_bytes'], {});
  const values: Array<number | null> = ctx.grid.starts.map(() => null);
  const step = ctx.grid.step;
  const ws = series.filter((s) => s.field === 'working_set_1h_bytes');
  for (const s of ws) {
    for (let i = 0; i < samples.length; i++) {
      const v = s.values[i];
      const b = Math.floor((samples[i].ts - ctx.grid.starts[0]) / step);
      if (v === null || b < 0 || b >= values.length) {
        continue;
      }
      // the largest working set seen in the step decides the size
      const cu = minCuFor(v);
      values[b] = values[b] === null || (cu !== null && cu > (values[b] as number)) ? cu : values[b];
    }
  }
  if (ws.length === 0) {
    ctx.notices.push(
      'no 1-hour working-set samples in this range (neon extension 1.4+ needed, or the compute was idle)'
    );
  }
  return [
    seriesFrame(
      ctx,
      'neon_min_cu_for_working_set',
      {},
      values,
      'smallest compute size (CU) whose LFC (≈ 75 % of 4 GiB per CU) holds approximate_working_set_size_seconds(3600); max per step'
    ),
  ];
}
