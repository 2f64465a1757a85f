/**
 * Starts the real sidecar (store, samplers, HTTP, gRPC) against a test database, with a fast
 * interval and a throw-away data directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSidecar, type Sidecar, type StartOptions } from '../../src/sidecar/app';
import type { SidecarConfig, TargetConfig } from '../../src/sidecar/config';
import { sidecarConfig } from './config';

export interface TestSidecar {
  sidecar: Sidecar;
  token: string;
  dataDir: string;
  baseUrl: string;
  grpcAddress: string;
  /** POST /api/v1/query */
  query(body: Record<string, unknown>): Promise<{ status: number; json: any }>;
  get(path: string, token?: string | null): Promise<{ status: number; json: any; text: string }>;
  /** run one sampling cycle of a target now (all collectors due) */
  sampleNow(target?: string): Promise<void>;
  stop(): Promise<void>;
  /** stop and delete the data directory */
  destroy(): Promise<void>;
}

export async function startTestSidecar(opts: {
  url?: string;
  targets?: Array<Partial<TargetConfig> & { name: string; url: string }>;
  intervalMs?: number;
  dataDir?: string;
  token?: string;
  sampling?: boolean;
  grpc?: boolean;
  /** cardinality limits of /metrics (config metrics:) */
  metrics?: SidecarConfig['metrics'];
  /** config sharedReads (absent: shared, the default) */
  sharedReads?: boolean;
  extra?: Partial<StartOptions>;
}): Promise<TestSidecar> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'pgpulse-data-'));
  const token = opts.token ?? 'test-token-' + Math.random().toString(36).slice(2);
  const intervalMs = opts.intervalMs ?? 1000;
  const targets: TargetConfig[] = (opts.targets ?? [{ name: 'default', url: opts.url as string }]).map((t) => ({
    intervalMs,
    statementTimeoutMs: 5000,
    connectTimeoutMs: 3000,
    collectors: {},
    ...t,
  }));
  const config = sidecarConfig(dataDir, token, {
    intervalMs,
    logLevel: process.env.PGPULSE_TEST_LOG ?? 'silent',
    metrics: opts.metrics,
    sharedReads: opts.sharedReads,
    targets,
  });
  const sidecar = await startSidecar({
    config,
    sampling: opts.sampling ?? false,
    grpc: opts.grpc ?? true,
    ...opts.extra,
  });
  const baseUrl = `http://127.0.0.1:${sidecar.httpPort}`;
  const get = async (path: string, tok: string | null = token) => {
    const res = await fetch(baseUrl + path, { headers: tok ? { authorization: `Bearer ${tok}` } : {} });
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON (e.g. /metrics) */
    }
    return { status: res.status, json, text };
  };
  let stopped = false;
  const stop = async () => {
    if (!stopped) {
      stopped = true;
      await sidecar.stop();
    }
  };
  return {
    sidecar,
    token,
    dataDir,
    baseUrl,
    grpcAddress: `127.0.0.1:${sidecar.grpcPort}`,
    query: async (body) => {
      const res = await fetch(baseUrl + '/api/v1/query', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: await res.json() };
    },
    get,
    sampleNow: async (target = targets[0].name) => {
      const s = sidecar.samplers.get(target);
      if (!s) {
        throw new Error(`no target ${target}`);
      }
      await s.runCycle(true);
    },
    stop,
    destroy: async () => {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
