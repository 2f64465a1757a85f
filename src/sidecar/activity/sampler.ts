/**
 * The activity sampler of one target: every tick (1 s by default) one grouped read of
 * pg_catalog.pg_stat_activity, added to an in-memory bucket that is written to the store once per
 * sampling interval (collectors `load` and `load_ticks`).
 *
 * It rides along with the target's sampling cycles rather than deciding on its own:
 * - it ticks only while the main sampler's last cycle reached the target and was not paused, and
 *   the gate agrees (SamplingGate.mayRideAlong: on Neon only while sampling a compute the API
 *   reported active, never during a back-off) — so it never wakes or keeps awake a Neon compute
 *   the main sampler stays away from;
 * - it borrows a connection of the target's pool per tick (the pool closes idle ones), so the
 *   target sees no more sessions than before and Neon's gate counts them as pgpulse's own;
 * - ticks never overlap: a tick due while the previous one still runs is skipped and counted.
 *
 * One tick is one round trip: the transaction (read only, search_path pinned, statement_timeout)
 * travels with the SELECT as one simple-query string. pgpulse's own backends are excluded by pid.
 * pg_stat_activity shows the whole server: targets that are databases of one server take one
 * read per tick between them (cluster/, the ticks are aligned to the wall clock).
 */
import type { Logger } from 'pino';
import type { PoolClient } from 'pg';
import { ACTIVITY_TICK_SQL, COMPUTE_QUERY_ID_SQL, NEON_NUM_CPUS_SQL } from '../../model/catalog/load';
import type { TargetSampler } from '../sampler';
import { isStoreWriteError } from '../store/faults';
import type { Store } from '../store/store';
import { describeDbError, ownBackendPids } from '../targets/connection';
import { OWN_QUERY_MARK } from '../targets/own-statements';
import { bindExtensionSchemas, PIN_SEARCH_PATH } from '../targets/safe-sql';
import { LoadAccumulator, type ActivityRow } from './accumulator';
import type { ActivityConfig } from './config';

export const LOAD = 'load';
export const LOAD_TICKS = 'load_ticks';

export interface ActivityOptions {
  /** tests: the schema of a neon_utils stand-in (a num_cpus() function that is not an installed extension) */
  assumeNeonUtils?: string;
}

export interface ActivityStats {
  ticks: number;
  skipped: number;
  failed: number;
  buckets: number;
  /** Σ wall time of completed ticks (connect + round trip + parse), ms */
  tickMs: number;
  lastError?: string;
}

