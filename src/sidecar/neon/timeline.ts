/**
 * Scale to zero, seen from the Neon API and pgpulse's own samples (never by waking the compute):
 *
 * - neon_compute_timeline: per step the compute state as a state timeline — 0 idle (or
 *   starting), 1 active with other clients, 2 active with only pgpulse around (pgpulse backing
 *   off so it can suspend), 3 active because Neon checks its availability;
 * - neon_active_periods: one row per active period (from API answer to API answer) with what kept
 *   the compute awake, from the samples pgpulse took while it was active: client sessions by
 *   application, user and database (collector neon_clients), walsenders, subscription workers,
 *   autovacuum workers (neon_activity), and the time only pgpulse used it.
 * Start/suspend/availability-check operations are stored as events (annotations) by the gate.
 */
import type { Frame } from '../../model/frames';
import type { EngineContext } from '../engine/context';
import { seriesFrame, tableFrame } from '../engine/series-frames';
import { NEON_ACTIVITY, NEON_CLIENTS } from './activity-collector';
import { NEON_API } from './gate';

export const TIMELINE_STATES = { idle: 0, active: 1, pgpulseOnly: 2, neonCheck: 3 } as const;

interface ApiPoint {
  ts: number;
  ok: boolean;
  active: number | null;
  backoff: number | null;
  neonCheck: number | null;
  ownOnlyMs: number | null;
  intervalMs: number | null;
}

function apiPoints(ctx: EngineContext, from: number, to: number): ApiPoint[] {
  const target = ctx.query.target;
  const samples = ctx.store.samples(target, NEON_API, from, to);
  const fields = ['active', 'backoff', 'neon_check', 'own_only_ms', 'state_interval_ms'];
  const series = ctx.store.matrix(target, NEON_API, fields, undefined, samples);
  const col = (f: string) => series.find((s) => s.field === f)?.values ?? [];
  const [a, b, n, o, iv] = fields.map(col);
  return samples.map((s, i) => ({
    ts: s.ts,
    ok: s.ok,
    active: a[i] ?? null,
    backoff: b[i] ?? null,
    neonCheck: n[i] ?? null,
    ownOnlyMs: o[i] ?? null,
    intervalMs: iv[i] ?? null,
  }));
}

/** within one step the state that says most wins: other clients > Neon check > only pgpulse > idle */
const RANK: Record<number, number> = { 0: 0, 2: 1, 3: 2, 1: 3 };

function stateOf(p: ApiPoint): number | null {
  if (!p.ok || p.active === null) {
    return null;
  }
  if (p.active === 0) {
    return TIMELINE_STATES.idle;
  }
  return p.neonCheck ? TIMELINE_STATES.neonCheck : p.backoff ? TIMELINE_STATES.pgpulseOnly : TIMELINE_STATES.active;
}

export function computeTimeline(ctx: EngineContext): Frame[] {
  const points = apiPoints(ctx, ctx.range.from - 3_600_000, ctx.range.to);
  if (points.length === 0) {
    ctx.notices.push(
      `no Neon API answers stored for target ${ctx.query.target}: configure neon.projectId, neon.endpointId and an API key for it`
    );
  }
  const now = Date.now();
  let j = -1;
  const values = ctx.grid.starts.map((start) => {
    const end = Math.min(start + ctx.grid.step, now + 1);
    if (start > now) {
      return null;
    }
    let worst: number | null = null;
    while (j + 1 < points.length && points[j + 1].ts < end) {
      j++;
      if (points[j].ts >= start) {
        const st = stateOf(points[j]);
        if (st !== null && (worst === null || RANK[st] > RANK[worst])) {
          worst = st;
        }
      }
    }
    if (worst !== null || j < 0) {
      return worst;
    }
    // nothing new in the step: the last answer holds until the next poll is due (plus a missed one)
    const p = points[j];
    return end - p.ts <= 2 * (p.intervalMs ?? 30_000) + ctx.grid.step ? stateOf(p) : null;
  });
  return [
    seriesFrame(
      ctx,
      'neon_compute_timeline',
      {},
      values,
      'Neon compute state per step from the Neon API: 0 idle/init, 1 active (other clients), 2 active, only pgpulse (backing off), 3 active for a Neon availability check'
    ),
  ];
}

