/**
 * Per-sidecar plan state: one explainer per target (its database pools and config), a short
 * cache so the nodes table and the node graph of one dashboard refresh explain once, and the
 * fingerprint sampler of each target.
 */
import type { Logger } from 'pino';
import type { Sidecar } from '../feature';
import type { Engine } from '../engine/engine';
import type { TargetSampler } from '../sampler';
import type { Store } from '../store/store';
import { parsePlansConfig, type PlansConfig } from './config';
import { DatabasePools, explainQueryId, type PlanResult, type StatementInfo } from './explain';
import { FingerprintSampler } from './fingerprints';

const CACHE_MS = 15_000;

export class TargetPlans {
  readonly pools: DatabasePools;
  private readonly cache = new Map<string, { at: number; answer: Promise<PlanResult> }>();
  readonly fingerprints: FingerprintSampler | undefined;

  constructor(
    readonly sampler: TargetSampler,
    readonly cfg: PlansConfig,
    store: Store,
    log: Logger,
    engine: Engine
  ) {
    this.pools = new DatabasePools(sampler.target);
    this.fingerprints = cfg.sampleTopN > 0 ? new FingerprintSampler(this, store, log, engine) : undefined;
  }

  /** the plan of a queryid, explained at most once per CACHE_MS */
  explain(queryid: string, database?: string, fresh = false, known?: StatementInfo): Promise<PlanResult> {
    const key = `${queryid}\u0000${database ?? ''}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && !fresh && now - hit.at < CACHE_MS) {
      return hit.answer;
    }
    for (const [k, v] of this.cache) {
      if (now - v.at >= CACHE_MS) {
        this.cache.delete(k);
      }
    }
    const answer = explainQueryId(
      {
        target: this.sampler.target,
        monitor: this.sampler.pool,
        pools: this.pools,
        serverVersionNum: this.sampler.status.serverVersionNum ?? 0,
        timeoutMs: this.cfg.timeoutMs,
        mayContact: () => this.sampler.mayContact(),
      },
      queryid,
      database,
      known
    );
    this.cache.set(key, { at: now, answer });
    // a failure is not cached: the fix (a GRANT) should show at the next refresh
    answer.catch(() => this.cache.delete(key));
    return answer;
  }

  async close(): Promise<void> {
    this.fingerprints?.stop();
    await this.pools.close();
  }
}

const bySidecar = new WeakMap<object, Map<string, TargetPlans>>();

export function plansOf(service: object): Map<string, TargetPlans> {
  return bySidecar.get(service) ?? new Map();
}

export function setupPlans(sidecar: Sidecar, startSampling: boolean): void {
  const byTarget = new Map<string, TargetPlans>();
  for (const [name, sampler] of sidecar.samplers) {
    let cfg: PlansConfig;
    try {
      cfg = parsePlansConfig(sampler.target);
    } catch (e) {
      // the sidecar still serves everything else; the plan answers name the problem
      sidecar.log.warn({ target: name }, (e as Error).message);
      cfg = { ...parsePlansConfig({ ...sampler.target, plans: {} }), sampleTopN: 0 };
    }
    const tp = new TargetPlans(
      sampler,
      cfg,
      sidecar.store,
      sidecar.log.child({ target: name, part: 'plans' }),
      sidecar.service.engine
    );
    byTarget.set(name, tp);
    if (startSampling) {
      tp.fingerprints?.start();
    }
  }
  bySidecar.set(sidecar.service, byTarget);
  const stop = sidecar.stop;
  sidecar.stop = async () => {
    for (const tp of byTarget.values()) {
      await tp.close();
    }
    await stop();
  };
}
