/**
 * What the Neon compute costs this billing period, from the Neon API (never from the compute):
 *
 * - used: the project's compute_time_seconds / 3600 = CU-hours so far (measured by Neon; every
 *   plan; refreshed by Neon about every 15 minutes);
 * - consumption_v2: compute_unit_seconds / 3600 from the consumption history API since the period
 *   start, where the plan allows it (measured by Neon);
 * - forecast: used × period length / elapsed part of the period (estimate: a straight line);
 * - allowance: neon.computeAllowanceCuHours from the config;
 * - pgpulse_only: time only pgpulse used the active compute × autoscaling_limit_min_cu (estimate,
 *   an upper bound of pgpulse's share: Neon would have kept the compute up for its suspend
 *   timeout after the last other client anyway).
 */
import type { Frame } from '../../model/frames';
import type { EngineContext } from '../engine/context';
import { seriesFrame } from '../engine/series-frames';
import { CONSUMPTION_STATUS, NEON_API, NEON_USAGE } from './gate';

const USAGE_FIELDS = [
  'compute_time_seconds',
  'period_start_ms',
  'period_end_ms',
  'compute_unit_seconds',
  'allowance_cu_hours',
  'min_cu',
  'consumption_status',
] as const;

/** why there is no consumption_v2 series, with the fix where there is one */
const CONSUMPTION_NOTES: Record<number, string> = {
  [CONSUMPTION_STATUS.noOrganization]:
    "no consumption_v2: Neon consumption history v2 needs the organization id and the project has none — set neon.orgId (org-…); used is the project's compute_time_seconds",
  [CONSUMPTION_STATUS.plan]:
    "no consumption_v2: this Neon plan has no consumption history v2 (Launch, Scale, Agent, Business or Enterprise have it); used is the project's compute_time_seconds",
  [CONSUMPTION_STATUS.organization]:
    "no consumption_v2: the Neon API key's account is not a member of the organization pgpulse asked for (HTTP 404) — set neon.orgId to the organization that owns the project",
  [CONSUMPTION_STATUS.other]:
    "no consumption_v2: Neon refused the consumption history v2 request (see the sidecar log); used is the project's compute_time_seconds",
  [CONSUMPTION_STATUS.transient]:
    'consumption_v2 may be missing or old: the last consumption history v2 request failed (network, 429 or 5xx) and is retried at the next neon.usageInterval',
};

interface UsagePoint {
  ts: number;
  v: Record<(typeof USAGE_FIELDS)[number], number | null>;
}

function usagePoints(ctx: EngineContext): UsagePoint[] {
  const target = ctx.query.target;
  // a usage answer holds until the next one; look back a day to carry one into the range
  const samples = ctx.store.samples(target, NEON_USAGE, ctx.range.from - 86_400_000, ctx.range.to).filter((s) => s.ok);
  const series = ctx.store.matrix(target, NEON_USAGE, [...USAGE_FIELDS], undefined, samples);
  return samples.map((s, i) => {
    const v = {} as UsagePoint['v'];
    for (const f of USAGE_FIELDS) {
      v[f] = series.find((x) => x.field === f)?.values[i] ?? null;
    }
    return { ts: s.ts, v };
  });
}

/** pgpulse-only milliseconds between from and to, from the gate's cumulative counter (reset-aware) */
function ownOnlyMs(ctx: EngineContext, from: number, to: number): number {
  const target = ctx.query.target;
  const samples = ctx.store.samples(target, NEON_API, from, to).filter((s) => s.ok);
  const values =
    ctx.store.matrix(target, NEON_API, ['own_only_ms'], undefined, samples).find((x) => x.field === 'own_only_ms')
      ?.values ?? [];
  let total = 0;
  let prev: number | null = null;
  for (const v of values) {
    if (v === null) {
      continue;
    }
    total += prev === null ? 0 : v >= prev ? v - prev : v;
    prev = v;
  }
  return total;
}