interface Period {
  start: number;
  end: number | null;
  neonCheck: boolean;
  ownOnlyMs: number;
}

export function activePeriods(points: ApiPoint[]): Period[] {
  const out: Period[] = [];
  let cur: Period | undefined;
  let prevOwn: number | null = null;
  for (const p of points) {
    if (!p.ok || p.active === null) {
      continue;
    }
    if (p.active === 1) {
      if (!cur) {
        cur = { start: p.ts, end: null, neonCheck: false, ownOnlyMs: 0 };
        out.push(cur);
      }
      cur.neonCheck ||= p.neonCheck === 1;
      if (p.ownOnlyMs !== null && prevOwn !== null) {
        cur.ownOnlyMs += p.ownOnlyMs >= prevOwn ? p.ownOnlyMs - prevOwn : p.ownOnlyMs;
      }
    } else if (cur) {
      cur.end = p.ts;
      cur = undefined;
    }
    if (p.ownOnlyMs !== null) {
      prevOwn = p.ownOnlyMs;
    }
  }
  return out;
}

function keptAwakeBy(
  ctx: EngineContext,
  from: number,
  to: number
): { text: string; walsenders: number; subscriptions: number; autovacuum: number; samples: number } {
  const target = ctx.query.target;
  const act = ctx.store.samples(target, NEON_ACTIVITY, from, to).filter((s) => s.ok);
  const max = (f: string) => {
    const v = ctx.store.matrix(target, NEON_ACTIVITY, [f], undefined, act).find((s) => s.field === f)?.values ?? [];
    return v.reduce<number>((m, x) => (x !== null && x > m ? x : m), 0);
  };
  const walsenders = max('walsenders');
  const subscriptions = max('subscription_workers');
  const autovacuum = max('autovacuum_workers');
  const clientSamples = ctx.store.samples(target, NEON_CLIENTS, from, to).filter((s) => s.ok);
  const series = ctx.store.matrix(target, NEON_CLIENTS, ['active', 'connected'], undefined, clientSamples);
  const groups = new Map<string, { label: Record<string, string>; active: number; connected: number }>();
  for (const s of series) {
    const k = JSON.stringify(s.labels);
    const g = groups.get(k) ?? { label: s.labels, active: 0, connected: 0 };
    const peak = s.values.reduce<number>((m, x) => (x !== null && x > m ? x : m), 0);
    if (s.field === 'active') {
      g.active = Math.max(g.active, peak);
    } else {
      g.connected = Math.max(g.connected, peak);
    }
    groups.set(k, g);
  }
  const parts = [...groups.values()]
    .sort((a, b) => b.active - a.active || b.connected - a.connected)
    .slice(0, 5)
    .map(
      (g) =>
        `${g.label.application_name || '(no application_name)'} (${g.label.usename}@${g.label.datname}): ${g.active} active, ${g.connected} connected at most`
    );
  if (walsenders) {
    parts.push(`${walsenders} walsender(s)`);
  }
  if (subscriptions) {
    parts.push(`${subscriptions} subscription worker(s)`);
  }
  if (autovacuum) {
    parts.push(`autovacuum (${autovacuum} worker(s))`);
  }
  return { text: parts.join('; '), walsenders, subscriptions, autovacuum, samples: act.length };
}