export class ActivitySampler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly acc = new LoadAccumulator();
  private bucketEnd = 0;
  /** the bucket's first tick reads the settings that may change (compute_query_id, Neon vCPUs) */
  private bucketInfo: { vcpus: number | null; computeQueryIdOff: boolean | null } = {
    vcpus: null,
    computeQueryIdOff: null,
  };
  private needInfo = true;
  readonly stats: ActivityStats = { ticks: 0, skipped: 0, failed: 0, buckets: 0, tickMs: 0 };

  constructor(
    private readonly main: TargetSampler,
    private readonly store: Store,
    private readonly cfg: ActivityConfig,
    private readonly log: Logger,
    private readonly opts: ActivityOptions = {}
  ) {}

  get target() {
    return this.main.target;
  }

  start(): void {
    if (!this.cfg.enabled) {
      for (const c of [LOAD, LOAD_TICKS]) {
        this.main.status.unavailable[c] =
          'not applicable: activity sampling is turned off for this target (activity.enabled: false in the sidecar config); remove it to see the database load';
      }
      return;
    }
    this.openBucket(Date.now());
    const every = this.cfg.interval;
    const loop = () => {
      if (this.stopped) {
        return;
      }
      this.onTimer(Date.now());
      // aligned to the wall clock: ticks do not drift and every bucket holds the same number of them
      this.timer = setTimeout(loop, every - (Date.now() % every));
    };
    this.timer = setTimeout(loop, every - (Date.now() % every));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) {
      clearTimeout(this.timer);
    }
    await this.running?.catch(() => undefined);
  }

  /** one timer event: close the bucket when its interval is over, then start a tick unless one runs */
  onTimer(now: number): void {
    if (now >= this.bucketEnd) {
      this.flush(now);
    }
    if (this.running) {
      this.acc.skip();
      this.stats.skipped++;
      return;
    }
    if (!this.mayTick()) {
      return;
    }
    this.running = this.tick()
      .catch((e: Error) => this.log.error({ err: e.message }, 'activity tick failed'))
      .finally(() => {
        this.running = null;
      });
  }

  /** the main sampler reached the target last time, is not paused, and the gate lets riders through */
  mayTick(): boolean {
    const st = this.main.status;
    if (st.reachable !== true || st.paused !== undefined || !this.store.writeAllowed()) {
      return false;
    }
    const gate = this.main.gate;
    return gate?.mayRideAlong ? gate.mayRideAlong(this.main.target) : true;
  }

  /** One tick, awaited by tests and the bench. */
  async tick(): Promise<void> {
    const started = process.hrtime.bigint();
    let connected = false;
    try {
      const needInfo = this.needInfo;
      const neonUtils = this.main.context()?.extensionSchemas.get('neon_utils') ?? this.opts.assumeNeonUtils;
      const { rows, info } = await this.main.shareRead(
        needInfo ? `${LOAD}+info:${neonUtils ?? ''}` : LOAD,
        this.cfg.interval / 2,
        async () => {
          const client = await this.main.pool.connect();
          connected = true;
          try {
            return await this.read(client, needInfo, neonUtils);
          } finally {
            client.release();
          }
        }
      );
      if (info) {
        this.bucketInfo = info;
        this.needInfo = false;
      }
      this.acc.add(rows);
      this.stats.ticks++;
      this.stats.tickMs += Number(process.hrtime.bigint() - started) / 1e6;
      delete this.main.status.failing[LOAD];
      this.stats.lastError = undefined;
    } catch (e) {
      this.acc.fail();
      this.stats.failed++;
      const msg = describeDbError(e, this.main.target.name);
      if (this.stats.lastError !== msg) {
        this.log.warn({ collector: LOAD }, msg);
      }
      this.stats.lastError = msg;
      // a connection failure is the main sampler's to report (target down); a failing read is ours
      if (connected) {
        const ts = Date.now();
        this.main.status.failing[LOAD] = { since: this.main.status.failing[LOAD]?.since ?? ts, error: msg };
      }
    }
  }

  private async read(
    client: PoolClient,
    needInfo: boolean,
    neonUtils: string | undefined
  ): Promise<{ rows: ActivityRow[]; info?: ActivitySampler['bucketInfo'] }> {
    const own = [...ownBackendPids()].filter((p) => Number.isSafeInteger(p) && p > 0);
    const tick = ACTIVITY_TICK_SQL.replace('$OWN_PIDS', `'{${own.join(',')}}'`);
    const neon =
      needInfo && neonUtils !== undefined
        ? bindExtensionSchemas(NEON_NUM_CPUS_SQL, new Map([['neon_utils', neonUtils]]))
        : undefined;
    const timeout = Math.max(100, Math.min(this.main.target.statementTimeoutMs, this.cfg.interval));
    const parts = ['BEGIN READ ONLY', PIN_SEARCH_PATH, `SET LOCAL statement_timeout = ${timeout}`, tick];
    if (needInfo) {
      parts.push(COMPUTE_QUERY_ID_SQL);
      if (neon) {
        parts.push(neon);
      }
    }
    parts.push('COMMIT');
    let results: Array<{ rows: Array<Record<string, unknown>> }>;
    try {
      // no parameters: one simple-query message, one round trip for the whole transaction
      // pg_stat_statements keeps each statement of the string with its own text: each carries the mark
      results = (await client.query(parts.map((p) => `${p}\n${OWN_QUERY_MARK}`).join(';\n'))) as unknown as Array<{
        rows: Array<Record<string, unknown>>;
      }>;
    } catch (e) {
      // an error leaves the transaction block open: end it before the connection goes back to the pool
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
    const rows = results[3].rows as unknown as ActivityRow[];
    if (!needInfo) {
      return { rows };
    }
    const setting = String(results[4].rows[0]?.compute_query_id ?? '');
    const vcpus = neon ? Number(results[5].rows[0]?.vcpus) : NaN;
    return {
      rows,
      info: {
        computeQueryIdOff: setting === 'off',
        vcpus: Number.isFinite(vcpus) && vcpus > 0 ? vcpus : (this.cfg.vcpus ?? null),
      },
    };
  }

  private openBucket(now: number): void {
    const every = this.main.target.intervalMs;
    this.bucketEnd = (Math.floor(now / every) + 1) * every;
    this.needInfo = true;
  }

  /** write the bucket (if anything happened in it) and open the next one */
  flush(now: number): void {
    const info = this.acc.tickCount > 0 ? this.bucketInfo : { vcpus: this.cfg.vcpus ?? null, computeQueryIdOff: null };
    if (!this.acc.empty) {
      const { load, ticks } = this.acc.drain(info);
      const name = this.main.target.name;
      try {
        // the bucket's samples carry its end: a step of the engine sums the buckets that ended in it
        const ts = Math.min(now, this.bucketEnd);
        this.store.writeSample({ target: name, collector: LOAD, ts, ok: true, rows: load });
        this.store.writeSample({ target: name, collector: LOAD_TICKS, ts, ok: true, rows: [ticks] });
        this.stats.buckets++;
      } catch (e) {
        if (!isStoreWriteError(e)) {
          throw e;
        }
        // the store reports its own problem; this bucket is lost like any sample it could not keep
      }
    }
    this.openBucket(now);
  }
}
