/**
 * The advisor inside a running sidecar: evaluates every target periodically (and on demand) from
 * history read in a query worker, records findings (raised/cleared events) and never wakes a
 * sleeping Neon compute — the only database work, the hypopg proof, runs only while the target is
 * being sampled anyway.
 */
import type { Sidecar } from '../feature';
import type { TargetSampler } from '../sampler';
import { evaluateFindings, type AdvisorEvidence, type Evaluation } from './evaluate';
import { recordFindings } from './findings-store';
import { ShapeCache } from './shape-cache';
import { advisorOptionsFromEnv, evaluationIntervalMs } from './options';
import type { AdvisorOptions, Finding, StoredFinding } from './types';

export interface EvaluationResult extends Evaluation {
  raised: Finding[];
  cleared: StoredFinding[];
}

export class AdvisorRuntime {
  private timer: NodeJS.Timeout | undefined;
  private running = new Map<string, Promise<EvaluationResult>>();
  /** per target: each statement text and index definition is parsed once, not every evaluation */
  private shapes = new Map<string, ShapeCache>();
  /** overrides on top of the environment (tests, CLI flags) */
  options: Partial<AdvisorOptions>;

  constructor(
    private readonly sidecar: Sidecar,
    options: Partial<AdvisorOptions> = {}
  ) {
    this.options = { ...advisorOptionsFromEnv(), ...options };
  }

  start(intervalMs = evaluationIntervalMs()): void {
    const all = () => {
      for (const name of this.shapes.keys()) {
        if (!this.sidecar.samplers.has(name)) {
          this.shapes.delete(name); // a removed target's shapes go with it
        }
      }
      for (const name of this.sidecar.samplers.keys()) {
        this.evaluate(name).catch((e: Error) =>
          this.sidecar.log.warn({ target: name }, `advisor evaluation failed: ${e.message}`)
        );
      }
    };
    // a first look soon after start (a few cycles of history), then every interval
    this.first = setTimeout(all, Math.min(intervalMs, 60_000));
    this.first.unref();
    this.timer = setInterval(all, intervalMs);
    this.timer.unref();
  }

  private first: NodeJS.Timeout | undefined;

  async stop(): Promise<void> {
    if (this.first) {
      clearTimeout(this.first);
    }
    if (this.timer) {
      clearInterval(this.timer);
    }
    await Promise.allSettled([...this.running.values()]);
  }

  /** Evaluate one target now (one evaluation per target at a time). */
  evaluate(target: string, options: Partial<AdvisorOptions> = {}): Promise<EvaluationResult> {
    const inFlight = this.running.get(target);
    if (inFlight) {
      return inFlight;
    }
    const p = this.doEvaluate(target, options).finally(() => this.running.delete(target));
    this.running.set(target, p);
    return p;
  }

  private mayConnect(sampler: TargetSampler | undefined): boolean {
    if (!sampler || sampler.status.paused || sampler.status.reachable !== true || !sampler.status.lastOkTs) {
      return false;
    }
    // only right after a successful cycle: a Neon compute that went idle is left asleep
    return Date.now() - sampler.status.lastOkTs <= Math.max(3 * sampler.target.intervalMs, 60_000);
  }

  private async doEvaluate(target: string, options: Partial<AdvisorOptions>): Promise<EvaluationResult> {
    const { store } = this.sidecar;
    const sampler = this.sidecar.samplers.get(target);
    const now = Date.now();
    const opts = { ...this.options, ...options };
    // reading 24 h of every statement's history took a second and more: in a query worker it no
    // longer holds up sampling and /healthz (in process only when there is no worker to take it)
    const evidence = await this.sidecar.service.queries.offload<AdvisorEvidence>({
      kind: 'advisor-evidence',
      target,
      now,
      options: opts,
    });
    const ev = await evaluateFindings({
      store,
      target,
      now,
      options: opts,
      evidence,
      connect: this.mayConnect(sampler) ? () => (sampler as TargetSampler).pool.connect() : undefined,
      serverVersionNum: sampler?.status.serverVersionNum,
      shapes: this.shapeCache(target),
    });
    const { raised, cleared } = recordFindings(store, target, ev.findings, now);
    const key = `advisor:first_eval:${target}`;
    if (!store.kvGet(key)) {
      store.kvSet(key, String(now));
    }
    store.kvSet(`advisor:last_eval:${target}`, JSON.stringify({ at: now, notes: ev.notes }));
    return { ...ev, raised, cleared };
  }

  private shapeCache(target: string): ShapeCache {
    let c = this.shapes.get(target);
    if (!c) {
      c = new ShapeCache();
      this.shapes.set(target, c);
    }
    return c;
  }
}

const runtimes = new WeakMap<object, AdvisorRuntime>();

export function attachRuntime(sidecar: Sidecar, rt: AdvisorRuntime): void {
  runtimes.set(sidecar, rt);
  runtimes.set(sidecar.service, rt);
}

/** The advisor of a running sidecar (or of its service, for resource routes). */
export function advisorRuntime(s: object): AdvisorRuntime | undefined {
  return runtimes.get(s);
}