export function activePeriodsTable(ctx: EngineContext): Frame[] {
  const points = apiPoints(ctx, ctx.range.from - 86_400_000, ctx.range.to);
  const periods = activePeriods(points).filter(
    (p) => (p.end ?? ctx.range.to) >= ctx.range.from && p.start <= ctx.range.to
  );
  const rows = periods.map((p) => {
    const end = p.end ?? Math.min(ctx.range.to, Date.now());
    const k = keptAwakeBy(ctx, p.start, end);
    const by = p.neonCheck
      ? `Neon availability check${k.text ? `; ${k.text}` : ''}`
      : k.samples === 0
        ? 'not sampled: pgpulse stayed away (backing off, or the API was unreachable), so it does not know'
        : k.text || 'only pgpulse (no other client, walsender, subscription or autovacuum seen)';
    return { start: p.start, end: p.end, duration: (end - p.start) / 1000, by, ...k, pgpulseOnly: p.ownOnlyMs / 1000 };
  });
  return [
    tableFrame(
      ctx,
      [
        { name: 'start', type: 'time', values: rows.map((r) => r.start) },
        { name: 'end', type: 'time', values: rows.map((r) => r.end), nullable: true },
        { name: 'duration', type: 'number', values: rows.map((r) => r.duration), config: { unit: 's' } },
        { name: 'kept awake by', type: 'string', values: rows.map((r) => r.by) },
        { name: 'walsenders', type: 'number', values: rows.map((r) => r.walsenders) },
        { name: 'subscription workers', type: 'number', values: rows.map((r) => r.subscriptions) },
        { name: 'autovacuum workers', type: 'number', values: rows.map((r) => r.autovacuum) },
        { name: 'pgpulse only', type: 'number', values: rows.map((r) => r.pgpulseOnly), config: { unit: 's' } },
      ],
      'active periods of the Neon compute (Neon API answers) with what pgpulse saw keeping it awake: clients by application/user/database (peaks), walsenders, subscription workers, autovacuum; end empty while still active'
    ),
  ];
}

/** how long after a resume counts as the cold start */
export const COLD_START_MS = 5 * 60_000;

/**
 * neon_resume_cold_start (table): what each resume cost in its first 5 minutes — the local file
 * cache starts empty after every start, so reads go to Neon storage until it warms up. Per active
 * period: Δfile_cache_misses (reads from storage), the LFC hit ratio, and the average getpage wait
 * where neon_perf_counters is readable, from the samples pgpulse took in that window (none when
 * pgpulse did not sample it). Deltas run from the first sample in the window, so reads before
 * pgpulse's first sample are not counted.
 */
export function coldStartTable(ctx: EngineContext): Frame[] {
  const target = ctx.query.target;
  const periods = activePeriods(apiPoints(ctx, ctx.range.from - 86_400_000, ctx.range.to)).filter(
    (p) => p.start >= ctx.range.from && p.start <= ctx.range.to
  );
  const fields = ['file_cache_hits', 'file_cache_misses', 'getpage_wait_seconds_sum', 'getpage_wait_seconds_count'];
  const rows = periods.map((p) => {
    const to = Math.min(p.start + COLD_START_MS, p.end ?? Infinity, ctx.range.to);
    const samples = ctx.store.samples(target, 'neon', p.start, to).filter((s) => s.ok);
    const series = ctx.store.matrix(target, 'neon', fields, undefined, samples);
    const delta = (f: string): number | null => {
      const v = (series.find((s) => s.field === f)?.values ?? []).filter((x): x is number => x !== null);
      if (v.length < 2) {
        return null;
      }
      let d = 0;
      for (let i = 1; i < v.length; i++) {
        d += v[i] >= v[i - 1] ? v[i] - v[i - 1] : v[i];
      }
      return d;
    };
    const hits = delta('file_cache_hits');
    const misses = delta('file_cache_misses');
    const waitSum = delta('getpage_wait_seconds_sum');
    const waitCount = delta('getpage_wait_seconds_count');
    return {
      start: p.start,
      samples: samples.length,
      misses,
      ratio: hits !== null && misses !== null && hits + misses > 0 ? hits / (hits + misses) : null,
      wait: waitSum !== null && waitCount ? waitSum / waitCount : null,
    };
  });
  return [
    tableFrame(
      ctx,
      [
        { name: 'resumed', type: 'time', values: rows.map((r) => r.start) },
        { name: 'samples', type: 'number', values: rows.map((r) => r.samples) },
        { name: 'storage reads (LFC misses)', type: 'number', values: rows.map((r) => r.misses), nullable: true },
        {
          name: 'LFC hit ratio',
          type: 'number',
          values: rows.map((r) => r.ratio),
          nullable: true,
          config: { unit: 'percentunit' },
        },
        {
          name: 'avg getpage wait',
          type: 'number',
          values: rows.map((r) => r.wait),
          nullable: true,
          config: { unit: 's' },
        },
      ],
      `first ${COLD_START_MS / 60_000} minutes of each active period: Δfile_cache_misses, Δhits / (Δhits + Δmisses), Δgetpage_wait_seconds_sum / Δcount, from pgpulse's samples in that window`
    ),
  ];
}
