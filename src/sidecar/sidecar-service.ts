/**
 * PgpulseService over the store, engine and samplers: validates each query, answers every refId,
 * and turns failures into errors that name the problem and the fix.
 */
import { findMetric, publicCatalog, type MetricDef } from '../model/catalog';
import { allMeansUnfilteredKeys } from '../model/options';
import type { DataResponse } from '../model/frames';
import { describeQueryError, migrateQuery, queryOptionsSchema, unknownQueryKeys } from '../model/query';
import type { SidecarConfig } from './config';
import { Engine, pickCompute, type EngineRequest } from './engine/engine';
import { hasNoData, type Notice } from './engine/notices';
import { QueryPool, queryPoolOptions, type QueryPoolOptions } from './engine/query-pool';
import type { ResolvedQuery } from './engine/context';
import type { TargetSampler } from './sampler';
import type { SelfMetrics } from './self-metrics';
import type {
  HealthReport,
  PgpulseService,
  QueryContext,
  QueryRequest,
  ResourceContext,
  ResourceResponse,
} from './service';
import type { Store } from './store/store';
import { extensionVersions, installHint, preloaded, probeCapabilities } from './targets/capabilities';
import { describeDbError, inReadOnlyTx } from './targets/connection';
import { sharedRoleNote } from './targets/own-statements';
import { versionProblem } from './targets/versions';
import { checkRange } from './time-range';
import type { Assembly } from './feature';
import { liveHandlerFor, type LiveHandler } from './live-handlers';
import type { ResourceRoute } from './resources';
import { PromExposition } from './prom/exposition';

/** Grafana's "All" of a template variable ("*", "$__all", "") means no filter, not a name. */
function dropAllFilters<T extends Record<string, unknown>>(q: T): T {
  const out: Record<string, unknown> = { ...q };
  for (const k of allMeansUnfilteredKeys) {
    const v = out[k];
    if (v === '' || v === '*' || v === '$__all' || v === 'All' || v === null) {
      delete out[k];
    }
  }
  return out as T;
}

interface PreparedQuery {
  refId: string;
  metric: MetricDef;
  target: string;
  request: EngineRequest;
  /** what is known to be wrong (target down, collector failing): the answer when there is no data */
  fatal?: { error: string; status: number };
}

/**
 * Seconds since a stored sample, never negative: a sample stamped after now was written while the
 * clock is behind the history (Store.writeSample stamps it at the stream's newest time) and is fresh.
 */
export function sampleAgeSeconds(ts: number, now = Date.now()): number {
  return Math.max(0, (now - ts) / 1000);
}

export class SidecarService implements PgpulseService {
  readonly engine: Engine;
  readonly queries: QueryPool;
  private readonly routes: ReadonlyMap<string, ResourceRoute>;
  private readonly live: ReadonlyMap<string, LiveHandler>;
  private readonly exposition: PromExposition;

  constructor(
    readonly config: SidecarConfig,
    readonly store: Store,
    readonly samplers: Map<string, TargetSampler>,
    readonly metrics: SelfMetrics,
    parts: Pick<Assembly, 'features' | 'handlers' | 'checks' | 'routes' | 'live'>,
    poolOptions: QueryPoolOptions = queryPoolOptions({})
  ) {
    this.engine = new Engine(store, parts);
    // workers load the same features by name: handlers are code, they cannot be sent to a thread
    this.queries = new QueryPool(store, this.engine, poolOptions, parts.features);
    this.queries.onRefused = (status) => metrics.queryRefused.inc({ status: String(status) });
    this.routes = parts.routes;
    this.live = parts.live;
    this.exposition = new PromExposition(metrics.latest, config.metrics);
  }

  /** Resolve which target a query means; undefined + message when it names none we know. */
  resolveTarget(name: string | undefined, ctx: QueryContext): { target?: string; error?: string } {
    const wanted = name || ctx.defaultTarget || (this.samplers.size === 1 ? [...this.samplers.keys()][0] : 'default');
    if (this.samplers.has(wanted) || this.store.targets().includes(wanted)) {
      return { target: wanted };
    }
    return {
      error: `unknown target "${wanted}": configured targets are ${[...this.samplers.keys()].join(', ') || '(none)'} — set jsonData.target in the datasource or target in the query`,
    };
  }

