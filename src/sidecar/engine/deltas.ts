/**
 * Counter deltas between consecutive successful samples, the Prometheus way: a counter that went
 * down, or whose epoch changed (statistics discarded by a crash, stats_reset, PG17 stats_since),
 * was reset — the delta is the new value, never negative. A row that appears between two samples
 * counts from zero. A restart alone is not a reset (see TargetSampler.resolveCounterEpoch).
 */
import type { SampleInfo } from '../store/types';

export interface Delta {
  /** index of the later sample */
  at: number;
  value: number;
  /** ms between the two samples */
  elapsed: number;
  /**
   * when the counted activity can have started: the earlier sample, or — for a reset seen across
   * failed samples (a crash) — the last failed sample, since the new counts began after the
   * outage. Spreading a delta over [start, end] never shows a rate above the true one.
   */
  start: number;
  end: number;
}

export function counterDeltas(
  samples: SampleInfo[],
  values: Array<number | null>,
  rowEpochs?: Array<number | null>
): Delta[] {
  const out: Delta[] = [];
  let prev = -1;
  let lastFailed = -1;
  for (let i = 0; i < samples.length; i++) {
    if (!samples[i].ok) {
      lastFailed = i;
      continue;
    }
    if (prev >= 0) {
      const a = values[prev];
      const b = values[i];
      if (b !== null) {
        let d: number;
        const reset =
          a === null ||
          b < a ||
          samples[i].epoch !== samples[prev].epoch ||
          // null → stamp is a reset too (pg_stat_reset() on a database never reset before)
          (rowEpochs !== undefined && rowEpochs[i] !== rowEpochs[prev]);
        d = reset ? b : b - a;
        const start = reset && lastFailed > prev ? samples[lastFailed].ts : samples[prev].ts;
        out.push({ at: i, value: d, elapsed: samples[i].ts - samples[prev].ts, start, end: samples[i].ts });
      }
    }
    prev = i;
  }
  return out;
}
