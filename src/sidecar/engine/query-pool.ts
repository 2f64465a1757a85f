/**
 * Where query computation runs: worker threads with their own read-only connections to the
 * history, so the sampler, /healthz and gRPC health stay on a free event loop whatever the
 * dashboards ask. A bounded queue refuses what would only wait (429/503 with Retry-After), a
 * per-request budget stops what would take too long, and a request whose client went away is
 * dropped from the queue or stopped mid-read.
 */
import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { defaultBudget, runWithinBudget, type EngineAnswer, type QueryBudget } from './budget';
import type { Engine, EngineRequest } from './engine';
import type { Store } from '../store/store';
import type { WorkerJob, WorkerTask } from './query-worker';

/** a background task still running after this long is taken to be stuck: its worker is ended */
const TASK_KILL_MS = 120_000;

export interface QueryPoolOptions {
  /** worker threads; 0 computes on the main thread (no isolation) */
  workers: number;
  /** requests that may wait for a worker; one more is refused with 429 */
  maxQueue: number;
  /** longest a request may wait for a worker before it is refused with 503 */
  maxWaitMs: number;
  /** a worker without a job this long is ended, the next request starts a fresh one; 0 keeps it */
  idleMs: number;
  budget: QueryBudget;
}

/**
 * setTimeout's longest delay: Node runs a longer timer after 1 ms, so a long idle time would end the
 * worker after every request and a long wait refuse every queued request at once
 */
const LONGEST_TIMER_MS = 2 ** 31 - 1;
/** a query stuck outside its row loops is ended at twice its budget plus this */
const KILL_GRACE_MS = 5000;

function envInt(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  }
  if (n > max) {
    throw new Error(`${name} must be at most ${max} (the longest timer Node keeps), got "${raw}"`);
  }
  return n;
}

/** PGPULSE_QUERY_WORKERS (default 1: on 2 cores one worker leaves a core to sampling), _QUEUE, _MAX_WAIT_MS, _WORKER_IDLE_MS, _MAX_POINTS, _MAX_MS, _MAX_VALUES */
export function queryPoolOptions(env: NodeJS.ProcessEnv): QueryPoolOptions {
  return {
    workers: envInt(env, 'PGPULSE_QUERY_WORKERS', 1, 0),
    maxQueue: envInt(env, 'PGPULSE_QUERY_QUEUE', 64, 1),
    maxWaitMs: envInt(env, 'PGPULSE_QUERY_MAX_WAIT_MS', 20_000, 100, LONGEST_TIMER_MS),
    // an idle worker keeps its isolate, the heap its largest answer grew and a reader page cache of
    // up to 32 MB: nobody has looked at a dashboard for 5 minutes, give them back
    idleMs: envInt(env, 'PGPULSE_QUERY_WORKER_IDLE_MS', 300_000, 0, LONGEST_TIMER_MS),
    budget: {
      maxPoints: envInt(env, 'PGPULSE_QUERY_MAX_POINTS', defaultBudget.maxPoints, 1),
      maxMs: envInt(
        env,
        'PGPULSE_QUERY_MAX_MS',
        defaultBudget.maxMs,
        10,
        Math.floor((LONGEST_TIMER_MS - KILL_GRACE_MS) / 2)
      ),
      maxValues: envInt(env, 'PGPULSE_QUERY_MAX_VALUES', defaultBudget.maxValues, 1),
    },
  };
}

/** The request was not computed: the sidecar is busy or the client left. Transports answer 429/503 + Retry-After. */
export class QueryRefused extends Error {
  constructor(
    readonly status: 429 | 503 | 499,
    readonly retryAfterSeconds: number,
    message: string
  ) {
    super(message);
    this.name = 'QueryRefused';
  }
}

