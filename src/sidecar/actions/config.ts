/**
 * targets[].actions: opt-in maintenance actions. Off unless `enabled: true`, and only with a
 * separate credential (url / urlEnv of a role other than the monitoring one). Validated here so
 * a mistake names the field and the fix.
 */
import { z } from 'zod';
import { parseDuration, type TargetConfig } from '../config';

export const actionKinds = [
  'cancel',
  'terminate',
  'analyze',
  'vacuum',
  'reindex',
  'create_index',
  'explain_analyze',
] as const;
export type ActionKind = (typeof actionKinds)[number];
/** explain_analyze runs an application statement for real: allowed only when listed in allow */
const defaultAllow: ActionKind[] = actionKinds.filter((k) => k !== 'explain_analyze');

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (e) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message });
    return z.NEVER;
  }
});

const regex = z
  .string()
  .min(1)
  .transform((v, ctx) => {
    try {
      new RegExp(v);
      return v;
    } catch (e) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `is not a valid regular expression: ${(e as Error).message}`,
      });
      return z.NEVER;
    }
  });

const policySchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1–64 letters, digits, dot, dash or underscore'),
    action: z.enum(['cancel', 'terminate']),
    /** regular expression matched against pg_stat_activity.query */
    match: regex,
    /** act on queries running at least this long */
    after: duration,
    database: z.string().optional(),
    user: z.string().optional(),
    /** a policy only reports what it would do until dryRun: false is written explicitly */
    dryRun: z.boolean().default(true),
  })
  .strict();

export const actionsSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** a separate role for actions (pg_signal_backend, table ownership or MAINTAIN): never the monitoring role */
    url: z.string().optional(),
    urlEnv: z.string().optional(),
    allow: z.array(z.enum(actionKinds)).default(defaultAllow),
    /** cancel/terminate only queries running at least this long */
    minQueryDuration: duration.default('60s'),
    /** statement_timeout for ANALYZE, VACUUM, REINDEX, CREATE INDEX */
    timeout: duration.default('1h'),
    policies: z.array(policySchema).default([]),
    policyInterval: duration.default('30s'),
  })
  .strict();

export type PolicyConfig = z.infer<typeof policySchema>;

export interface ActionsConfig {
  enabled: boolean;
  /** resolved connection string of the actions role (never logged) */
  url?: string;
  allow: ActionKind[];
  minQueryMs: number;
  timeoutMs: number;
  policies: PolicyConfig[];
  policyIntervalMs: number;
}

export class ActionsConfigError extends Error {
  override name = 'ActionsConfigError';
}

function userOf(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).username) || undefined;
  } catch {
    return undefined;
  }
}

/** Validate targets[].actions; disabled (the default) when absent. */
export function parseActionsConfig(target: TargetConfig, env: NodeJS.ProcessEnv = process.env): ActionsConfig {
  const where = `targets[${target.name}].actions`;
  const parsed = actionsSchema.safeParse(target.actions ?? {});
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const p = i.path.length ? `${where}.${i.path.join('.')}` : where;
      if (i.code === 'unrecognized_keys') {
        return `  - ${p}: unknown key(s) ${i.keys.join(', ')}: allowed are enabled, url, urlEnv, allow, minQueryDuration, timeout, policies, policyInterval`;
      }
      return `  - ${p}: ${i.message}`;
    });
    throw new ActionsConfigError(`Invalid actions configuration:\n${lines.join('\n')}`);
  }
  const a = parsed.data;
  const url = a.url ?? (a.urlEnv ? env[a.urlEnv] : undefined);
  if (a.enabled) {
    if (!url) {
      throw new ActionsConfigError(
        `${where}: enabled needs a separate credential: set ${where}.url (postgres://actions_role:…@host/db) or urlEnv (an environment variable holding it); the monitoring role is never used to change anything`
      );
    }
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new ActionsConfigError(`${where}.${a.url ? 'url' : 'urlEnv'}: must be a postgres:// or postgresql:// URL`);
    }
    const mon = userOf(target.url);
    const act = userOf(url);
    if (url === target.url || (mon !== undefined && act === mon)) {
      throw new ActionsConfigError(
        `${where}.url: uses the same role (${act ?? 'the monitoring URL'}) as monitoring; create a separate role for actions, e.g. CREATE ROLE pgpulse_actions LOGIN PASSWORD '…'; GRANT pg_signal_backend, pg_read_all_stats TO pgpulse_actions;`
      );
    }
  }
  return {
    enabled: a.enabled,
    url,
    allow: a.allow,
    minQueryMs: a.minQueryDuration,
    timeoutMs: a.timeout,
    policies: a.policies,
    policyIntervalMs: a.policyInterval,
  };
}