  async query(req: QueryRequest, ctx: QueryContext): Promise<Record<string, DataResponse>> {
    const out: Record<string, DataResponse> = {};
    const rangeError = checkRange(req.from, req.to);
    const pending: PreparedQuery[] = [];
    req.queries.forEach((raw, i) => {
      const refId = typeof raw?.refId === 'string' && raw.refId ? raw.refId : `Q${i}`;
      if (out[refId]) {
        // two queries with one refId: Grafana would mix them up — answer the second clearly
        out[`${refId}#${i}`] = { frames: [], error: `duplicate refId "${refId}"`, status: 400, errorSource: 'plugin' };
        return;
      }
      const p = this.prepare(raw, refId, req, ctx, rangeError);
      if ('error' in p) {
        out[refId] = p;
      } else {
        out[refId] = { frames: [] }; // keeps the answer in request order
        pending.push(p);
      }
    });
    // live metrics (query plans) ask the target itself: on this thread, where its connections are
    const live = pending.filter((p) => liveHandlerFor(this.live, p.metric));
    const stored = pending.filter((p) => !liveHandlerFor(this.live, p.metric));
    const liveAnswers = Promise.all(
      live.map(async (p) => {
        const started = process.hrtime.bigint();
        const h = liveHandlerFor(this.live, p.metric)!;
        const res = await h(this, {
          metric: p.metric,
          query: p.request.query,
          range: p.request.range,
          notices: p.request.notices ?? [],
          signal: ctx.signal,
        }).catch(
          (e: Error): DataResponse => ({
            frames: [],
            error: `${p.metric.id}: ${e.message}`,
            status: 500,
            errorSource: 'plugin',
          })
        );
        this.metrics.queryDuration.observe({ metric: p.metric.id }, Number(process.hrtime.bigint() - started) / 1e9);
        out[p.refId] = res;
      })
    );
    // computed away from the event loop, within one budget per request (QueryRefused when busy)
    const answers = stored.length
      ? await this.queries.run(
          stored.map((p) => p.request),
          ctx.signal
        )
      : [];
    await liveAnswers;
    stored.forEach((p, i) => {
      const a = answers[i];
      this.metrics.queryDuration.observe({ metric: p.metric.id }, a.seconds);
      out[p.refId] = this.explainEmpty(p, a.response);
    });
    return out;
  }

