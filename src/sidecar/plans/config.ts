/**
 * targets[].plans: how plans are explained and how often their fingerprints are sampled.
 *
 *   plans:
 *     sampleTopN: 5          # fingerprint the top N statements by total time (0 = off)
 *     sampleInterval: 15m    # how often (slow on purpose: each is an EXPLAIN per statement)
 *     timeout: 5s            # statement_timeout of one EXPLAIN (default: the target's statementTimeout)
 *     analyzeTimeout: 30s    # statement_timeout of the opt-in EXPLAIN ANALYZE action
 */
import { z } from 'zod';
import { parseDuration, type TargetConfig } from '../config';

const duration = (min: number, max: number) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    try {
      const ms = parseDuration(v);
      if (ms < min || ms > max) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be between ${min / 1000} s and ${max / 1000} s` });
        return z.NEVER;
      }
      return ms;
    } catch (e) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message });
      return z.NEVER;
    }
  });

export const plansSchema = z
  .object({
    sampleTopN: z.number().int().min(0).max(50).default(5),
    sampleInterval: duration(60_000, 86_400_000).default('15m'),
    timeout: duration(100, 600_000).optional(),
    analyzeTimeout: duration(100, 3_600_000).default('30s'),
  })
  .strict();

export interface PlansConfig {
  sampleTopN: number;
  sampleIntervalMs: number;
  timeoutMs: number;
  analyzeTimeoutMs: number;
}

export function parsePlansConfig(target: TargetConfig): PlansConfig {
  const where = `targets[${target.name}].plans`;
  const parsed = plansSchema.safeParse(target.plans ?? {});
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) =>
      i.code === 'unrecognized_keys'
        ? `  - ${where}: unknown key(s) ${i.keys.join(', ')}: allowed are sampleTopN, sampleInterval, timeout, analyzeTimeout`
        : `  - ${where}${i.path.length ? '.' + i.path.join('.') : ''}: ${i.message}`
    );
    throw new Error(`Invalid plans configuration:\n${lines.join('\n')}`);
  }
  const p = parsed.data;
  return {
    sampleTopN: p.sampleTopN,
    sampleIntervalMs: p.sampleInterval,
    timeoutMs: p.timeout ?? target.statementTimeoutMs,
    analyzeTimeoutMs: p.analyzeTimeout,
  };
}
