/**
 * Counter deltas between consecutive successful samples, the Prometheus way: a counter that went
 * down, or whose epoch changed (restart, stats reset, PG17 stats_since), was reset — the delta
 * is the new value, never negative. A row that appears between two samples counts from zero.
 */
import type { SampleInfo } from '../store/types';

export interface Delta {
  /** index of the later sample */
  at: number;
  value: number;
  /** ms between the two samples */
  elapsed: number;
}

export function counterDeltas(samples: SampleInfo[], values: Array<number | null>, rowEpochs?: Array<number | null>): Delta[] {
  const out: Delta[] = [];
  let prev = -1;
  for (let i = 0; i < samples.length; i++) {
    if (!samples[i].ok) {
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
          (rowEpochs !== undefined && rowEpochs[i] !== null && rowEpochs[prev] !== null && rowEpochs[i] !== rowEpochs[prev]);
        d = reset ? b : b - a;
        out.push({ at: i, value: d, elapsed: samples[i].ts - samples[prev].ts });
      }
    }
    prev = i;
  }
  return out;
}
