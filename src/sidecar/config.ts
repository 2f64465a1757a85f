/**
 * Sidecar configuration: from DATABASE_URL (one target named `default`) or a YAML file
 * (PGPULSE_CONFIG, several named targets), plus PGPULSE_* overrides. Validated with zod so a bad
 * config names the field and the fix instead of failing later inside a collector.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { PROM_DEFAULT_LIMITS } from '../model/catalog/prometheus';

const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "15s", "2m", "500ms", or a bare number of seconds → milliseconds. */
export function parseDuration(v: string | number): number {
  if (typeof v === 'number') {
    return v * 1000;
  }
  const m = DURATION_RE.exec(v.trim());
  if (!m) {
    throw new Error(`"${v}" is not a duration: write it like 15s, 2m, 500ms or 1h`);
  }
  return Number(m[1]) * UNIT_MS[m[2] ?? 's'];
}

/** a duration option in ms, bounded (exported for the feature modules' own config sections) */
export const duration = (min: number, max: number) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    try {
      const ms = parseDuration(v);
      if (ms < min || ms > max) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: `must be between ${min < 1000 ? `${min}ms` : `${min / 1000}s`} and ${max / 1000}s, got ${v}`,
        });
        return z.NEVER;
      }
      return ms;
    } catch (e) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message });
      return z.NEVER;
    }
  });

const address = z
  .string()
  .regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7700');

const pgUrl = z
  .string()
  .min(1, 'is empty: set it to postgres://user:password@host:5432/dbname')
  .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must start with postgres:// or postgresql://');

const collectorOverride = z
  .object({
    enabled: z.boolean().optional(),
    interval: duration(1000, 86_400_000).optional(),
    timeout: duration(100, 600_000).optional(),
  })
  .strict();

const neonSchema = z
  .object({
    projectId: z.string().min(1, 'is required for Neon: the project id from the Neon console (Settings → General)'),
    endpointId: z.string().min(1, 'is required for Neon: the endpoint id (ep-…) of the compute'),
    apiKey: z.string().optional(),
    apiKeyEnv: z.string().optional(),
    apiUrl: z.string().url().default('https://console.neon.tech/api/v2'),
    /** how often to ask the Neon API for the compute state (the API never wakes the compute) */
    stateInterval: duration(5_000, 3_600_000).default('30s'),
    /** the URL goes through Neon's pooler (PgBouncer, transaction mode); detected from a -pooler host when unset */
    pooled: z.boolean().optional(),
    /** compute allowance of the plan for one consumption period, in CU-hours (e.g. 100 on Free): the cost panel and alert compare with it */
    computeAllowanceCuHours: z.number().positive().optional(),
    /** the organization (org-…) that owns the project, for consumption history v2 (a required parameter there); read from the project's org_id when unset */
    orgId: z
      .string()
      .regex(
        /^[a-z0-9-]{1,60}$/,
        'must be an organization id like org-ocean-art-12345678 (Neon console → Organization settings)'
      )
      .optional(),
    /** how often to read the project's consumption (GET /projects/{id}); the API refreshes it about every 15 minutes */
    usageInterval: duration(60_000, 86_400_000).optional(),
  })
  .strict();

export const targetSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1–64 letters, digits, dot, dash or underscore'),
    url: pgUrl.optional(),
    /** read the URL from this environment variable instead of the file (keeps secrets out of YAML) */
    urlEnv: z.string().optional(),
    interval: duration(1000, 3_600_000).optional(),
    statementTimeout: duration(100, 600_000).default('5s'),
    connectTimeout: duration(100, 120_000).default('10s'),
    ssl: z
      .object({
        mode: z.enum(['disable', 'prefer', 'require', 'verify-ca', 'verify-full']).default('prefer'),
        ca: z.string().optional(),
      })
      .strict()
      .optional(),
    collectors: z.record(z.string(), collectorOverride).default({}),
    neon: neonSchema.optional(),
    /** pgvector active probes: validated by src/sidecar/vector */
    vector: z.record(z.string(), z.unknown()).optional(),
    /** opt-in maintenance actions: validated by src/sidecar/actions */
    actions: z.record(z.string(), z.unknown()).optional(),
    /** query plans: explain timeouts and fingerprint sampling, validated by src/sidecar/plans */
    plans: z.record(z.string(), z.unknown()).optional(),
    /** the 1 s activity sampler (database load) and the vCPU reference: validated by src/sidecar/activity */
    activity: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (!t.url && !t.urlEnv) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['url'],
        message: 'is required: give url (postgres://…) or urlEnv (the name of an environment variable holding it)',
      });
    }
  });

/**
 * points younger than this stay one row each: what writers and the newest reads touch; older ones
 * are packed at the hourly compaction (store/chunks.ts)
 */
export const DEFAULT_HEAD_WINDOW_MS = 2 * 3_600_000;

