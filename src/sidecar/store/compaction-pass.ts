/**
 * The sidecar's hourly compaction, one (target, collector) history at a time with the event loop
 * free in between: a fleet's pass (thinning, packing chunks) takes seconds in all, and held at
 * once it would delay every sampling timer by as much.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { CompactOptions, Store } from './store';

export interface CompactionPassResult {
  removed: number;
  streams: number;
  /** the longest the event loop was held by one history, ms */
  longestStepMs: number;
  /** ended early: the sidecar is stopping */
  stopped: boolean;
}

export async function runCompactionPass(
  store: Store,
  now: number,
  opts: CompactOptions,
  stopping: () => boolean
): Promise<CompactionPassResult> {
  const out: CompactionPassResult = { removed: 0, streams: 0, longestStepMs: 0, stopped: false };
  for (const stream of store.compactionStreams()) {
    if (stopping()) {
      out.stopped = true;
      return out;
    }
    const t0 = performance.now();
    out.removed += store.compactStream(now, opts, stream);
    out.longestStepMs = Math.max(out.longestStepMs, performance.now() - t0);
    out.streams++;
    await yieldToLoop();
  }
  // the sidecar may have stopped (and closed the store) while the last history yielded
  if (stopping()) {
    out.stopped = true;
    return out;
  }
  store.compactTail(now, opts);
  return out;
}
