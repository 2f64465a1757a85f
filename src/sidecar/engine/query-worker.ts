/**
 * A query worker thread: computes engine requests over its own read-only connection to the
 * history (WAL lets it read while the sampler writes), so a heavy panel never holds up sampling,
 * /healthz or the other transports. Started by QueryPool.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { gatherEvidence } from '../advisors/evaluate';
import type { AdvisorOptions } from '../advisors/types';
import { assemble } from '../feature';
import { sidecarFeatures } from '../features';
import { Store } from '../store/store';
import { runWithinBudget, type QueryBudget } from './budget';
import { Engine, type EngineRequest } from './engine';

/** Query requests to answer within a budget, or a background read (WorkerTask) off the main thread. */
export type WorkerJob = { id: number; /** Store.generation of the sidecar's writer */ generation: number } & (
  | { requests: EngineRequest[]; budget: QueryBudget }
  | { task: WorkerTask }
);

/** Reads of the history that other parts of the sidecar do in the background. */
export type WorkerTask = {
  kind: 'advisor-evidence';
  target: string;
  now: number;
  options: Partial<AdvisorOptions>;
};

function runTask(s: Store, task: WorkerTask): unknown {
  switch (task.kind) {
    case 'advisor-evidence':
      return gatherEvidence(s, task.target, task.now, task.options);
  }
}

interface Init {
  file: string;
  /** slot 0 holds the id of the job the main thread wants cancelled */
  cancel: SharedArrayBuffer;
  /** the features of the sidecar that started this worker */
  features: string[];
}

const init = workerData as Init;
const cancel = new Int32Array(init.cancel);
try {
  // Linux niceness is per thread: this one yields the CPU to sampling and liveness when cores are short
  setPriority(10);
} catch {
  /* not permitted here: the queue and budget still bound the work */
}
const parts = assemble(sidecarFeatures.filter((f) => init.features.includes(f.name)));
let store: Store | undefined;
let engine: Engine | undefined;
let generation = 0;

function open(wanted: number): { store: Store; engine: Engine } {
  if (store && wanted !== generation) {
    // the writer opened the file afresh after a fault: the file this connection holds may be gone
    store.close();
    store = undefined;
  }
  generation = wanted;
  if (!store || !engine) {
    store = new Store(init.file, { reader: true });
    engine = new Engine(store, parts);
  }
  return { store, engine };
}

parentPort?.on('message', (job: WorkerJob) => {
  try {
    const { store: s, engine: e } = open(job.generation);
    if ('task' in job) {
      parentPort?.postMessage({ id: job.id, result: runTask(s, job.task) });
      return;
    }
    const answers = runWithinBudget(e, s, job.requests, job.budget, () => Atomics.load(cancel, 0) === job.id);
    parentPort?.postMessage({ id: job.id, answers: answers ?? null });
  } catch (err) {
    // the history could not be read at all (file gone, damaged): say so for every refId
    store?.close();
    store = undefined;
    engine = undefined;
    parentPort?.postMessage({
      id: job.id,
      error: `the history store ${init.file} cannot be read: ${(err as Error).message}`,
    });
  }
});
