/**
 * Advisor thresholds from the environment (every rule has a sensible default; see types.ts):
 * PGPULSE_ADVISE_UNUSED_DAYS, PGPULSE_ADVISE_INDEX_FLOOR (bytes, or 512kB / 10MB),
 * PGPULSE_ADVISE_WINDOW (duration), PGPULSE_ADVISE_INTERVAL (how often the sidecar evaluates).
 */
import { ConfigError, parseDuration } from '../config';
import { defaultAdvisorOptions, type AdvisorOptions } from './types';

function bytes(v: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|kB|KB|MB|GB)?$/i.exec(v.trim());
  if (!m) {
    throw new ConfigError(`${name}="${v}" must be a size like 1048576, 512kB or 10MB`);
  }
  const unit = (m[2] ?? 'B').toUpperCase();
  return Math.round(Number(m[1]) * ({ B: 1, KB: 1024, MB: 1 << 20, GB: 1 << 30 } as Record<string, number>)[unit]);
}

function duration(v: string, name: string): number {
  try {
    return parseDuration(v);
  } catch (e) {
    throw new ConfigError(`${name}: ${(e as Error).message}`);
  }
}

export function advisorOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<AdvisorOptions> {
  const o: Partial<AdvisorOptions> = {};
  const days = env.PGPULSE_ADVISE_UNUSED_DAYS;
  if (days) {
    const n = Number(days);
    if (!Number.isFinite(n) || n < 0) {
      throw new ConfigError(`PGPULSE_ADVISE_UNUSED_DAYS="${days}" must be a number of days, e.g. 7`);
    }
    o.unusedIndexMinObservedMs = n * 86_400_000;
  }
  if (env.PGPULSE_ADVISE_INDEX_FLOOR) {
    o.indexSizeFloorBytes = bytes(env.PGPULSE_ADVISE_INDEX_FLOOR, 'PGPULSE_ADVISE_INDEX_FLOOR');
  }
  if (env.PGPULSE_ADVISE_WINDOW) {
    o.windowMs = duration(env.PGPULSE_ADVISE_WINDOW, 'PGPULSE_ADVISE_WINDOW');
  }
  return o;
}

export function evaluationIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  return env.PGPULSE_ADVISE_INTERVAL
    ? Math.max(10_000, duration(env.PGPULSE_ADVISE_INTERVAL, 'PGPULSE_ADVISE_INTERVAL'))
    : 300_000;
}

export function resolveOptions(...parts: Array<Partial<AdvisorOptions> | undefined>): AdvisorOptions {
  return Object.assign({}, defaultAdvisorOptions, ...parts.filter(Boolean));
}