export const fileSchema = z
  .object({
    token: z.string().optional(),
    dataDir: z.string().optional(),
    httpAddress: address.optional(),
    /** 'off': no gRPC listener (gRPC, its protocol files and Arrow never loaded) for a sidecar only scraped or queried over HTTP */
    grpcAddress: z.union([z.literal('off'), address]).optional(),
    interval: duration(1000, 3_600_000).optional(),
    retentionDays: z.number().positive().max(3650).optional(),
    /** samples older than this are thinned to one per downsampleStep */
    downsampleAfter: duration(60_000, 365 * 86_400_000).optional(),
    downsampleStep: duration(1000, 86_400_000).optional(),
    /** points older than this are packed into compressed chunks at compaction (store/chunks.ts) */
    headWindow: duration(60_000, 30 * 86_400_000).optional(),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).optional(),
    /** targets that are databases of one server share one read of the server-wide views (src/sidecar/cluster) */
    sharedReads: z.boolean().optional(),
    /** what /metrics exposes of the catalog (docs/prometheus.md) */
    metrics: z
      .object({
        /** statements per target on /metrics, the top ones by total execution time */
        topStatements: z.number().int().min(0).max(100_000).optional(),
        /** tables and indexes per target on /metrics, the largest ones */
        topRelations: z.number().int().min(0).max(1_000_000).optional(),
      })
      .strict()
      .optional(),
    targets: z.array(targetSchema).min(1, 'needs at least one target'),
  })
  .strict();

export type TargetConfigInput = z.input<typeof targetSchema>;

