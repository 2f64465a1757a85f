/**
 * Step alignment: the grid of bucket start times a series is answered on. Buckets are aligned
 * to multiples of the step so that refreshing a dashboard does not shift values between buckets.
 */
export interface StepGrid {
  step: number;
  /** bucket start times (ms), ascending; bucket i covers [starts[i], starts[i] + step) */
  starts: number[];
}

export const MAX_POINTS = 11_000;

export function stepFor(
  range: { from: number; to: number },
  opts: { maxDataPoints?: number; intervalMs?: number; minStepMs: number }
): number {
  const span = Math.max(1, range.to - range.from);
  const byPoints =
    opts.maxDataPoints && opts.maxDataPoints > 0 ? Math.ceil(span / Math.min(opts.maxDataPoints, MAX_POINTS)) : 0;
  const raw = Math.max(opts.intervalMs ?? 0, byPoints, opts.minStepMs, Math.ceil(span / MAX_POINTS), 1000);
  // round to whole seconds so bucket edges are human-readable
  return Math.ceil(raw / 1000) * 1000;
}

export function grid(range: { from: number; to: number }, step: number): StepGrid {
  const first = Math.floor(range.from / step) * step;
  const starts: number[] = [];
  for (let t = first; t <= range.to; t += step) {
    starts.push(t);
  }
  return { step, starts };
}

/** index of the bucket holding ts, or -1 when outside the grid */
export function bucketOf(g: StepGrid, ts: number): number {
  if (g.starts.length === 0) {
    return -1;
  }
  const i = Math.floor((ts - g.starts[0]) / g.step);
  return i >= 0 && i < g.starts.length ? i : -1;
}