interface Job {
  id: number;
  requests: EngineRequest[];
  /** a background read instead of query requests (requests is empty then) */
  task?: { task: WorkerTask; resolve: (result: unknown) => void };
  resolve: (a: EngineAnswer[]) => void;
  reject: (e: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
  waitTimer?: NodeJS.Timeout;
  killTimer?: NodeJS.Timeout;
  queuedAt: number;
}

/**
 * A background task waits behind dashboard requests (they have a person waiting), but not for
 * ever: one queued this long goes next, so a busy dashboard cannot starve the advisor.
 */
const TASK_MAX_WAIT_MS = 30_000;

interface Slot {
  worker: Worker;
  cancel: Int32Array;
  job?: Job;
  idleTimer?: NodeJS.Timeout;
}

export interface QueryPoolStats {
  workers: number;
  running: number;
  queued: number;
  refused: number;
  cancelled: number;
  /** background tasks (offload) a worker has answered */
  tasks: number;
  /** workers ended after a background task, to give their heap back (the next job starts a fresh one) */
  retired: number;
  /** workers ended after options.idleMs without a job */
  idled: number;
}

export class QueryPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private refused = 0;
  private cancelled = 0;
  private tasks = 0;
  private retired = 0;
  private idled = 0;
  private closed = false;
  /** told of every request not computed: 429 queue full, 503 waited too long, 499 client gone */
  onRefused?: (status: number) => void;

  constructor(
    private readonly store: Store,
    /** the main thread's engine: used when there are no workers, or the history is only readable in memory */
    private readonly inProcess: Engine,
    readonly options: QueryPoolOptions,
    /** names of the features the workers' engines assemble (features.ts) */
    private readonly features: readonly string[]
  ) {}

  stats(): QueryPoolStats {
    return {
      workers: this.slots.length,
      running: this.slots.filter((s) => s.job).length,
      queued: this.queue.length,
      refused: this.refused,
      cancelled: this.cancelled,
      tasks: this.tasks,
      retired: this.retired,
      idled: this.idled,
    };
  }

  /** The refusal a new request would get now (the queue is full), before anything is parsed; undefined when it may come. */
  refusal(): QueryRefused | undefined {
    // background tasks run after waiting requests: they do not make a request wait, nor fill its queue
    const waiting = this.queue.filter((j) => !j.task).length;
    if (
      this.options.workers === 0 ||
      this.closed ||
      waiting < this.options.maxQueue ||
      this.store.status().mode !== 'read-write'
    ) {
      return undefined;
    }
    this.refused++;
    this.onRefused?.(429);
    const wait = Math.max(1, Math.ceil(waiting / Math.max(1, this.options.workers)));
    return new QueryRefused(
      429,
      wait,
      `pgpulse sidecar is busy: ${waiting} query requests are already waiting for ${this.options.workers} query worker(s); retry in ${wait} s (or raise PGPULSE_QUERY_QUEUE / PGPULSE_QUERY_WORKERS)`
    );
  }