  private prepare(
    raw: Record<string, unknown>,
    refId: string,
    req: QueryRequest,
    ctx: QueryContext,
    rangeError: string | null
  ): PreparedQuery | (DataResponse & { error: string }) {
    const bad = (error: string, status = 400) => ({ frames: [], error, status, errorSource: 'plugin' as const });
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      return bad('query must be a JSON object like {"refId":"A","metric":"tps"}');
    }
    if (rangeError) {
      return bad(rangeError);
    }
    const migrated = migrateQuery(raw);
    const unknown = unknownQueryKeys(migrated).map(({ key, suggestion }) => ({
      severity: 'warning' as const,
      text: `unknown query option "${key}" is ignored${suggestion ? `: did you mean "${suggestion}"?` : ''} (options: see GET /api/v1/catalog)`,
    }));
    const parsed = queryOptionsSchema.safeParse(dropAllFilters(migrated));
    if (!parsed.success) {
      return bad(`invalid query: ${describeQueryError(parsed.error)}`);
    }
    const q = parsed.data;
    const metric = findMetric(q.metric);
    if (!metric) {
      return bad(
        `unknown metric "${q.metric.slice(0, 80)}": see GET /api/v1/catalog (or the metric picker) for the list`
      );
    }
    const { target, error } = this.resolveTarget(q.target, ctx);
    if (!target) {
      return { frames: [], error: error ?? 'unknown target', status: 404, errorSource: 'plugin' };
    }
    const sampler = this.samplers.get(target);
    const collector = pickCompute(metric, q as ResolvedQuery).collector;
    const known = sampler ? this.knownTrouble(sampler, collector) : { notices: [] as Notice[] };
    return {
      refId,
      metric,
      target,
      fatal: known.fatal,
      request: {
        query: { ...q, refId, target } as ResolvedQuery,
        range: { from: req.from, to: req.to },
        maxDataPoints: req.maxDataPoints,
        intervalMs: req.intervalMs,
        targetIntervalMs: sampler?.target.intervalMs ?? this.config.intervalMs,
        notices: [...unknown, ...known.notices],
      },
    };
  }

  /** say why there is nothing, when we know */
  private explainEmpty(p: PreparedQuery, res: DataResponse): DataResponse {
    const sampler = this.samplers.get(p.target);
    const missing = (p.metric.requires ?? []).filter(
      (ext) => sampler && sampler.status.serverVersionNum && !sampler.status.extensions[ext]
    );
    if (!res.error && missing.length && hasNoData(res.frames)) {
      return {
        frames: [],
        error: `${p.metric.title} needs the ${missing.join(', ')} extension, which is not installed in target ${p.target}: ${installHint(
          missing.includes('pg_stat_statements') ? 'pg_stat_statements' : missing[0],
          sampler?.capabilities.current()
        )}`,
        status: 424,
        errorSource: 'downstream',
      };
    }
    if (!res.error && p.fatal && hasNoData(res.frames)) {
      // nothing to show and a known cause: an error on the panel, not an empty 200
      return { frames: [], error: p.fatal.error, status: p.fatal.status, errorSource: 'downstream' };
    }
    return res;
  }

  /**
   * What is known to be wrong with the target or the metric's collector right now: notices for
   * the frames, and the error to answer instead when there is no data at all.
   */
  private knownTrouble(
    sampler: TargetSampler,
    collector: string
  ): { notices: Notice[]; fatal?: { error: string; status: number } } {
    const st = sampler.status;
    const since = (ts: number) => new Date(ts).toISOString();
    if (st.paused && !st.pausedByDesign) {
      const text = `sampling of target ${st.target} is paused: ${st.paused}`;
      return { notices: [{ severity: 'warning', text }], fatal: { error: text, status: 503 } };
    }
    if (st.reachable === false) {
      const text = `target ${st.target} unreachable since ${since(st.unreachableSince ?? Date.now())}: ${st.lastError ?? 'connection failed'}`;
      return { notices: [{ severity: 'error', text }], fatal: { error: text, status: 503 } };
    }
    const failing = st.failing[collector];
    if (failing) {
      const text = failing.partial
        ? `the ${collector} collector partly fails since ${since(failing.since)}: ${failing.error}`
        : `the ${collector} collector fails since ${since(failing.since)}: ${failing.error}`;
      return {
        notices: [{ severity: failing.partial ? 'warning' : 'error', text }],
        fatal: { error: text, status: 502 },
      };
    }
    const why = st.unavailable[collector];
    if (why && !why.startsWith('not applicable')) {
      const text = `the ${collector} collector cannot run on target ${st.target}: ${why}`;
      return { notices: [{ severity: 'warning', text }], fatal: { error: text, status: 424 } };
    }
    return { notices: [] };
  }

  async health(targetName: string | undefined): Promise<HealthReport> {
    const { target, error } = this.resolveTarget(targetName, {});
    const problems: string[] = [];
    if (!target) {
      return {
        status: 'error',
        message: error ?? 'unknown target',
        details: { target: targetName ?? '', reachable: false, extensions: {}, problems: [error ?? ''] },
      };
    }
    const sampler = this.samplers.get(target);
    const storeProblem = this.storeProblemText();
    if (!sampler) {
      return {
        status: 'error',
        message: `target ${target} has history but is not configured any more`,
        details: { target, reachable: false, extensions: {}, problems: [] },
      };
    }
    // a fresh check, not the cached status: "Save & test" must tell the truth now
    let reachable = false;
    let serverVersion: string | undefined;
    const extensions: HealthReport['details']['extensions'] = {};
    if (sampler.status.paused && sampler.status.pausedByDesign) {
      // an idle Neon compute: connecting to check would wake it
      const last = this.store.lastSample(target, 'server');
      const idle = `target ${target} is idle by design — ${sampler.status.paused}. History stays available${last ? ` (last sample ${new Date(last.ts).toISOString()})` : ''}.`;
      return {
        status: storeProblem ? 'error' : 'ok',
        message: storeProblem ? `${storeProblem}. The ${idle}` : `pgpulse sidecar is up; ${idle}`,
        details: {
          target,
          reachable: false,
          extensions: {},
          lastSampleAgeSeconds: last ? sampleAgeSeconds(last.ts) : null,
          neonState: 'idle',
          problems: storeProblem ? [storeProblem] : [],
        },
      };
    }
    if (sampler.status.paused) {
      problems.push(`sampling paused: ${sampler.status.paused}`);
    } else {
      // a frozen server accepts connections and never answers: health must answer anyway
      const limitMs = Math.max(1000, sampler.target.connectTimeoutMs) + 2000;
      let timedOut = false;
      const bounded = <T>(p: Promise<T>): Promise<T> =>
        new Promise<T>((resolve, reject) => {
          const t = setTimeout(() => {
            timedOut = true;
            reject(
              Object.assign(
                new Error(`no answer within ${limitMs / 1000} s (server frozen, overloaded, or the network stalls)`),
                { code: 'PGPULSE_NO_ANSWER' }
              )
            );
          }, limitMs);
          p.then(
            (v) => (clearTimeout(t), resolve(v)),
            (e) => (clearTimeout(t), reject(e))
          );
        });
      try {
        const connecting = sampler.pool.connect();
        // a connection that arrives after we gave up is closed, not leaked
        connecting.then(
          (late) => timedOut && late.release(new Error('health check gave up')),
          () => undefined
        );
        const c = await bounded(connecting);
        try {
          const caps = sampler.capabilities.store(await bounded(inReadOnlyTx(c, limitMs, () => probeCapabilities(c))));
          serverVersion = caps.serverVersion;
          const installed = extensionVersions(caps);
          const pgss = installed.get('pg_stat_statements');
          extensions.pg_stat_statements = pgss
            ? { installed: true, version: pgss }
            : {
                installed: false,
                hint: preloaded(caps, 'pg_stat_statements')
                  ? 'run CREATE EXTENSION pg_stat_statements; in the monitored database'
                  : installHint('pg_stat_statements', caps),
              };
          if (!pgss) {
            problems.push(
              `pg_stat_statements is missing: query metrics are unavailable (${extensions.pg_stat_statements.hint})`
            );
          }
          const vec = installed.get('vector');
          extensions.vector = vec
            ? { installed: true, version: vec }
            : { installed: false, hint: 'only needed for vector search metrics: CREATE EXTENSION vector' };
          const neon = installed.get('neon');
          extensions.neon = neon
            ? { installed: true, version: neon }
            : { installed: false, hint: 'Neon only: CREATE EXTENSION neon for local file cache metrics' };
          const hypo = installed.get('hypopg');
          extensions.hypopg = hypo
            ? { installed: true, version: hypo }
            : { installed: false, hint: 'optional: CREATE EXTENSION hypopg lets advisors prove index suggestions' };
          const versionNote = versionProblem(caps.serverVersionNum, serverVersion);
          if (versionNote) {
            problems.push(versionNote);
          }
          reachable = true;
        } finally {
          // a connection that stopped answering is closed rather than handed to the sampler
          c.release(timedOut ? new Error('health check gave up') : undefined);
        }
      } catch (e) {
        problems.push(`cannot connect: ${describeDbError(e, target)}`);
      }
    }
    const last = this.store.lastSample(target, 'server');
    const age = last ? sampleAgeSeconds(last.ts) : null;
    if (reachable && (age === null || age > (sampler.target.intervalMs / 1000) * 3)) {
      problems.push(
        age === null
          ? 'no sample stored yet: the first one arrives within one interval'
          : `last sample is ${Math.round(age)} s old`
      );
    }
    const sharedRole = sampler.status.ownRole ? sharedRoleNote(sampler.status.ownRole) : null;
    if (sharedRole) {
      problems.push(sharedRole);
    }
    for (const [c, why] of Object.entries(sampler.status.unavailable)) {
      // an optional extension that is simply not installed (pgvector, neon on plain PostgreSQL) is
      // not a problem: details.extensions says what it would add
      if (
        ['vector', 'neon'].some(
          (ext) => extensions[ext] && !extensions[ext].installed && why.startsWith(`extension ${ext} `)
        )
      ) {
        continue;
      }
      // collectors for other kinds of target (Neon on plain PostgreSQL) and views a newer PostgreSQL
      // has (pg_stat_io on 14/15) are not problems: their panels say why when asked
      if (why.startsWith('not applicable') || why.startsWith('needs PostgreSQL')) {
        continue;
      }
      if (!problems.some((p) => p.includes(why))) {
        problems.push(`${c} collector unavailable: ${why}`);
      }
    }
    for (const [c, f] of Object.entries(sampler.status.failing)) {
      problems.push(
        `${c} collector ${f.partial ? 'partly fails' : 'fails'} since ${new Date(f.since).toISOString()}: ${f.error}`
      );
    }
    if (storeProblem) {
      problems.unshift(storeProblem);
    }
    const failing = Object.keys(sampler.status.failing).length > 0;
    const status =
      reachable && !storeProblem && !failing && !problems.some((p) => p.startsWith('cannot') || p.startsWith('target'))
        ? 'ok'
        : 'error';
    const message =
      status === 'ok'
        ? `pgpulse sidecar is up; target ${target} reachable (PostgreSQL ${serverVersion})${problems.length ? '. Note: ' + problems.join('; ') : ''}`
        : storeProblem && reachable
          ? `${storeProblem}. The target ${target} itself is reachable (PostgreSQL ${serverVersion})${problems.length > 1 ? '; also: ' + problems.slice(1).join('; ') : ''}`
          : problems.join('; ') || `target ${target} is not reachable`;
    return {
      status,
      message,
      details: {
        target,
        reachable,
        serverVersion,
        extensions,
        lastSampleAgeSeconds: age,
        neonState: sampler.status.paused ? 'idle' : undefined,
        problems,
      },
    };
  }

  async resource(path: string, params: URLSearchParams, ctx: ResourceContext): Promise<ResourceResponse> {
    const clean = path.replace(/^\/+|\/+$/g, '');
    const route = this.routes.get(clean);
    if (!route) {
      return {
        status: 404,
        body: {
          error: `unknown resource "${clean.slice(0, 80)}": available are ${[...this.routes.keys()].join(', ')}`,
        },
      };
    }
    try {
      return await route(this, params, ctx);
    } catch (e) {
      return { status: 500, body: { error: (e as Error).message } };
    }
  }

  async metricsText(): Promise<string> {
    this.refreshStoreGauges();
    // the sidecar's own families, then the catalog's (kept in memory by the samplers)
    return (await this.metrics.registry.metrics()) + this.exposition.text();
  }

  catalog() {
    return publicCatalog();
  }

  private refreshStoreGauges(): void {
    const st = this.store.status();
    this.metrics.storeWritable.set(st.writable ? 1 : 0);
    this.metrics.storeProblem.reset();
    if (st.problem) {
      this.metrics.storeProblem.set(
        { path: st.path, kind: st.problem.kind, code: st.problem.code, fix: st.problem.fix },
        1
      );
    }
    this.metrics.storeFailedAttempts.set(st.problem?.failures ?? 0);
    const q = this.queries.stats();
    this.metrics.queryQueue.set(q.queued);
    this.metrics.queryRunning.set(q.running);
  }

  /** One line on the history store when it cannot be written (health, /healthz), else undefined. */
  storeProblemText(): string | undefined {
    const st = this.store.status();
    if (!st.problem) {
      return undefined;
    }
    const since = new Date(st.problem.since).toISOString();
    const mode =
      st.mode === 'read-write'
        ? ''
        : st.mode === 'read-only'
          ? ' Serving the stored history read-only.'
          : ' No stored history can be served.';
    return `history store problem since ${since}: ${st.problem.message}; new samples are not being stored.${mode} Fix: ${st.problem.fix}`;
  }
}
