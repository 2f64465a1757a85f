/**
 * Health computations that need more than one collector: connection utilization, sampler
 * staleness, and the event stream used for annotations.
 */
import type { Frame } from '../../../model/frames';
import { latestValues, loadSeries, type EngineContext } from '../context';
import { seriesFrame, tableFrame } from '../series-frames';
import { bucketOf } from '../steps';
import { AWAY_BY_DESIGN_STREAM } from '../../store/store';

export function connectionUtilization(ctx: EngineContext): Frame[] {
  const activity = loadSeries(ctx, 'activity', ['count'], {});
  const settings = ctx.store.samples(ctx.query.target, 'settings', 0, ctx.range.to);
  const maxConn = latestValues(
    {
      samples: settings.slice(-1),
      series: ctx.store.matrix(
        ctx.query.target,
        'settings',
        ['value'],
        { name: 'max_connections' },
        settings.slice(-1)
      ),
    },
    'value'
  );
  const max = [...maxConn.values()][0]?.value ?? null;
  const n = ctx.grid.starts.length;
  const values: Array<number | null> = new Array(n).fill(null);
  if (max && max > 0) {
    for (let i = 0; i < activity.samples.length; i++) {
      const sm = activity.samples[i];
      const b = bucketOf(ctx.grid, sm.ts);
      if (!sm.ok || b < 0) {
        continue;
      }
      let total = 0;
      for (const s of activity.series) {
        if (s.field === 'count') {
          total += s.values[i] ?? 0;
        }
      }
      values[b] = Math.max(values[b] ?? 0, total / max);
    }
  } else {
    ctx.notices.push('max_connections not sampled yet (settings are read every few minutes)');
  }
  return [
    seriesFrame(
      ctx,
      'connection_utilization',
      {},
      values,
      'client backends (pg_stat_activity) / max_connections, highest sample per step'
    ),
  ];
}

export function samplerStaleness(ctx: EngineContext): Frame[] {
  const t = ctx.query.target;
  const ok = ctx.store.samples(t, 'server', ctx.range.from - 86_400_000, ctx.range.to).filter((s) => s.ok);
  // a gate that kept pgpulse away on purpose (an idle Neon compute) is not staleness
  const away = ctx.store.awayByDesign(t, ctx.range.from - 86_400_000, ctx.range.to);
  const fresh = [...ok.map((s) => s.ts), ...away].sort((a, b) => a - b);
  const now = Date.now();
  // a fresh sample stamped after now was written while the clock is behind the history (the writer
  // stamps it at the stream's newest time, Store.writeSample): the sampler is live, not stale or absent
  const behind = [ctx.store.lastSample(t, 'server'), ctx.store.lastSample(t, AWAY_BY_DESIGN_STREAM)].some(
    (s) => s !== undefined && s.ts > now
  );
  const values = ctx.grid.starts.map((start) => {
    const at = Math.min(start + ctx.grid.step, now);
    if (start > now) {
      return null;
    }
    if (behind && at === now) {
      return 0;
    }
    // last fresh sample at or before `at`
    let lo = 0;
    let hi = fresh.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (fresh[mid] <= at) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? null : Math.max(0, (at - fresh[found]) / 1000);
  });
  return [
    seriesFrame(
      ctx,
      'sampler_staleness',
      {},
      values,
      'seconds since the last successful sample (or since pgpulse last saw the Neon compute idle by design) at the end of each step'
    ),
  ];
}

export function events(ctx: EngineContext): Frame[] {
  const evs = ctx.store.events(ctx.query.target, ctx.range.from, ctx.range.to);
  return [
    tableFrame(
      ctx,
      [
        { name: 'time', type: 'time', values: evs.map((e) => e.ts) },
        { name: 'title', type: 'string', values: evs.map((e) => e.title) },
        { name: 'text', type: 'string', values: evs.map((e) => e.text) },
        { name: 'kind', type: 'string', values: evs.map((e) => e.kind) },
        { name: 'tags', type: 'string', values: evs.map((e) => e.tags.join(',')) },
      ],
      'events recorded by the sidecar: restarts, statistics resets, availability, indexes created/dropped, findings, actions'
    ),
  ];
}
