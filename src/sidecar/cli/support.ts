/**
 * What the advisor CLI commands share: flag parsing, progress lines on a TTY, and a client that
 * talks to a running sidecar (HTTP, when one answers with our token) or to one started in-process
 * on the same data directory. Asking a running sidecar first matters: two processes sampling into
 * one store would interleave their change-only writes.
 */
import type { Frame } from '../../model/frames';
import { startSidecar, type Sidecar } from '../app';
import { loadConfig } from '../config';
import { oneShotLogger } from './console-log';
import { probeSidecar, sidecarEndpoint, type SidecarEndpoint } from './sidecar-address';

export interface Flags {
  bool: Set<string>;
  values: Map<string, string>;
  positional: string[];
}

export class UsageError extends Error {}
/** No running sidecar and nothing to sample in-process: exit 1 with what to do. */
export class NoSidecarError extends Error {}

/** --json, --format md, --format=md, --target x … ; `known` lists flags that take a value. */
export function parseFlags(argv: string[], valued: string[], booleans: string[]): Flags {
  const out: Flags = { bool: new Set(), values: new Map(), positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      out.positional.push(a);
      continue;
    }
    const [name, inline] = a.slice(2).split(/=(.*)/s, 2);
    if (valued.includes(name)) {
      const v = inline ?? argv[++i];
      if (v === undefined || v.startsWith('--')) {
        throw new UsageError(`--${name} needs a value`);
      }
      out.values.set(name, v);
    } else if (booleans.includes(name) && inline === undefined) {
      out.bool.add(name);
    } else {
      throw new UsageError(
        `unknown option --${name}: allowed are ${[...valued.map((v) => `--${v} VALUE`), ...booleans.map((b) => `--${b}`)].join(', ')}`
      );
    }
  }
  return out;
}

/** Progress on stderr, only when it is a terminal: one line rewritten in place. */
export class Progress {
  private readonly tty: boolean;
  private shown = false;
  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(stream.isTTY);
    this.stream = stream;
  }
  private readonly stream: NodeJS.WriteStream;
  step(text: string): void {
    if (this.tty) {
      this.stream.write(`\r\x1b[2K… ${text}`);
      this.shown = true;
    }
  }
  done(): void {
    if (this.tty && this.shown) {
      this.stream.write('\r\x1b[2K');
      this.shown = false;
    }
  }
}

export function simpleFrame(f: unknown): Frame {
  const j = f as {
    schema?: { name?: string; meta?: Frame['meta']; fields: Array<Record<string, unknown>> };
    data?: { values: unknown[][] };
    fields?: Frame['fields'];
  };
  if (j.fields) {
    return j as Frame;
  }
  return {
    name: j.schema?.name,
    meta: j.schema?.meta,
    fields: (j.schema?.fields ?? []).map((fl, i) => ({
      ...(fl as object),
      values: j.data?.values[i] ?? [],
    })) as unknown as Frame['fields'],
  };
}

export interface AdvisorClient {
  mode: 'remote' | 'local';
  targets: string[];
  recommendations(
    target: string,
    refresh: boolean
  ): Promise<{ healthScore: number; evaluatedAt: number | null; notes: string[]; findings: any[] }>;
  query(
    target: string,
    from: number,
    to: number,
    queries: Array<Record<string, unknown>>
  ): Promise<Record<string, { frames: Frame[]; error?: string }>>;
  sidecar?: Sidecar;
  close(): Promise<void>;
}

function remoteClient(ep: SidecarEndpoint, targets: string[]): AdvisorClient {
  const { base } = ep;
  const headers = { authorization: `Bearer ${ep.token}`, 'content-type': 'application/json' };
  return {
    mode: 'remote',
    targets,
    recommendations: async (target, refresh) => {
      const res = await fetch(
        `${base}/api/v1/resources/recommendations?target=${encodeURIComponent(target)}${refresh ? '&refresh=1' : ''}`,
        { headers, signal: AbortSignal.timeout(120_000) }
      );
      const j = (await res.json()) as any;
      if (res.status !== 200) {
        throw new Error(j.error ?? `sidecar answered ${res.status}`);
      }
      return j;
    },
    query: async (target, from, to, queries) => {
      const res = await fetch(`${base}/api/v1/query`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ from, to, target, queries: queries.map((q) => ({ target, ...q })) }),
        signal: AbortSignal.timeout(60_000),
      });
      const j = (await res.json()) as { results: Record<string, { frames: unknown[]; error?: string }> };
      return Object.fromEntries(
        Object.entries(j.results ?? {}).map(([k, v]) => [k, { frames: v.frames.map(simpleFrame), error: v.error }])
      );
    },
    close: async () => undefined,
  };
}