export interface CostAt {
  used: number | null;
  consumption: number | null;
  forecast: number | null;
  allowance: number | null;
  pgpulseOnly: number | null;
}

function costAt(ctx: EngineContext, points: UsagePoint[], end: number): CostAt | null {
  let p: UsagePoint | undefined;
  for (const x of points) {
    if (x.ts < end) {
      p = x;
    }
  }
  if (!p || p.v.compute_time_seconds === null) {
    return null;
  }
  const start = p.v.period_start_ms;
  const stop = p.v.period_end_ms;
  if (start !== null && end - 1 > (stop ?? Infinity)) {
    return null; // a new period began: the old answer no longer applies
  }
  const used = p.v.compute_time_seconds / 3600;
  const elapsed = start !== null ? p.ts - start : null;
  const forecast =
    start !== null && stop !== null && elapsed !== null && elapsed > 0 ? (used * (stop - start)) / elapsed : null;
  const own =
    start !== null && p.v.min_cu !== null
      ? (ownOnlyMs(ctx, start, Math.min(end, ctx.range.to)) / 3_600_000) * p.v.min_cu
      : null;
  return {
    used,
    consumption: p.v.compute_unit_seconds === null ? null : p.v.compute_unit_seconds / 3600,
    forecast,
    allowance: p.v.allowance_cu_hours,
    pgpulseOnly: own,
  };
}

function perStep(ctx: EngineContext, consumptionNote = false): Array<CostAt | null> {
  const points = usagePoints(ctx);
  if (points.length === 0) {
    ctx.notices.push(
      `no Neon project consumption stored for target ${ctx.query.target}: pgpulse reads GET /projects/{id} every neon.usageInterval (default 15 min) once the API answers`
    );
  }
  const status = points.at(-1)?.v.consumption_status;
  if (consumptionNote && status != null && CONSUMPTION_NOTES[status]) {
    ctx.notices.push(CONSUMPTION_NOTES[status]);
  }
  return ctx.grid.starts.map((s) =>
    s > Date.now() ? null : costAt(ctx, points, Math.min(s + ctx.grid.step, Date.now() + 1))
  );
}

export function computeCost(ctx: EngineContext): Frame[] {
  const steps = perStep(ctx, true);
  const pick = (k: keyof CostAt) => steps.map((c) => (c ? c[k] : null));
  const how =
    'CU-hours this billing period: used = project compute_time_seconds / 3600 (Neon API); consumption_v2 = Σ compute_unit_seconds / 3600 since the period start (where the plan allows); forecast = used × period / elapsed (estimate); allowance = neon.computeAllowanceCuHours; pgpulse_only = time only pgpulse used the compute × min CU (estimate, upper bound)';
  const frames: Frame[] = [];
  for (const [kind, key] of [
    ['used', 'used'],
    ['consumption_v2', 'consumption'],
    ['forecast', 'forecast'],
    ['allowance', 'allowance'],
    ['pgpulse_only', 'pgpulseOnly'],
  ] as const) {
    const values = pick(key);
    if (values.some((v) => v !== null)) {
      frames.push(seriesFrame(ctx, kind, { kind }, values, how));
    }
  }
  return frames;
}

export function forecastRatio(ctx: EngineContext): Frame[] {
  const steps = perStep(ctx);
  const values = steps.map((c) => (c && c.forecast !== null && c.allowance ? c.forecast / c.allowance : null));
  if (steps.some((c) => c && !c.allowance)) {
    ctx.notices.push(
      'no compute allowance configured: set neon.computeAllowanceCuHours (e.g. 100 for the Free plan) to compare the forecast with it'
    );
  }
  return [
    seriesFrame(
      ctx,
      'neon_compute_forecast_ratio',
      {},
      values,
      'forecast CU-hours to the end of the billing period / neon.computeAllowanceCuHours (estimate: a straight-line forecast)'
    ),
  ];
}
