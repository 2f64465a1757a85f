/**
 * What the panels say about `neon` objects the monitoring role may not read. The collector
 * records each denied object (store kv neon:denied:<target>); a metric that cannot be computed
 * without it answers with that error, one that only loses detail carries it as a frame notice.
 */
import type { EngineContext } from '../engine/context';
import { notify } from '../engine/notices';
import { deniedKey, type NeonObject } from './lfc-collector';

/** metric → objects it needs (required: error without it; optional: a notice) */
export const METRIC_OBJECTS: Record<string, { required: NeonObject[]; optional?: NeonObject[] }> = {
  neon_lfc_hit_ratio: { required: ['neon_stat_file_cache'] },
  neon_effective_hit_ratio: { required: ['neon_stat_file_cache'] },
  neon_lfc_used_bytes: { required: ['neon_stat_file_cache'], optional: ['neon_lfc_stats'] },
  neon_working_set_bytes: { required: ['approximate_working_set_size_seconds'] },
  neon_lfc_approximate_working_set_size_windows: { required: ['approximate_working_set_size_seconds'] },
  neon_min_cu_for_working_set: { required: ['approximate_working_set_size_seconds'] },
  neon_getpage_wait_seconds_avg: { required: ['neon_perf_counters'] },
  neon_file_cache_read_wait_seconds_avg: { required: ['neon_perf_counters'] },
  neon_storage_events: { required: ['neon_perf_counters'] },
};

export function deniedObjects(ctx: EngineContext): Partial<Record<NeonObject, string>> {
  const raw = ctx.store.kvGet(deniedKey(ctx.query.target));
  if (!raw) {
    return {};
  }
  try {
    return JSON.parse(raw) as Partial<Record<NeonObject, string>>;
  } catch {
    return {};
  }
}

export function neonGrantCheck(ctx: EngineContext): string | undefined {
  const need = METRIC_OBJECTS[ctx.metric.id];
  if (!need) {
    return undefined;
  }
  const denied = deniedObjects(ctx);
  for (const o of need.required) {
    if (denied[o]) {
      return `${ctx.metric.id}: ${denied[o]}`;
    }
  }
  for (const o of need.optional ?? []) {
    if (denied[o]) {
      notify(ctx, 'warning', denied[o] as string);
    }
  }
  return undefined;
}