export interface TargetConfig {
  name: string;
  url: string;
  intervalMs: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  ssl?: { mode: 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full'; ca?: string };
  collectors: Record<string, { enabled?: boolean; interval?: number; timeout?: number }>;
  neon?: z.infer<typeof neonSchema> & { apiKeyResolved?: string };
  vector?: Record<string, unknown>;
  actions?: Record<string, unknown>;
  plans?: Record<string, unknown>;
  activity?: Record<string, unknown>;
}

export interface SidecarConfig {
  token: string;
  dataDir: string;
  httpAddress: string;
  /** host:port, or 'off' for no gRPC listener (GRPC_OFF) */
  grpcAddress: string;
  intervalMs: number;
  retentionMs: number;
  downsampleAfterMs: number;
  downsampleStepMs: number;
  /** points older than this are packed into chunks at compaction (absent: DEFAULT_HEAD_WINDOW_MS) */
  headWindowMs?: number;
  logLevel: string;
  /** cardinality limits of the catalog families on /metrics */
  metrics?: { topStatements: number; topRelations: number };
  /** false: every target reads the server-wide views itself (absent: shared) */
  sharedReads?: boolean;
  targets: TargetConfig[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function issuesToText(err: z.ZodError, where: string): string {
  const lines = err.issues.map((i) => {
    const path = i.path.length
      ? i.path
          .map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))
          .join('')
          .replace(/^\./, '')
      : '(top level)';
    let msg = i.message;
    if (i.code === 'unrecognized_keys') {
      msg = `unknown key(s) ${i.keys.map((k) => `"${k}"`).join(', ')}: check the spelling against the README configuration reference`;
    } else if (i.code === 'invalid_type') {
      msg = i.received === 'undefined' ? `is required (${i.expected})` : `expected ${i.expected}, got ${i.received}`;
    }
    return `  - ${path}: ${msg}`;
  });
  return `Invalid pgpulse configuration (${where}):\n${lines.join('\n')}`;
}

/** Load and validate. Throws ConfigError with every problem listed; never echoes secrets. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): SidecarConfig {
  let file: z.infer<typeof fileSchema>;
  let where: string;
  if (env.PGPULSE_CONFIG) {
    where = env.PGPULSE_CONFIG;
    let raw: unknown;
    try {
      raw = parseYaml(readFileSync(env.PGPULSE_CONFIG, 'utf8'));
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') {
        throw new ConfigError(
          `PGPULSE_CONFIG points to ${where}, which does not exist: create it or unset PGPULSE_CONFIG and set DATABASE_URL`
        );
      }
      throw new ConfigError(`PGPULSE_CONFIG (${where}) is not valid YAML: ${err.message.split('\n')[0]}`);
    }
    const parsed = fileSchema.safeParse(raw ?? {});
    if (!parsed.success) {
      throw new ConfigError(issuesToText(parsed.error, where));
    }
    file = parsed.data;
  } else if (env.DATABASE_URL) {
    where = 'DATABASE_URL';
    const parsed = fileSchema.safeParse({ targets: [{ name: 'default', url: env.DATABASE_URL }] });
    if (!parsed.success) {
      throw new ConfigError(issuesToText(parsed.error, where).replace('targets[0].url', 'DATABASE_URL'));
    }
    file = parsed.data;
  } else {
    throw new ConfigError(
      'No target configured: set DATABASE_URL=postgres://user:password@host:5432/db, or PGPULSE_CONFIG=/path/to/pgpulse.yaml listing targets'
    );
  }

  const names = new Set<string>();
  for (const t of file.targets) {
    if (names.has(t.name)) {
      throw new ConfigError(
        `Invalid pgpulse configuration (${where}):\n  - targets: the name "${t.name}" is used twice; target names must be unique`
      );
    }
    names.add(t.name);
  }

  const envDuration = (name: string): number | undefined => {
    const v = env[name];
    if (v === undefined || v === '') {
      return undefined;
    }
    try {
      return parseDuration(v);
    } catch (e) {
      throw new ConfigError(`${name}: ${(e as Error).message}`);
    }
  };
  const envAddress = (name: string, off = false): string | undefined => {
    const v = env[name];
    if (v === undefined || v === '') {
      return undefined;
    }
    if (off && v === 'off') {
      return v;
    }
    if (!address.safeParse(v).success) {
      throw new ConfigError(`${name}="${v}" must be host:port, e.g. 127.0.0.1:7700`);
    }
    return v;
  };

  const envCount = (name: string): number | undefined => {
    const v = env[name];
    if (v === undefined || v === '') {
      return undefined;
    }
    if (!/^\d{1,7}$/.test(v.trim())) {
      throw new ConfigError(`${name}="${v}" must be a whole number (0 or more), e.g. 100`);
    }
    return Number(v.trim());
  };

  const envSwitch = (name: string): boolean | undefined => {
    const v = env[name]?.trim().toLowerCase();
    if (!v) {
      return undefined;
    }
    if (['on', 'true', '1', 'yes'].includes(v)) {
      return true;
    }
    if (['off', 'false', '0', 'no'].includes(v)) {
      return false;
    }
    throw new ConfigError(`${name}="${env[name]}" must be on or off`);
  };

  const intervalMs = envDuration('PGPULSE_INTERVAL') ?? file.interval ?? 15_000;
  const token = env.PGPULSE_TOKEN || tokenFromFile(env.PGPULSE_TOKEN_FILE) || file.token || '';
  const targets: TargetConfig[] = file.targets.map((t, i) => {
    const url = t.url ?? (t.urlEnv ? env[t.urlEnv] : undefined);
    if (!url || !pgUrl.safeParse(url).success) {
      throw new ConfigError(
        `Invalid pgpulse configuration (${where}):\n  - targets[${i}].urlEnv: environment variable ${t.urlEnv} is unset or not a postgres:// URL`
      );
    }
    const neon = t.neon
      ? {
          ...t.neon,
          apiKeyResolved: t.neon.apiKey ?? (t.neon.apiKeyEnv ? env[t.neon.apiKeyEnv] : undefined) ?? env.NEON_API_KEY,
        }
      : undefined;
    return {
      name: t.name,
      url,
      intervalMs: t.interval ?? intervalMs,
      statementTimeoutMs: t.statementTimeout,
      connectTimeoutMs: t.connectTimeout,
      ssl: t.ssl,
      collectors: t.collectors,
      neon,
      vector: t.vector,
      actions: t.actions,
      plans: t.plans,
      activity: t.activity,
    };
  });

  return {
    token,
    dataDir: env.PGPULSE_DATA_DIR ?? file.dataDir ?? './.pgpulse',
    httpAddress: envAddress('PGPULSE_HTTP_ADDR') ?? file.httpAddress ?? '127.0.0.1:7700',
    grpcAddress: envAddress('PGPULSE_GRPC_ADDR', true) ?? file.grpcAddress ?? '127.0.0.1:7701',
    intervalMs,
    retentionMs: (file.retentionDays ?? 14) * 86_400_000,
    downsampleAfterMs: file.downsampleAfter ?? 2 * 86_400_000,
    downsampleStepMs: file.downsampleStep ?? 300_000,
    headWindowMs: file.headWindow ?? DEFAULT_HEAD_WINDOW_MS,
    logLevel: env.PGPULSE_LOG_LEVEL ?? file.logLevel ?? 'info',
    sharedReads: envSwitch('PGPULSE_SHARED_READS') ?? file.sharedReads ?? true,
    metrics: {
      topStatements:
        envCount('PGPULSE_METRICS_TOP_STATEMENTS') ?? file.metrics?.topStatements ?? PROM_DEFAULT_LIMITS.topStatements,
      topRelations:
        envCount('PGPULSE_METRICS_TOP_RELATIONS') ?? file.metrics?.topRelations ?? PROM_DEFAULT_LIMITS.topRelations,
    },
    targets,
  };
}

/** PGPULSE_TOKEN_FILE (e.g. a Docker secret): the token is the file's content, trimmed. */
function tokenFromFile(file: string | undefined): string | undefined {
  if (!file) {
    return undefined;
  }
  let t: string;
  try {
    t = readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new ConfigError(
      `PGPULSE_TOKEN_FILE=${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`
    );
  }
  if (!t) {
    throw new ConfigError(`PGPULSE_TOKEN_FILE=${file} is empty`);
  }
  return t;
}

/** Split host:port, accepting [::1]:7700. */
export function splitAddress(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(addr.slice(i + 1)) };
}
