/**
 * The shape every part of the sidecar has (core, vector, neon, advisors, actions): what it adds
 * to sampling (collectors, a gate), to queries (engine handlers, checks), to the resource API
 * (routes) and what it starts with the sidecar. features.ts lists them; app.ts and the query
 * workers assemble the list — nothing registers itself by being imported.
 */
import type { Logger } from 'pino';
import type { ClusterReads } from './cluster/shared-reads';
import type { Collector } from './collectors/types';
import type { SidecarConfig, TargetConfig } from './config';
import type { EngineContext, Handler } from './engine/context';
import type { LiveHandler } from './live-handlers';
import type { ResourceRoute } from './resources';
import type { SamplingGate, TargetSampler } from './sampler';
import type { SidecarService } from './sidecar-service';
import { AWAY_BY_DESIGN_STREAM, type Store } from './store/store';

/** A running sidecar, as startSidecar returns it and startup hooks receive it. */
export interface Sidecar {
  config: SidecarConfig;
  service: SidecarService;
  store: Store;
  samplers: Map<string, TargetSampler>;
  /** reads shared by the targets of one server (absent: sharedReads off) */
  cluster?: ClusterReads;
  httpPort?: number;
  grpcPort?: number;
  log: Logger;
  /** false for one-shot CLI commands: nothing may act on the target on its own (automatic action policies) */
  background: boolean;
  stop(): Promise<void>;
}

/**
 * Runs before a metric is computed: returns an error that replaces the answer when nothing can
 * be computed (Neon: the role may not read the object), or adds frame notices through ctx.
 */
export type MetricCheck = (ctx: EngineContext) => string | undefined;

/** The sampling gate of a target, or undefined when this feature does not gate it. */
export type GateFactory = (target: TargetConfig, log: Logger) => SamplingGate | undefined;

export interface Feature {
  readonly name: string;
  readonly collectors?: readonly Collector[];
  /** engine handlers of the catalog's `custom` computes, by handler id */
  readonly handlers?: Readonly<Record<string, Handler>>;
  /** answered live from the target on the main thread instead (query plans), by handler id */
  readonly live?: Readonly<Record<string, LiveHandler>>;
  readonly checks?: readonly MetricCheck[];
  /** resource routes (CallResource / GET /api/v1/resources/<name>) by name */
  readonly routes?: Readonly<Record<string, ResourceRoute>>;
  readonly gate?: GateFactory;
  /** after the servers start, before sampling starts; may wrap sidecar.stop to clean up */
  readonly startup?: (sidecar: Sidecar) => void | Promise<void>;
}

/** What the engine computes with: exactly these handlers and checks, nothing global. */
export interface EngineParts {
  handlers: ReadonlyMap<string, Handler>;
  checks: readonly MetricCheck[];
}

export interface Assembly extends EngineParts {
  features: readonly string[];
  collectors: readonly Collector[];
  live: ReadonlyMap<string, LiveHandler>;
  routes: ReadonlyMap<string, ResourceRoute>;
  /** the first gate a feature offers for the target */
  gateFor(target: TargetConfig, log: Logger): SamplingGate | undefined;
  startup: ReadonlyArray<(sidecar: Sidecar) => void | Promise<void>>;
}

/** Puts features together; two features claiming one collector, handler or route is a build error. */
export function assemble(features: readonly Feature[]): Assembly {
  const collectors = new Map<string, Collector>();
  const handlers = new Map<string, Handler>();
  const routes = new Map<string, ResourceRoute>();
  const live = new Map<string, LiveHandler>();
  const owner = new Map<string, string>();
  const claim = (kind: string, id: string, feature: string) => {
    const prev = owner.get(`${kind}:${id}`);
    if (prev) {
      throw new Error(`features ${prev} and ${feature} both define the ${kind} "${id}"`);
    }
    owner.set(`${kind}:${id}`, feature);
  };
  // the store's own stream: a collector of that name would read as "away by design"
  claim('collector', AWAY_BY_DESIGN_STREAM, 'the store (recordAwayByDesign)');
  for (const f of features) {
    for (const c of f.collectors ?? []) {
      claim('collector', c.id, f.name);
      collectors.set(c.id, c);
    }
    for (const [id, h] of Object.entries(f.handlers ?? {})) {
      claim('handler', id, f.name);
      handlers.set(id, h);
    }
    for (const [id, h] of Object.entries(f.live ?? {})) {
      claim('live handler', id, f.name);
      live.set(id, h);
    }
    for (const [id, r] of Object.entries(f.routes ?? {})) {
      claim('route', id, f.name);
      routes.set(id, r);
    }
  }
  const gates = features.flatMap((f) => (f.gate ? [f.gate] : []));
  return {
    features: features.map((f) => f.name),
    collectors: [...collectors.values()],
    handlers,
    live,
    routes,
    checks: features.flatMap((f) => f.checks ?? []),
    gateFor: (target, log) => gates.map((g) => g(target, log)).find((g) => g !== undefined),
    startup: features.flatMap((f) => (f.startup ? [f.startup] : [])),
  };
}

/** The features with one collector replaced by another of the same id (tests: a fake extension). */
export function withCollector(features: readonly Feature[], c: Collector): Feature[] {
  let found = false;
  const out = features.map((f) => {
    if (!f.collectors?.some((x) => x.id === c.id)) {
      return f;
    }
    found = true;
    return { ...f, collectors: f.collectors.map((x) => (x.id === c.id ? c : x)) };
  });
  if (!found) {
    throw new Error(`no feature has a collector "${c.id}" to replace`);
  }
  return out;
}
