/**
 * target.activity: the 1 s activity sampler behind the database load metrics, and the vCPU
 * reference the load is drawn against where the server cannot say it (everywhere but Neon).
 */
import { z } from 'zod';
import { ConfigError, duration } from '../config';

export const activityConfigSchema = z
  .object({
    /** on by default: one grouped read of pg_stat_activity per tick */
    enabled: z.boolean().default(true),
    /** tick interval; the buckets written to the store follow the target's sampling interval */
    interval: duration(100, 60_000).default('1s'),
    /** vCPUs of the server (ignored on Neon where neon_utils.num_cpus() answers) */
    vcpus: z.number().positive('must be above 0').max(4096, 'must be at most 4096').optional(),
  })
  .strict();

export type ActivityConfig = z.infer<typeof activityConfigSchema>;

/** Parse target.activity; errors name the field as the config file spells it, e.g. targets[0].activity.interval. */
export function parseActivityConfig(raw: unknown, where = 'activity'): ActivityConfig {
  const r = activityConfigSchema.safeParse(raw ?? {});
  if (r.success) {
    return r.data;
  }
  const lines = r.error.issues.map((i) => {
    const path = [where, ...i.path.map((p) => `.${String(p)}`)].join('');
    const msg =
      i.code === 'unrecognized_keys'
        ? `unknown key(s) ${i.keys.map((k) => `"${k}"`).join(', ')}: activity takes enabled, interval and vcpus`
        : i.message;
    return `  - ${path}: ${msg}`;
  });
  throw new ConfigError(`Invalid pgpulse configuration:\n${lines.join('\n')}`);
}
