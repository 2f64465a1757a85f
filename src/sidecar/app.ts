/**
 * Wires the sidecar together: features → config → store → samplers → service → HTTP and gRPC
 * servers → feature startup. Used by `pgpulse serve`, `pgpulse demo`, the one-shot CLI commands,
 * the local-mode plugin entry and the tests.
 */
import type { Logger } from 'pino';
import { startHttpServer } from './api/http';
import { validateCatalog } from './catalog-check';
import { DEFAULT_HEAD_WINDOW_MS, loadConfig, type SidecarConfig } from './config';
import { assemble, type Feature, type Sidecar } from './feature';
import { sidecarFeatures } from './features';
import { createLogger } from './logger';
import { ClusterReads, urlAddress, urlDatabase } from './cluster/shared-reads';
import { TargetSampler, type SamplingGate } from './sampler';
import { SelfMetrics } from './self-metrics';
import { queryPoolOptions } from './engine/query-pool';
import { SidecarService } from './sidecar-service';
import { isStoreWriteError } from './store/faults';
import { runCompactionPass } from './store/compaction-pass';
import { sampleRewriteLine } from './store/migrations';
import { Store, storeCacheKib, storeFile } from './store/store';

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  config?: SidecarConfig;
  /** serve the HTTP API (default true) */
  http?: boolean;
  /** serve Grafana's plugin protocol on config.grpcAddress (default true) */
  grpc?: boolean;
  /** start the sampling loops (default true; the CLI's one-shot commands sample on demand) */
  sampling?: boolean;
  /** a pino logger to use instead of the default stderr JSON one */
  logger?: unknown;
  /** a gate to use instead of the one the features give the target */
  gateFor?: (target: SidecarConfig['targets'][number]) => SamplingGate | undefined;
  /** what the sidecar is made of (default: features.ts); tests swap a collector with withCollector */
  features?: readonly Feature[];
  /** false for one-shot CLI commands: no automatic action policies (default true) */
  background?: boolean;
}

export type { Sidecar };

/** The sampling gate a target gets (Neon: the API-driven one), for one-off commands like doctor. */
export function gateForTarget(target: SidecarConfig['targets'][number], log: Logger): SamplingGate | undefined {
  return assemble(sidecarFeatures).gateFor(target, log);
}

