/**
 * target.vector: pgvector options of one target. Probes run real ANN and exact queries against
 * the database, so they are off unless a target turns them on, and every knob has a ceiling.
 */
import { z } from 'zod';
import { ConfigError, duration } from '../config';

const ms = (min: number, max: number, dflt: string) => duration(min, max).default(dflt);

const probesSchema = z
  .object({
    /** off by default: probes read the table and run exact (sequential) scans */
    enabled: z.boolean().default(false),
    /** how often probes run (the sampler's gate still applies: never against an idle Neon compute) */
    interval: ms(1000, 86_400_000, '5m'),
    /** wall-clock budget of one probe run, all indexes together */
    budget: ms(50, 600_000, '10s'),
    /** statement_timeout of each probe statement (capped by what is left of the budget) */
    statementTimeout: ms(10, 600_000, '1s'),
    /** query vectors per index and run (sampled rows, each moved off its stored position); 200 gives a 99 % interval of about ±0.04 at recall 0.95, and the advice pools the last 5 runs (±0.018) */
    sampleSize: z
      .number()
      .int('must be a whole number')
      .min(1, 'must be at least 1')
      .max(2000, 'must be at most 2000 (each query runs once per sweep setting)')
      .default(200),
    /** k of recall@k: the LIMIT of the probe queries */
    k: z
      .number()
      .int('must be a whole number')
      .min(1, 'must be at least 1')
      .max(1000, 'must be at most 1000')
      .default(10),
    /** ef_search (HNSW) / probes (IVFFlat) values measured besides the session default */
    sweep: z
      .array(
        z
          .number()
          .int('values must be whole numbers')
          .min(1, 'values must be at least 1')
          .max(1000, 'values must be at most 1000 (hnsw.ef_search maximum)')
      )
      .max(12, 'at most 12 values')
      .default([40, 80, 160, 320]),
    /** no exact scan (and so no recall) on tables with more rows than this */
    maxExactRows: z.number().int().min(1, 'must be at least 1').default(200_000),
    /** recall the advice aims for */
    targetRecall: z.number().gt(0, 'must be above 0').max(1, 'must be at most 1').default(0.95),
    /** only these indexes (index names, optionally schema-qualified); default all */
    indexes: z.array(z.string().min(1)).optional(),
  })
  .strict();

export const vectorConfigSchema = z
  .object({
    probes: probesSchema.default({}),
    /** run EXPLAIN (GENERIC_PLAN, PostgreSQL 16+) on vector queries to see whether they use their index */
    explain: z.boolean().default(true),
  })
  .strict();

export type VectorConfig = z.infer<typeof vectorConfigSchema>;
export type ProbeConfig = VectorConfig['probes'];

/** Parse target.vector; errors name the field as the config file spells it, e.g. targets[0].vector.probes.sampleSize. */
export function parseVectorConfig(raw: unknown, where = 'vector'): VectorConfig {
  const r = vectorConfigSchema.safeParse(raw ?? {});
  if (r.success) {
    return r.data;
  }
  const lines = r.error.issues.map((i) => {
    const path = [where, ...i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))]
      .join('')
      .replace(/\.\[/g, '[');
    let msg = i.message;
    if (i.code === 'unrecognized_keys') {
      msg = `unknown key(s) ${i.keys.map((k) => `"${k}"`).join(', ')}: vector takes probes (enabled, interval, budget, statementTimeout, sampleSize, k, sweep, maxExactRows, targetRecall, indexes) and explain`;
    } else if (i.code === 'invalid_type') {
      msg = `expected ${i.expected}, got ${i.received}`;
    }
    return `  - ${path}: ${msg}`;
  });
  throw new ConfigError(`Invalid pgpulse configuration:\n${lines.join('\n')}`);
}

const cache = new WeakMap<object, VectorConfig>();

/** The parsed options of a target (validated at startup, so this never throws later). */
export function vectorConfigOf(target: { vector?: Record<string, unknown> }): VectorConfig {
  const key = target.vector ?? target;
  let c = cache.get(key);
  if (!c) {
    c = parseVectorConfig(target.vector);
    cache.set(key, c);
  }
  return c;
}
