/**
 * Plan fingerprints of the top statements, sampled at a slow cadence (targets[].plans
 * sampleTopN / sampleInterval). A fingerprint that differs from the stored one records a
 * plan_changed event — served as an annotation — naming what changed ("Seq Scan → Index Scan
 * using t_a on t").
 *
 * Cost: one pg_stat_statements(true) read and one EXPLAIN per statement per interval (default
 * 5 statements every 15 minutes). Nothing runs while the sampler is paused or the target is
 * unreachable, and the gate is asked first: an idle Neon compute is never woken for a plan.
 */
import type { Logger } from 'pino';
import type { ResolvedQuery } from '../engine/context';
import type { Engine } from '../engine/engine';
import type { Store } from '../store/store';
import { findStatements, PlanError } from './explain';
import type { TargetPlans } from './runtime';
import { describeChange, planFingerprint, planShape } from './shape';

export interface FingerprintRecord {
  fp: string;
  shape: string[];
  ts: number;
}

export interface TickReport {
  checked: Array<{ queryid: string; database: string; fp: string; changed: boolean }>;
  skipped: Array<{ queryid: string; database: string; reason: string }>;
  /** why nothing was sampled this time */
  idle?: string;
}

const key = (target: string, datname: string, queryid: string) => `plans:fp:${target}:${datname}:${queryid}`;

export function storedFingerprint(
  store: Store,
  target: string,
  datname: string,
  queryid: string
): FingerprintRecord | undefined {
  const raw = store.kvGet(key(target, datname, queryid));
  return raw ? (JSON.parse(raw) as FingerprintRecord) : undefined;
}

export class FingerprintSampler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<TickReport> | undefined;

  constructor(
    private readonly plans: TargetPlans,
    private readonly store: Store,
    private readonly log: Logger,
    /** the sidecar's engine: top_queries is a core handler */
    private readonly engine: Engine
  ) {}

  start(): void {
    if (this.timer) {
      return;
    }
    this.timer = setInterval(() => {
      this.tick().catch((e: Error) =>
        this.log.warn({ err: e.message }, 'plan fingerprint sampling failed; next try at the next interval')
      );
    }, this.plans.cfg.sampleIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** the top statements by total time over the last interval (at least 15 minutes), from stored samples */
  topStatements(now = Date.now()): Array<{ queryid: string; database: string }> {
    const t = this.plans.sampler.target;
    const window = Math.max(this.plans.cfg.sampleIntervalMs, 900_000);
    const res = this.engine.run({
      query: {
        refId: 'P',
        metric: 'top_queries',
        target: t.name,
        topN: this.plans.cfg.sampleTopN,
        orderBy: 'total_time',
      } as ResolvedQuery,
      range: { from: now - window, to: now },
      targetIntervalMs: t.intervalMs,
    });
    const f = res.frames[0];
    const col = (name: string) => f?.fields.find((x) => x.name === name)?.values ?? [];
    const ids = col('queryid');
    const dbs = col('database');
    return ids.map((q, i) => ({ queryid: String(q), database: String(dbs[i] ?? '') })).filter((r) => r.database !== '');
  }

  /** one round; concurrent calls share it */
  tick(): Promise<TickReport> {
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async round(): Promise<TickReport> {
    const report: TickReport = { checked: [], skipped: [] };
    const st = this.plans.sampler.status;
    if (st.paused || st.reachable === false) {
      report.idle = st.paused ? `sampling paused: ${st.paused}` : 'target unreachable';
      return report;
    }
    const gate = await this.plans.sampler.mayContact();
    if (!gate.allowed) {
      report.idle = gate.reason ?? 'the sampling gate says no';
      return report;
    }
    const target = this.plans.sampler.target.name;
    const top = this.topStatements();
    if (top.length === 0) {
      return report;
    }
    // every text in one read of pg_stat_statements' text file, not one read per statement
    const statements = await findStatements(this.plans.sampler.pool, top);
    for (const [i, s] of top.entries()) {
      try {
        const known = statements[i];
        if (known instanceof PlanError) {
          throw known;
        }
        const r = await this.plans.explain(s.queryid, s.database, true, known);
        const fp = planFingerprint(r.plan);
        const shape = planShape(r.plan);
        const before = storedFingerprint(this.store, target, s.database, s.queryid);
        const now = Date.now();
        const changed = before !== undefined && before.fp !== fp;
        if (changed) {
          const what = describeChange(before.shape, shape);
          this.store.addEvent(target, {
            ts: now,
            kind: 'plan_changed',
            title: `plan changed for queryid ${s.queryid}: ${what}`,
            text: `database ${s.database}\nbefore (${new Date(before.ts).toISOString()}):\n${before.shape.join('\n')}\nafter:\n${shape.join('\n')}`,
            tags: ['pgpulse', 'plan_changed', `queryid:${s.queryid}`, `database:${s.database}`],
          });
          this.log.info({ queryid: s.queryid, database: s.database }, `plan changed: ${what}`);
        }
        if (!before || changed) {
          this.store.kvSet(
            key(target, s.database, s.queryid),
            JSON.stringify({ fp, shape, ts: now } satisfies FingerprintRecord)
          );
        }
        report.checked.push({ queryid: s.queryid, database: s.database, fp, changed });
      } catch (e) {
        report.skipped.push({
          queryid: s.queryid,
          database: s.database,
          reason: e instanceof PlanError ? e.message : (e as Error).message,
        });
        if (e instanceof PlanError && e.status === 409) {
          report.idle = e.message;
          break;
        }
      }
    }
    return report;
  }
}
