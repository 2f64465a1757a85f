/**
 * Automatic policies: cancel or terminate queries whose text matches a pattern once they have run
 * longer than N minutes. Opt-in per policy and dry-run until dryRun: false is written; each query
 * is acted on (or reported) once, and every step goes through the audited ActionRunner.
 */
import type { Pool } from 'pg';
import { ownBackendPids } from '../targets/connection';
import { pinnedQuery } from '../targets/safe-sql';
import type { ActionsConfig, PolicyConfig } from './config';
import type { ActionOutcome, ActionRunner } from './runner';

export interface PolicyHit {
  policy: string;
  pid: number;
  outcome: ActionOutcome;
}

export class PolicyEngine {
  /** policy + pid + query_start already handled */
  private readonly handled = new Set<string>();

  constructor(
    private readonly runner: ActionRunner,
    private readonly cfg: ActionsConfig,
    private readonly monitor: Pool
  ) {}

  async tick(): Promise<PolicyHit[]> {
    const hits: PolicyHit[] = [];
    if (this.cfg.policies.length === 0) {
      return hits;
    }
    // read with the monitoring role (pg_monitor sees every query text); act with the actions role
    const r = await pinnedQuery<{
      pid: number;
      datname: string | null;
      usename: string | null;
      app: string;
      query: string;
      running_ms: number;
      query_start: string;
    }>(
      this.monitor,
      `SELECT pid, datname, usename, coalesce(application_name, '') AS app, query,
              (extract(epoch from clock_timestamp() - query_start) * 1000)::float8 AS running_ms, query_start::text AS query_start
       FROM pg_catalog.pg_stat_activity
       WHERE backend_type = 'client backend' AND state = 'active' AND pid <> pg_backend_pid()
         AND NOT (pid = ANY($1::int[]))`,
      // pgpulse's own connections by backend pid: a session's name proves nothing
      [[...ownBackendPids()]]
    );
    const live = new Set<string>();
    for (const p of this.cfg.policies) {
      const re = new RegExp(p.match);
      for (const b of r.rows) {
        if (!this.matches(p, b, re)) {
          continue;
        }
        const key = `${p.name}|${b.pid}|${b.query_start}`;
        live.add(key);
        if (this.handled.has(key)) {
          continue;
        }
        this.handled.add(key);
        const enabled = this.cfg.enabled && !p.dryRun;
        const outcome = await this.runner.run({ action: p.action, pid: b.pid, dryRun: !enabled }, `policy:${p.name}`, {
          minQueryMs: p.after,
        });
        hits.push({ policy: p.name, pid: b.pid, outcome });
      }
    }
    // forget queries that ended, so the set stays small
    for (const k of this.handled) {
      if (!live.has(k)) {
        this.handled.delete(k);
      }
    }
    return hits;
  }

  private matches(
    p: PolicyConfig,
    b: { datname: string | null; usename: string | null; query: string; running_ms: number },
    re: RegExp
  ): boolean {
    return (
      b.running_ms >= p.after &&
      (!p.database || p.database === b.datname) &&
      (!p.user || p.user === b.usename) &&
      re.test(b.query)
    );
  }
}