export async function startSidecar(opts: StartOptions = {}): Promise<Sidecar> {
  const parts = assemble(opts.features ?? sidecarFeatures);
  const catalogProblems = validateCatalog(parts);
  if (catalogProblems.length) {
    throw new Error(
      `the metric catalog does not match this build's collectors and handlers:\n  ${catalogProblems.join('\n  ')}`
    );
  }
  const config = opts.config ?? loadConfig(opts.env ?? process.env);
  // local mode hands us a pino logger that writes hclog lines for Grafana's log
  const given = opts.logger as Logger | undefined;
  const log = given && typeof given.child === 'function' ? given : createLogger(config.logLevel);
  const storeLog = log.child({ component: 'store', path: storeFile(config.dataDir) });
  // an upgrade that rewrites every sample takes seconds per million and room for a second copy: said before and after
  const store = Store.open(config.dataDir, {
    cacheKib: storeCacheKib(opts.env ?? process.env),
    onSampleRewrite: (phase, r) =>
      storeLog.info(
        { migration: r.version, samples: r.samples, ...(phase === 'done' ? { seconds: r.seconds } : {}) },
        sampleRewriteLine(phase, r)
      ),
  });
  store.onClockSetBack = (b) =>
    storeLog.warn(
      { target: b.target, collector: b.collector, behindSeconds: (b.stampedTs - b.clockTs) / 1000 },
      b.message
    );
  store.onProblem = (problem, previous) => {
    if (problem) {
      storeLog.error(
        { code: problem.code, kind: problem.kind },
        `history store problem: ${problem.message}; new samples are not stored until it is fixed — ${problem.fix}`
      );
    } else if (previous) {
      storeLog.info(
        { code: previous.code, downSeconds: Math.round((Date.now() - previous.since) / 1000) },
        'history store writable again: sampling resumes'
      );
    }
  };
  const opened = store.status().problem;
  if (opened) {
    storeLog.error(
      { code: opened.code, mode: store.status().mode },
      `history store problem at start: ${opened.message}; serving ${store.status().mode === 'read-only' ? 'the stored history read-only' : 'without history'} — ${opened.fix}`
    );
  }
  const newer = store.unknownMigrations();
  if (newer.length > 0) {
    storeLog.warn(
      { unknownMigrations: newer },
      `history store written by a newer pgpulse: its schema migrations ${newer.join(', ')} are unknown to this version, ` +
        'so history the newer version keeps in ways this one does not read is not shown — run the pgpulse version ' +
        'that wrote it or a newer one, or restore the backup of the data directory taken before the upgrade ' +
        '(README: "Backups, upgrades and downgrades")'
    );
  }
  if (store.status().writable) {
    // a target removed while the sidecar was down (after a crash: a stop ends them itself) must
    // not go on showing its server's later history
    const configured = new Set(config.targets.map((t) => t.name));
    try {
      for (const t of store.targets().filter((name) => !configured.has(name))) {
        store.releaseStreams(t, Date.now());
      }
    } catch (e) {
      if (!isStoreWriteError(e)) {
        throw e;
      }
      // the store reports its own problem; the aliases end at the next start
    }
  }
  const metrics = new SelfMetrics();
  const samplers = new Map<string, TargetSampler>();
  const cluster =
    config.sharedReads === false
      ? undefined
      : new ClusterReads(
          config.targets.map((t) => ({
            name: t.name,
            database: urlDatabase(t.url),
            intervalMs: t.intervalMs,
            address: urlAddress(t.url),
          })),
          Date.now(),
          (collector, source) => metrics.sharedReads.inc({ collector, source })
        );
  for (const t of config.targets) {
    const gate = opts.gateFor?.(t) ?? parts.gateFor(t, log);
    samplers.set(
      t.name,
      new TargetSampler(t, store, metrics, log.child({ target: t.name }), parts.collectors, gate, cluster)
    );
  }
  const service = new SidecarService(
    config,
    store,
    samplers,
    metrics,
    parts,
    queryPoolOptions(opts.env ?? process.env)
  );
  const closers: Array<() => Promise<void>> = [];
  const sidecar: Sidecar = {
    config,
    service,
    store,
    samplers,
    cluster,
    log,
    background: opts.background ?? true,
    stop: async () => {
      for (const c of closers.reverse()) {
        await c().catch(() => undefined);
      }
      await service.queries.close();
      store.close();
    },
  };
  try {
    if (opts.http !== false) {
      const http = await startHttpServer(service, config.httpAddress, config.token);
      sidecar.httpPort = http.port;
      closers.push(http.close);
    }
    // off: Grafana's plugin protocol is not served, so gRPC, its protocol files and Arrow (~11 MB
    // RSS at start) are never loaded — a sidecar only scraped by Prometheus or queried over HTTP
    if (opts.grpc !== false && config.grpcAddress !== 'off') {
      const { startGrpcServer } = await import('./grafana/server');
      const { grpcLoggerFromPino } = await import('./grafana/hclog');
      const grpc = await startGrpcServer(service, {
        address: config.grpcAddress,
        token: config.token,
        mode: 'remote',
        logger: grpcLoggerFromPino(log.child({ component: 'grpc' })),
      });
      sidecar.grpcPort = grpc.port;
      closers.push(grpc.stop);
    }
    for (const hook of parts.startup) {
      await hook(sidecar);
    }
    if (opts.sampling !== false) {
      for (const s of samplers.values()) {
        s.start();
        closers.push(() => s.stop());
      }
      let compacting = false;
      let stopping = false;
      const compact = async () => {
        if (compacting) {
          return; // the last pass is still running (a slow disk): one at a time
        }
        compacting = true;
        try {
          const pass = await runCompactionPass(
            store,
            Date.now(),
            {
              retentionMs: config.retentionMs,
              downsampleAfterMs: config.downsampleAfterMs,
              downsampleStepMs: config.downsampleStepMs,
              headMs: config.headWindowMs ?? DEFAULT_HEAD_WINDOW_MS,
            },
            () => stopping
          );
          log.debug(pass, 'history compacted');
        } catch (e) {
          log.warn({ err: (e as Error).message }, 'history compaction failed; will retry');
        } finally {
          compacting = false;
        }
      };
      const timer = setInterval(() => void compact(), 3_600_000);
      timer.unref();
      closers.push(async () => {
        stopping = true;
        clearInterval(timer);
      });
    } else {
      for (const s of samplers.values()) {
        closers.push(() => s.stop());
      }
    }
  } catch (e) {
    await sidecar.stop();
    throw e;
  }
  log.info(
    { http: sidecar.httpPort, grpc: sidecar.grpcPort, targets: [...samplers.keys()] },
    'pgpulse sidecar started'
  );
  return sidecar;
}
