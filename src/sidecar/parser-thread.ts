/**
 * Where SQL is parsed: in a short-lived worker thread, never on the sidecar's main thread.
 * libpg-query's WebAssembly keeps what it touched for good (docs/benchmarks.md §8.3: +7.6 MB
 * loaded, +13 MB after parsing 5,000 statement texts, nothing given back when dropped), and the
 * main thread lives as long as the sidecar. A worker started for a round of parses (an advisor
 * evaluation, a plan fingerprint round, an action's check) and ended once idle takes all of it
 * with it.
 *
 * A function that needs the parser is declared with onParserThread(name, fn): called on the parser
 * thread it runs fn; called anywhere else it sends its arguments to the parser thread and answers
 * what fn answered there (arguments and answers are structured-cloned: plain data only). The
 * worker (parser-worker.ts) imports every module that declares such functions.
 */
import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';

/** the parser thread ends after this long without a call (the next call starts a fresh one) */
export const PARSER_IDLE_MS = 5000;

type Job = (...args: any[]) => Promise<unknown>;

const jobs = new Map<string, Job>();
let parserThread = false;

/** parser-worker.ts: this thread parses itself */
export function markParserThread(): void {
  parserThread = true;
}

/** the function declared under this name (parser-worker.ts) */
export function parserJob(name: string): Job | undefined {
  return jobs.get(name);
}

/** `fn` run on the parser thread, wherever it is called from. */
export function onParserThread<A extends unknown[], R>(
  name: string,
  fn: (...args: A) => Promise<R>
): (...args: A) => Promise<R> {
  if (jobs.has(name)) {
    throw new Error(`two parser-thread functions are named ${name}`);
  }
  jobs.set(name, fn as Job);
  return (...args: A) => (parserThread ? fn(...args) : (call(name, args) as Promise<R>));
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Host {
  worker: Worker;
  pending: Map<number, Pending>;
  idle?: NodeJS.Timeout;
}

let host: Host | undefined;
let nextId = 1;
let started = 0;

/** parser threads started so far and whether one is running (tests, diagnostics) */
export function parserThreadStats(): { started: number; running: boolean } {
  return { started, running: host !== undefined };
}

function call(name: string, args: unknown[]): Promise<unknown> {
  const h = (host ??= spawn());
  clearTimeout(h.idle);
  // a pending call keeps the process alive; an idle parser thread does not
  h.worker.ref();
  return new Promise((resolve, reject) => {
    const id = nextId++;
    h.pending.set(id, { resolve, reject });
    h.worker.postMessage({ id, name, args });
  });
}

function spawn(): Host {
  started++;
  const isTs = extname(__filename) === '.ts';
  const file = join(__dirname, `parser-worker${isTs ? '.ts' : '.js'}`);
  // under tsx (tests, dev) a worker does not inherit the TypeScript loader: register it first
  const worker = isTs
    ? new Worker(`require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(file)});`, {
        eval: true,
      })
    : new Worker(file);
  const h: Host = { worker, pending: new Map() };
  worker.on('message', (m: { id: number; result?: unknown; error?: string }) => {
    const p = h.pending.get(m.id);
    if (!p) {
      return;
    }
    h.pending.delete(m.id);
    if (m.error !== undefined) {
      p.reject(new Error(m.error));
    } else {
      p.resolve(m.result);
    }
    if (h.pending.size === 0) {
      worker.unref();
      clearTimeout(h.idle);
      h.idle = setTimeout(() => end(h), PARSER_IDLE_MS);
      h.idle.unref();
    }
  });
  const lost = (why: string) => {
    if (host === h) {
      host = undefined;
    }
    clearTimeout(h.idle);
    for (const p of h.pending.values()) {
      p.reject(new Error(`the SQL parser thread stopped (${why})`));
    }
    h.pending.clear();
  };
  worker.on('error', (e) => lost(e.message));
  worker.on('exit', (code) => lost(`exit code ${code}`));
  return h;
}

function end(h: Host): void {
  if (h.pending.size === 0) {
    if (host === h) {
      host = undefined;
    }
    void h.worker.terminate();
  }
}

/**
 * Ends the parser thread now (tests); calls still waiting are refused. A sidecar's stop leaves it to
 * its idle timer: the thread is the process's, shared by every sidecar started in it.
 */
export async function stopParserThread(): Promise<void> {
  const h = host;
  host = undefined;
  if (h) {
    clearTimeout(h.idle);
    await h.worker.terminate();
  }
}