  /** Answers each request (same order) within one budget; rejects with QueryRefused when it cannot be computed now. */
  run(requests: EngineRequest[], signal?: AbortSignal): Promise<EngineAnswer[]> {
    if (requests.length === 0) {
      return Promise.resolve([]);
    }
    if (signal?.aborted) {
      return Promise.reject(new QueryRefused(499, 0, 'the client closed the request'));
    }
    // workers read the file; a store that is read-only in memory (or empty) is only readable here
    if (this.options.workers === 0 || this.store.status().mode !== 'read-write' || this.closed) {
      const answers = runWithinBudget(
        this.inProcess,
        this.store,
        requests,
        this.options.budget,
        () => signal?.aborted === true
      );
      return answers
        ? Promise.resolve(answers)
        : Promise.reject(new QueryRefused(499, 0, 'the client closed the request'));
    }
    const busy = this.refusal();
    if (busy) {
      return Promise.reject(busy);
    }
    return new Promise<EngineAnswer[]>((resolve, reject) => {
      const job: Job = { id: this.nextId++, requests, resolve, reject, signal, queuedAt: Date.now() };
      if (signal) {
        job.onAbort = () => this.abort(job);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      job.waitTimer = setTimeout(() => {
        const i = this.queue.indexOf(job);
        if (i >= 0) {
          this.queue.splice(i, 1);
          this.refused++;
          this.onRefused?.(503);
          this.settle(
            job,
            undefined,
            new QueryRefused(
              503,
              5,
              `pgpulse sidecar is overloaded: the request waited ${this.options.maxWaitMs / 1000} s for a query worker; retry in 5 s`
            )
          );
        }
      }, this.options.maxWaitMs);
      job.waitTimer.unref();
      this.queue.push(job);
      this.dispatch();
    });
  }

  /**
   * Runs a background read of the history (advisor evidence) in a query worker, behind the
   * requests already queued; undefined when there is no worker to take it (no workers configured,
   * the history only readable in memory, shutting down): then the caller reads on its own thread.
   * Not subject to the queue limit or the wait limit: it is the sidecar's own work, one at a time
   * per target, and refusing it would only move it back onto the main thread.
   */
  offload<T>(task: WorkerTask): Promise<T> | undefined {
    if (this.options.workers === 0 || this.store.status().mode !== 'read-write' || this.closed) {
      return undefined;
    }
    return new Promise<T>((resolve, reject) => {
      const job: Job = {
        id: this.nextId++,
        requests: [],
        task: { task, resolve: (r) => resolve(r as T) },
        resolve: () => reject(new Error('a background task was answered as a query')),
        reject,
        queuedAt: Date.now(),
      };
      this.queue.push(job);
      this.dispatch();
    });
  }

  private abort(job: Job): void {
    const i = this.queue.indexOf(job);
    if (i >= 0) {
      this.queue.splice(i, 1);
      this.cancelled++;
      this.onRefused?.(499);
      this.settle(job, undefined, new QueryRefused(499, 0, 'the client closed the request'));
      return;
    }
    const slot = this.slots.find((s) => s.job === job);
    if (slot) {
      // the worker polls this while it reads rows and stops the job
      Atomics.store(slot.cancel, 0, job.id);
    }
  }

  private settle(job: Job, answers: EngineAnswer[] | undefined, error?: Error): void {
    clearTimeout(job.waitTimer);
    clearTimeout(job.killTimer);
    if (job.onAbort) {
      job.signal?.removeEventListener('abort', job.onAbort);
    }
    if (answers) {
      job.resolve(answers);
    } else {
      job.reject(error ?? new Error('query failed'));
    }
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => !s.job);
      if (!slot && this.slots.length < this.options.workers) {
        slot = this.spawn();
      }
      if (!slot) {
        return;
      }
      const job = this.queue.splice(this.nextIndex(), 1)[0];
      clearTimeout(slot.idleTimer);
      slot.job = job;
      Atomics.store(slot.cancel, 0, 0);
      // a job past its budget polls and stops itself; one stuck outside the row loops is ended here
      job.killTimer = setTimeout(
        () => this.kill(slot as Slot, job),
        job.task ? TASK_KILL_MS : this.options.budget.maxMs * 2 + KILL_GRACE_MS
      );
      job.killTimer.unref();
      const generation = this.store.generation;
      const msg: WorkerJob = job.task
        ? { id: job.id, generation, task: job.task.task }
        : { id: job.id, generation, requests: job.requests, budget: this.options.budget };
      slot.worker.postMessage(msg);
    }
  }

  /** the oldest request, unless a background task has waited past TASK_MAX_WAIT_MS (then it) */
  private nextIndex(now = Date.now()): number {
    const first = this.queue[0];
    if (!first.task || now - first.queuedAt >= TASK_MAX_WAIT_MS) {
      return 0;
    }
    const request = this.queue.findIndex((j) => !j.task);
    return request < 0 ? 0 : request;
  }

  private spawn(): Slot {
    const isTs = extname(__filename) === '.ts';
    const file = join(__dirname, `query-worker${isTs ? '.ts' : '.js'}`);
    const cancel = new Int32Array(new SharedArrayBuffer(4));
    const workerData = { file: this.store.file, cancel: cancel.buffer, features: [...this.features] };
    // under tsx (tests, dev) a worker does not inherit the TypeScript loader: register it first
    const worker = isTs
      ? new Worker(`require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(file)});`, {
          eval: true,
          workerData,
        })
      : new Worker(file, { workerData });
    worker.unref();
    const slot: Slot = { worker, cancel };
    worker.on('message', (m: { id: number; answers?: EngineAnswer[] | null; result?: unknown; error?: string }) => {
      const job = slot.job;
      if (!job || job.id !== m.id) {
        return;
      }
      slot.job = undefined;
      if (job.task) {
        clearTimeout(job.killTimer);
        // a background read (the advisor's evidence: hours of every statement) leaves the worker's
        // heap at its peak, which an idle isolate keeps for good (~100 MB and more of RSS with 5,000
        // statements): end it, and the next job starts a fresh one (~0.1 s, once per evaluation)
        this.retire(slot);
        if (m.error) {
          job.reject(new Error(m.error));
        } else {
          this.tasks++;
          job.task.resolve(m.result);
        }
      } else if (m.error) {
        this.settle(
          job,
          job.requests.map(() => ({
            response: { frames: [], error: m.error, status: 503, errorSource: 'plugin' as const },
            seconds: 0,
          }))
        );
      } else if (m.answers) {
        this.settle(job, m.answers);
      } else {
        this.cancelled++;
        this.onRefused?.(499);
        this.settle(job, undefined, new QueryRefused(499, 0, 'the client closed the request'));
      }
      this.dispatch();
      this.idleLater(slot);
    });
    const lost = (why: string) => {
      const i = this.slots.indexOf(slot);
      if (i < 0) {
        return;
      }
      this.slots.splice(i, 1);
      clearTimeout(slot.idleTimer);
      const job = slot.job;
      slot.job = undefined;
      if (job) {
        this.settle(
          job,
          undefined,
          new QueryRefused(503, 1, `pgpulse sidecar: the query worker stopped (${why}); retry in 1 s`)
        );
      }
      if (!this.closed) {
        this.dispatch();
      }
    };
    worker.on('error', (e) => lost(e.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    this.slots.push(slot);
    return slot;
  }

  private retire(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) {
      this.slots.splice(i, 1);
      this.retired++;
      clearTimeout(slot.idleTimer);
      void slot.worker.terminate();
    }
  }

  /** ends the worker once it has had no job for options.idleMs */
  private idleLater(slot: Slot): void {
    if (this.options.idleMs <= 0 || slot.job || !this.slots.includes(slot)) {
      return;
    }
    clearTimeout(slot.idleTimer);
    slot.idleTimer = setTimeout(() => {
      const i = this.slots.indexOf(slot);
      if (i >= 0 && !slot.job) {
        this.slots.splice(i, 1);
        this.idled++;
        void slot.worker.terminate();
      }
    }, this.options.idleMs);
    slot.idleTimer.unref();
  }

  private kill(slot: Slot, job: Job): void {
    if (slot.job !== job) {
      return;
    }
    slot.job = undefined;
    if (job.task) {
      this.settle(
        job,
        undefined,
        new Error(`the ${job.task.task.kind} task was still running after ${TASK_KILL_MS / 1000} s and was stopped`)
      );
      void slot.worker.terminate();
      return;
    }
    this.settle(
      job,
      job.requests.map(() => ({
        response: {
          frames: [],
          error: `query budget exceeded: the request was still computing after ${(this.options.budget.maxMs * 2 + 5000) / 1000} s and was stopped; narrow the time range or filter`,
          status: 413,
          errorSource: 'plugin' as const,
        },
        seconds: 0,
      }))
    );
    void slot.worker.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) {
      this.settle(job, undefined, new QueryRefused(503, 5, 'pgpulse sidecar is shutting down'));
    }
    for (const s of this.slots) {
      clearTimeout(s.idleTimer);
    }
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