/**
 * A running sidecar when one answers, else an in-process one over the same data directory that
 * samples every target once (twice, `waitMs` apart, when there is no history yet) before advising.
 */
export async function openClient(opts: {
  progress: Progress;
  sample: boolean;
  waitMs: number;
  env?: NodeJS.ProcessEnv;
  noRemote?: boolean;
  sidecar?: string;
}): Promise<AdvisorClient> {
  const env = opts.env ?? process.env;
  const haveTargets = Boolean(env.DATABASE_URL || env.PGPULSE_CONFIG);
  if (!opts.noRemote) {
    opts.progress.step('looking for a running pgpulse sidecar');
    let ep: SidecarEndpoint;
    try {
      ep = sidecarEndpoint(env, opts.sidecar);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const probe = await probeSidecar(ep);
    if (probe.ok) {
      return remoteClient(ep, probe.targets);
    }
    if (!haveTargets || opts.sidecar) {
      throw new NoSidecarError(
        `no running sidecar to ask: ${probe.why}.\n` +
          'Start one (pgpulse demo, or pgpulse serve), point at it (--sidecar HOST:PORT, PGPULSE_HTTP_ADDR, PGPULSE_TOKEN or PGPULSE_TOKEN_FILE)' +
          (opts.sidecar ? '.' : ', or set DATABASE_URL to sample the database in-process.')
      );
    }
    if (/refused the token|answered HTTP/.test(probe.why)) {
      // something answered but would not talk to us: say why we sample in-process instead
      process.stderr.write(`pgpulse: ${probe.why}; sampling DATABASE_URL in-process instead\n`);
    }
  }
  const config = loadConfig(env);
  opts.progress.step('starting pgpulse in-process');
  // one-shot commands never run automatic policies
  const sidecar = await startSidecar({
    config,
    http: false,
    grpc: false,
    sampling: false,
    background: false,
    logger: oneShotLogger(),
  });
  if (opts.sample) {
    for (const [name, s] of sidecar.samplers) {
      opts.progress.step(`sampling ${name}`);
      const had = sidecar.store.samples(name, 'tables', 0, Date.now()).filter((x) => x.ok).length;
      await s.runCycle(true);
      if (had === 0 && opts.waitMs > 0 && s.status.reachable) {
        opts.progress.step(
          `sampling ${name} again in ${opts.waitMs / 1000} s (no history yet: rates need two samples)`
        );
        await new Promise((r) => setTimeout(r, opts.waitMs));
        await s.runCycle(true);
      }
    }
  }
  const { advisorRuntime } = await import('../advisors/runtime');
  const routes = sidecar.service;
  return {
    mode: 'local',
    targets: [...sidecar.samplers.keys()],
    sidecar,
    recommendations: async (target, refresh) => {
      const rt = advisorRuntime(sidecar);
      if (refresh && rt) {
        opts.progress.step(`evaluating findings for ${target}`);
        await rt.evaluate(target);
      }
      const r = await routes.resource('recommendations', new URLSearchParams({ target }), {});
      if (r.status !== 200) {
        throw new Error((r.body as { error?: string }).error ?? `status ${r.status}`);
      }
      return r.body as any;
    },
    query: async (target, from, to, queries) => {
      const res = await routes.query(
        { from, to, queries: queries.map((q) => ({ target, ...q })) },
        { defaultTarget: target }
      );
      return Object.fromEntries(Object.entries(res).map(([k, v]) => [k, { frames: v.frames, error: v.error }]));
    },
    close: () => sidecar.stop(),
  };
}
