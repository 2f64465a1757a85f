/**
 * The sidecar's own health and cost, exposed on /metrics and through CollectMetrics: what each
 * collector costs the database, whether targets are up, how much the store writes.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { LatestSamples } from './prom/latest';

export class SelfMetrics {
  readonly registry = new Registry();
  readonly collectorDuration = new Histogram({
    name: 'pgpulse_collector_duration_seconds',
    help: 'Wall time of the query part of one successful collector run (its rows read, not yet stored); the database time of every run: pgpulse_collector_db_seconds_total',
    labelNames: ['target', 'collector'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly collectorDbSeconds = new Counter({
    name: 'pgpulse_collector_db_seconds_total',
    help: "Time collector runs waited for the target's answers (all their queries, transaction control included, measured by the sidecar so network round trips count): what each collector costs the database",
    labelNames: ['target', 'collector'],
    registers: [this.registry],
  });
  readonly collectorRunSeconds = new Counter({
    name: 'pgpulse_collector_run_seconds_total',
    help: 'Wall time of collector runs, successful or not: queries, row processing, the history store write and follow-up hooks',
    labelNames: ['target', 'collector'],
    registers: [this.registry],
  });
  readonly collectorRuns = new Counter({
    name: 'pgpulse_collector_runs_total',
    help: 'Collector runs, successful or not (the denominator of the db and run seconds)',
    labelNames: ['target', 'collector'],
    registers: [this.registry],
  });
  readonly collectorRows = new Gauge({
    name: 'pgpulse_collector_rows',
    help: 'Rows read by the last run of a collector',
    labelNames: ['target', 'collector'],
    registers: [this.registry],
  });
  readonly collectorErrors = new Counter({
    name: 'pgpulse_collector_errors_total',
    help: 'Collector runs that failed',
    labelNames: ['target', 'collector'],
    registers: [this.registry],
  });
  readonly collectorUnavailable = new Gauge({
    name: 'pgpulse_collector_unavailable',
    help: '1 when a collector cannot run on the target (missing extension, unsupported version)',
    labelNames: ['target', 'collector'],
    registers: [this.registry],
  });
  readonly pointsWritten = new Counter({
    name: 'pgpulse_store_points_written_total',
    help: 'Values written to the history store (only changed values are written)',
    labelNames: ['target', 'collector'],
    registers: [this.registry],
  });
  readonly cyclesSkipped = new Counter({
    name: 'pgpulse_cycles_skipped_total',
    help: 'Cycles skipped: the previous one was still running (overlap), the Neon compute was idle (gate), the store could not keep samples (store), or the event loop was blocked past a whole interval (late)',
    labelNames: ['target', 'reason'],
    registers: [this.registry],
  });
  readonly sharedReads = new Counter({
    name: 'pgpulse_shared_reads_total',
    help: 'Server-wide collector results by where they came from: source="server" read from PostgreSQL, source="shared" taken from another target of the same server (README: several databases of one server)',
    labelNames: ['collector', 'source'],
    registers: [this.registry],
  });
  readonly targetUp = new Gauge({
    name: 'pgpulse_target_up',
    help: '1 when the last connection attempt to the target succeeded',
    labelNames: ['target'],
    registers: [this.registry],
  });
  readonly lastSampleTs = new Gauge({
    name: 'pgpulse_last_sample_timestamp_seconds',
    help: 'Unix time of the last successful sample',
    labelNames: ['target'],
    registers: [this.registry],
  });
  readonly queryDuration = new Histogram({
    name: 'pgpulse_query_duration_seconds',
    help: 'Time to answer one query from the history',
    labelNames: ['metric'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly storeWritable = new Gauge({
    name: 'pgpulse_store_writable',
    help: '1 when the history store accepts writes; 0 while it is full, read-only, locked by another process or failing (see pgpulse_store_problem)',
    registers: [this.registry],
  });
  readonly storeProblem = new Gauge({
    name: 'pgpulse_store_problem',
    help: 'Set (1) while the history store cannot be written: which file, what kind of fault, and the fix; pgpulse retries with back-off',
    labelNames: ['path', 'kind', 'code', 'fix'],
    registers: [this.registry],
  });
  readonly storeFailedAttempts = new Gauge({
    name: 'pgpulse_store_failed_write_attempts',
    help: 'Write attempts that failed since the current history store problem began (0 when healthy)',
    registers: [this.registry],
  });
  readonly queryRefused = new Counter({
    name: 'pgpulse_query_refused_total',
    help: 'Query requests not computed: 429 = the queue was full, 503 = waited too long for a query worker, 499 = the client went away',
    labelNames: ['status'],
    registers: [this.registry],
  });
  readonly queryQueue = new Gauge({
    name: 'pgpulse_query_queue_length',
    help: 'Query requests waiting for a query worker',
    registers: [this.registry],
  });
  readonly queryRunning = new Gauge({
    name: 'pgpulse_query_running',
    help: 'Query requests being computed by query workers',
    registers: [this.registry],
  });
  readonly cycleDuration = new Histogram({
    name: 'pgpulse_sampling_cycle_duration_seconds',
    help: 'Wall time of one sampling cycle of a target (connect, discover, every collector due); above the interval, cycles are skipped (pgpulse_cycles_skipped_total)',
    labelNames: ['target'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly collectorLastSuccess = new Gauge({
    name: 'pgpulse_collector_last_success_timestamp_seconds',
    help: 'Unix time of the last successful run of a collector on the target',
    labelNames: ['target', 'collector'],
    registers: [this.registry],
  });
  /** the last sample of every collector: the catalog families of /metrics (src/sidecar/prom) */
  readonly latest = new LatestSamples();

  constructor() {
    // standard process_* and nodejs_* metrics, prefixed: pgpulse_process_resident_memory_bytes
    collectDefaultMetrics({ register: this.registry, prefix: 'pgpulse_' });
  }
}
