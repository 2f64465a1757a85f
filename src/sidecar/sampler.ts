/**
 * The sampling loop of one target: every interval, the collectors that are due run one after
 * another on one short-lived connection, and their rows go to the store. A cycle never overlaps
 * the previous one (no scrape pile-up), a failure is recorded as a gap, restarts become events,
 * and so does what a collector's events() hook sees change (a stats reset, an index created).
 */
import type { Logger } from 'pino';
import type { Pool } from 'pg';
import type { TargetConfig } from './config';
import type { Collector, CollectorResult, TargetContext } from './collectors/types';
import { serverOf } from './cluster/identity';
import type { ClusterReads } from './cluster/shared-reads';
import type { SelfMetrics } from './self-metrics';
import { isStoreWriteError } from './store/faults';
import type { Store } from './store/store';
import { timeQueries } from './collectors/query-time';
import { createPool, describeDbError, inReadOnlyTx } from './targets/connection';
import { OWN_ROLE_SQL, ownRoleFrom, type OwnRole, type OwnRoleRow } from './targets/own-statements';
import {
  CapabilityCache,
  EXTENSIONS_SIGNAL_SQL,
  extensionSchemas,
  extensionVersions,
  probeCapabilities,
} from './targets/capabilities';

/** cycles between re-reads of pgpulse's own role (targets/own-statements) */
const ROLE_RECHECK_CYCLES = 10;

/** Decides whether the target may be contacted now (Neon: never wake or keep awake a compute). */
export interface SamplingGate {
  /** byDesign: pgpulse stays away on purpose (an idle Neon compute): health says ok, alerts stay quiet */
  allow(target: TargetConfig): Promise<{ allowed: boolean; reason?: string; byDesign?: boolean }>;
  /** told after each cycle what pgpulse saw, so it can back off when nobody else uses the compute */
  observe?(target: TargetConfig, ctx: TargetContext): void;
  /**
   * May a one-off connection (an action, `pgpulse doctor`) reach the target now? Unlike allow()
   * it does not count as a sampling cycle. Absent: always.
   */
  mayContact?(target: TargetConfig): Promise<{ allowed: boolean; reason?: string }>;
  /**
   * May a sampler that rides along with the sampling cycles (the 1 s activity sampler) contact the
   * target now? Synchronous, from what the last allow() learnt; never counts as a cycle, never asks
   * an API. Absent: the sampler's own status decides (reachable, not paused).
   */
  mayRideAlong?(target: TargetConfig): boolean;
}

export interface TargetStatus {
  target: string;
  reachable: boolean | null;
  lastError?: string;
  lastOkTs?: number;
  serverVersionNum?: number;
  extensions: Record<string, string>;
  unavailable: Record<string, string>;
  /** since when the target has been unreachable (first failed connection of the current outage) */
  unreachableSince?: number;
  /** collectors whose last run failed, or partly failed (CollectorResult.problems), since when and why */
  failing: Record<string, { since: number; error: string; partial?: boolean }>;
  paused?: string;
  /** the role pgpulse samples as; `shared` set = its own statements rely on the mark (health warns) */
  ownRole?: OwnRole;
  /** the pause is scale-to-zero by design, not a failure */
  pausedByDesign?: boolean;
}

/**
 * The sampling grid: after the tick of `slot` ran at `elapsedMs` past the first tick, the next slot
 * still ahead and how long until it. A tick the event loop ran late lengthens one interval and
 * shortens the next instead of pushing every later tick; a slot missed entirely (the loop was
 * blocked past a whole interval) is skipped, and counted.
 */
export function nextSlot(
  slot: number,
  elapsedMs: number,
  intervalMs: number
): { slot: number; delayMs: number; skipped: number } {
  const next = Math.max(slot + 1, Math.floor(elapsedMs / intervalMs) + 1);
  return { slot: next, delayMs: Math.max(0, next * intervalMs - elapsedMs), skipped: next - slot - 1 };
}

export class TargetSampler {
  readonly pool: Pool;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private cycle = 0;
  private stopped = false;
  private epochState: EpochState | undefined;
  /** the postmaster start and bgwriter stats_reset the last discover() saw */
  private observed: { pm: number; bg: number | null } | undefined;
  /** no counter epoch state was stored: this store may hold samples epoched by an older version */
  private legacyHistory = false;
  private readonly aliases = new Map<string, { from: number; to: number | null } | null>();
  /** each collector's last successful result: what its events() compare with */
  private readonly previous = new Map<string, CollectorResult>();
  readonly status: TargetStatus;
  private ctx: TargetContext | undefined;
  private readonly collectors: Collector[];
  /** what the target is and allows (targets/capabilities): probed again only when it may have changed */
  readonly capabilities = new CapabilityCache();

  constructor(
    readonly target: TargetConfig,
    private readonly store: Store,
    private readonly metrics: SelfMetrics,
    private readonly log: Logger,
    collectors: readonly Collector[],
    readonly gate?: SamplingGate,
    private readonly cluster?: ClusterReads
  ) {
    this.pool = createPool(target);
    this.status = { target: target.name, reachable: null, extensions: {}, unavailable: {}, failing: {} };
    this.collectors = collectors.filter((c) => target.collectors[c.id]?.enabled !== false);
  }

  start(): void {
    const interval = this.target.intervalMs;
    // ticks on a grid anchored at the first one (nextSlot)
    const anchor = performance.now();
    let slot = 0;
    const tick = () => {
      if (this.stopped) {
        return;
      }
      if (this.running) {
        this.metrics.cyclesSkipped.inc({ target: this.target.name, reason: 'overlap' });
      } else {
        this.running = this.runCycle()
          // a bug in one cycle must not end the process: the next tick tries again
          .catch((e: Error) => this.log.error({ target: this.target.name, err: e.message }, 'sampling cycle failed'))
          .finally(() => {
            this.running = null;
          });
      }
      const next = nextSlot(slot, performance.now() - anchor, interval);
      if (next.skipped > 0) {
        this.metrics.cyclesSkipped.inc({ target: this.target.name, reason: 'late' }, next.skipped);
      }
      slot = next.slot;
      this.timer = setTimeout(tick, next.delayMs);
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) {
      clearTimeout(this.timer);
    }
    await this.running?.catch(() => undefined);
    this.cluster?.leave(this.target.name);
    try {
      // a target removed from the configuration must not go on showing its server's later history
      this.store.releaseStreams(this.target.name, Date.now());
    } catch (e) {
      if (!isStoreWriteError(e)) {
        throw e;
      }
    }
    await this.pool.end().catch(() => undefined);
  }

  /** One full cycle; exported for tests and the CLI (`doctor`, `report` sample once). */
  async runCycle(force = false): Promise<void> {
    const name = this.target.name;
    const now = Date.now();
    if (this.gate) {
      const g: { allowed: boolean; reason?: string; byDesign?: boolean } = await this.gate
        .allow(this.target)
        .catch((e: Error) => ({ allowed: false, reason: `gate error: ${e.message}` }));
      if (!g.allowed) {
        this.status.paused = g.reason ?? 'paused';
        this.status.pausedByDesign = g.byDesign === true;
        this.metrics.cyclesSkipped.inc({ target: name, reason: 'gate' });
        return;
      }
      this.status.paused = undefined;
      this.status.pausedByDesign = undefined;
    }
    if (!this.store.writeAllowed()) {
      // nothing read now could be kept: leave the target alone until the store's next attempt
      this.metrics.cyclesSkipped.inc({ target: name, reason: 'store' });
      return;
    }
    const due = this.collectors.filter((c) => force || this.cycle % Math.max(1, this.intervalFactor(c)) === 0);
    this.cycle++;
    const cycleStart = Date.now();
    let client;
    try {
      client = await this.pool.connect();
    } catch (e) {
      const msg = describeDbError(e, name);
      this.markUnreachable(msg, now, due);
      return;
    }
    try {
      const ctx = await this.discover(client);
      if (this.status.reachable === false) {
        this.store.addEvent(name, {
          ts: now,
          kind: 'target_up',
          title: `${name} reachable again`,
          tags: ['pgpulse', 'availability'],
        });
      }
      this.status.reachable = true;
      this.status.lastError = undefined;
      this.status.unreachableSince = undefined;
      this.metrics.targetUp.set({ target: name }, 1);
      this.joinCluster(ctx);
      for (const c of due) {
        const why = c.unavailable(ctx);
        if (why) {
          this.status.unavailable[c.id] = why;
          this.metrics.collectorUnavailable.set({ target: name, collector: c.id }, 1);
          this.metrics.latest.forget(name, c.id);
          continue;
        }
        delete this.status.unavailable[c.id];
        this.metrics.collectorUnavailable.set({ target: name, collector: c.id }, 0);
        await this.runCollector(client, c, ctx);
      }
      this.status.lastOkTs = Date.now();
      this.metrics.cycleDuration.observe({ target: name }, (this.status.lastOkTs - cycleStart) / 1000);
      this.metrics.lastSampleTs.set({ target: name }, Math.floor(this.status.lastOkTs / 1000));
      this.gate?.observe?.(this.target, ctx);
    } catch (e) {
      if (isStoreWriteError(e)) {
        // the history store's problem (reported by the store itself), not the target's
        return;
      }
      const msg = describeDbError(e, name);
      // a connection that died mid-cycle is a reachability problem, not a collector bug
      this.markUnreachable(msg, now, []);
    } finally {
      client.release();
    }
  }

  private intervalFactor(c: Collector): number {
    const override = this.target.collectors[c.id]?.interval;
    return override ? Math.max(1, Math.round(override / this.target.intervalMs)) : c.intervalFactor;
  }

  private markUnreachable(msg: string, ts: number, due: Collector[]): void {
    const name = this.target.name;
    if (this.status.reachable !== false) {
      this.log.warn({ target: name }, msg);
      try {
        this.store.addEvent(name, {
          ts,
          kind: 'target_down',
          title: `${name} unreachable`,
          text: msg,
          tags: ['pgpulse', 'availability'],
        });
      } catch (e) {
        if (!isStoreWriteError(e)) {
          throw e;
        }
      }
    }
    this.status.reachable = false;
    this.capabilities.invalidate();
    this.status.lastError = msg;
    this.status.unreachableSince ??= ts;
    this.metrics.targetUp.set({ target: name }, 0);
    this.metrics.latest.forgetTarget(name);
    for (const c of due) {
      this.recordGap(c.id, ts, msg);
    }
  }

  /** A failed sample marks the gap; if the store cannot keep it either, the store reports that. */
  private recordGap(collector: string, ts: number, error: string): void {
    try {
      this.store.writeSample({ target: this.target.name, collector, ts, ok: false, rows: [], error });
    } catch (e) {
      if (!isStoreWriteError(e)) {
        throw e;
      }
    }
  }

  private async discover(client: import('pg').PoolClient): Promise<TargetContext> {
    const timeout = Math.min(this.target.statementTimeoutMs, 5000);
    const info = await inReadOnlyTx(client, timeout, async () => {
      // pg_stat_bgwriter.stats_reset (readable by any role, PG14–18) is the witness of a crash:
      // see resolveCounterEpoch. extract() is numeric, so × 1000 is exact: the stored epoch state
      // compares these values for equality across sidecar restarts (and with the probe's). The
      // extensions column is the capability cache's per-cycle signal.
      const s = await client.query<{ pm: number; bg: number | null; ext: string | null }>(
        `SELECT (extract(epoch from pg_catalog.pg_postmaster_start_time()) OPERATOR(pg_catalog.*) 1000)::pg_catalog.float8 AS pm,
                (SELECT (extract(epoch from b.stats_reset) OPERATOR(pg_catalog.*) 1000)::pg_catalog.float8 FROM pg_catalog.pg_stat_bgwriter b) AS bg,
                ${EXTENSIONS_SIGNAL_SQL} AS ext`
      );
      const signal = { postmasterStartMs: s.rows[0].pm, extensions: s.rows[0].ext };
      const cached = this.capabilities.current();
      const caps =
        cached && this.capabilities.staleBecause(signal) === null
          ? cached
          : this.capabilities.store(await probeCapabilities(client), signal);
      // who pgpulse is changes rarely and the check scans pg_class: re-read it every few cycles
      // (sessions seen once keep a role shared, see ownRoleFrom)
      const role =
        !this.status.ownRole || this.cycle % ROLE_RECHECK_CYCLES === 1
          ? (await client.query<OwnRoleRow>(OWN_ROLE_SQL)).rows[0]
          : undefined;
      return { caps, pm: s.rows[0].pm, bg: s.rows[0].bg, role };
    });
    const now = Date.now();
    const epoch = this.resolveCounterEpoch(info.pm, info.bg);
    if (epoch.restart) {
      const kept = epoch.restart === 'kept';
      this.store.addEvent(this.target.name, {
        ts: now,
        kind: 'restart',
        title: `${this.target.name}: PostgreSQL restarted${kept ? '' : ' and discarded its statistics'}`,
        text: kept
          ? `postmaster start time changed to ${new Date(info.pm).toISOString()}; cumulative statistics were kept (clean shutdown), so the graphs continue without a cut`
          : `postmaster start time changed to ${new Date(info.pm).toISOString()} and pg_stat_bgwriter.stats_reset moved with it: the statistics were discarded (crash, immediate shutdown or a fresh compute); counters count again from zero, activity between the last sample and the restart is lost`,
        tags: ['pgpulse', 'restart'],
      });
    }
    this.status.serverVersionNum = info.caps.serverVersionNum;
    this.status.extensions = Object.fromEntries(extensionVersions(info.caps));
    if (info.role) {
      this.status.ownRole = ownRoleFrom(info.role, this.status.ownRole);
    }
    this.ctx = {
      target: this.target,
      serverVersionNum: info.caps.serverVersionNum,
      capabilities: info.caps,
      extensions: extensionVersions(info.caps),
      extensionSchemas: extensionSchemas(info.caps),
      postmasterStartMs: info.pm,
      ownRole: this.status.ownRole,
      counterEpochMs: epoch.epoch,
      store: this.store,
      log: this.log,
    };
    return this.ctx;
  }

  /**
   * The epoch of the cluster's cumulative statistics: it changes only on evidence that they were
   * discarded, never because PostgreSQL merely restarted. A clean restart keeps pg_stat_* (PG15+
   * shared-memory stats are written to disk at shutdown, PG14's stats collector file likewise)
   * and pg_stat_statements (its dump file), and Neon keeps them across suspend/resume on PG15+, so
   * cutting there would count the lifetime total as one step — the false spike this replaces.
   *
   * The evidence of a discard (crash, -m immediate, a compute without the stats file): the
   * postmaster start time changed AND pg_stat_bgwriter.stats_reset moved to at/after the new
   * start, because PostgreSQL stamps the fixed-size statistics with "now" when it throws the
   * statistics away at startup, and restores the old stamp from the file otherwise.
   *
   * Every other reset is seen per collector or per row: a counter lower than before (the
   * Prometheus rule), pg_stat_database / pg_stat_bgwriter.stats_reset moving (row epochs),
   * pg_stat_statements_info.stats_reset (collector epoch), PG17+ stats_since (row epoch).
   *
   * The state is kept in the store, so a sidecar restart (or a restart of PostgreSQL while the
   * sidecar was down) is judged against what was seen before. On first sight the epoch is the
   * postmaster start, which is what earlier pgpulse versions stored: their history stays continuous.
   */
  private resolveCounterEpoch(pm: number, bg: number | null): { epoch: number; restart?: 'kept' | 'discarded' } {
    const key = `counter_epoch:${this.target.name}`;
    const prev = this.epochState ?? this.storedEpoch(key);
    // first sight with this version: history written before must not see a cut (epochAlias)
    this.legacyHistory ||= !prev;
    const { next, restart } = advanceEpoch(prev, pm, bg, pm);
    if (!prev || prev.pm !== next.pm || prev.bg !== next.bg || prev.epoch !== next.epoch) {
      this.store.kvSet(key, JSON.stringify(next));
    }
    this.epochState = next;
    this.observed = { pm, bg };
    return { epoch: next.epoch, restart };
  }

  /**
   * The counter epoch of a server's history (stream-alias.ts), by the same rule as a target's, kept
   * under the history's name: whichever target reads the server writes the same epoch, so a change
   * of reader is never a reset. It starts from the first reader's own epoch (its history goes on).
   */
  private serverEpoch(stream: string, own: number): number {
    const key = `counter_epoch:${stream}`;
    const prev = this.storedEpoch(key);
    const { pm, bg } = this.observed ?? { pm: own, bg: null };
    const { next } = advanceEpoch(prev, pm, bg, own);
    if (!prev || prev.pm !== next.pm || prev.bg !== next.bg || prev.epoch !== next.epoch) {
      this.store.kvSet(key, JSON.stringify(next));
    }
    return next.epoch;
  }

  private storedEpoch(key: string): EpochState | undefined {
    try {
      return (JSON.parse(this.store.kvGet(key) ?? 'null') as EpochState | null) ?? undefined;
    } catch {
      return undefined;
    }
  }

  private async runCollector(client: import('pg').PoolClient, c: Collector, ctx: TargetContext): Promise<void> {
    const name = this.target.name;
    const timeout = this.target.collectors[c.id]?.timeout ?? Math.min(c.timeoutMs, this.target.statementTimeoutMs * 4);
    const started = process.hrtime.bigint();
    const ts = Date.now();
    const stopTiming = timeQueries(client);
    try {
      const collect = async () => {
        const r = await c.collect(client, ctx);
        return c.filterRows ? { ...r, rows: await c.filterRows(client, ctx, r.rows) } : r;
      };
      const read = () => (c.ownTransaction ? collect() : inReadOnlyTx(client, timeout, collect));
      const got = this.cluster
        ? await this.cluster.collectStored(
            name,
            c,
            read,
            (prefix) => ({
              stream: this.store.lastServerStream(name, prefix),
              writable: this.store.status().writable,
            }),
            ts
          )
        : { result: await read() };
      const { result } = got;
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const stream = this.serverStream(c.id, got.server);
      // a read shared with another target of the server: the rows are as of that read
      const readAt = result.readAtMs ?? ts;
      let points = 0;
      if (!stream || got.server?.read) {
        // the server's history has its own counter epoch; it starts with this version, so there
        // are no older epochs to carry on (epochAlias) there
        const counterEpoch =
          stream && !c.resetsOnRestart ? this.serverEpoch(stream, ctx.counterEpochMs) : ctx.counterEpochMs;
        // the collector's own evidence (pg_stat_statements_info.stats_reset) on top of the cluster's;
        // both only move forward, so max() changes whenever either does
        const computed = Math.max(c.resetsOnRestart ? ctx.postmasterStartMs : counterEpoch, result.epoch ?? 0);
        points = this.store.writeSample({
          target: stream ?? name,
          collector: c.id,
          ts: readAt,
          ok: true,
          epoch: stream ? computed : this.epochAlias(c.id, computed),
          rows: result.rows,
          counters: c.shape?.counters,
          durationMs,
        }).points;
      }
      if (stream || c.scope === 'cluster') {
        this.store.holdStream(name, c.id, stream, readAt);
      }
      this.metrics.collectorDuration.observe({ target: name, collector: c.id }, durationMs / 1000);
      this.metrics.collectorRows.set({ target: name, collector: c.id }, result.rows.length);
      this.metrics.collectorLastSuccess.set({ target: name, collector: c.id }, Math.floor(ts / 1000));
      this.metrics.latest.record(name, c.id, c.shape, ts, result.rows);
      this.metrics.pointsWritten.inc({ target: name, collector: c.id }, points);
      for (const ev of c.events?.(this.previous.get(c.id), result, name) ?? []) {
        this.store.addEvent(name, { ts, ...ev });
      }
      if (c.events) {
        this.previous.set(c.id, c.eventMemo ? c.eventMemo(result) : result);
      }
      if (result.problems?.length) {
        this.status.failing[c.id] = {
          since: this.status.failing[c.id]?.since ?? ts,
          error: result.problems.join('; '),
          partial: true,
        };
      } else {
        delete this.status.failing[c.id];
      }
      if (c.after) {
        await c.after(client, ctx, result);
      }
    } catch (e) {
      if (isStoreWriteError(e)) {
        throw e; // ends the cycle: what follows could not be kept either
      }
      const msg = describeDbError(e, name);
      this.metrics.collectorErrors.inc({ target: name, collector: c.id });
      this.metrics.latest.forget(name, c.id);
      this.recordGap(c.id, ts, msg);
      this.log.warn({ target: name, collector: c.id }, msg);
      if (
        (e as { code?: string }).code === undefined ||
        ['57P01', '57P02', '57P03', '08006', '08003'].includes(String((e as { code?: string }).code))
      ) {
        throw e; // the connection itself is gone: the target is unreachable, the collector is not to blame
      }
      this.status.failing[c.id] = { since: this.status.failing[c.id]?.since ?? ts, error: msg };
    } finally {
      const labels = { target: name, collector: c.id };
      this.metrics.collectorDbSeconds.inc(labels, stopTiming());
      this.metrics.collectorRunSeconds.inc(labels, Number(process.hrtime.bigint() - started) / 1e9);
      this.metrics.collectorRuns.inc(labels);
    }
  }

  /**
   * Where a server-wide collector's result is stored: the server's history while two or more
   * targets of the server take it (or this target's stream is held there and would go on there: a
   * group that shrank to one, or whose others have not connected yet after a sidecar restart, keeps
   * its history), else undefined (the target's own, as before).
   */
  private serverStream(collector: string, server: { stream: string; peers: number } | undefined): string | undefined {
    if (!server) {
      return undefined;
    }
    return server.peers > 1 || this.store.resumableStream(this.target.name, collector) === server.stream
      ? server.stream
      : undefined;
  }

  /** Tell the targets of the same server what this one can collect (the server as the capabilities probe saw it). */
  private joinCluster(ctx: TargetContext): void {
    if (!this.cluster) {
      return;
    }
    const server = serverOf(ctx.capabilities);
    const able = this.collectors.filter((c) => !c.unavailable(ctx));
    const periods = Object.fromEntries(able.map((c) => [c.id, this.intervalFactor(c) * this.target.intervalMs]));
    this.cluster.join(
      this.target.name,
      server?.identity,
      server?.database ?? '',
      able.map((c) => c.id),
      this.target.intervalMs,
      Date.now(),
      periods
    );
  }

  /** A read of the whole server (the activity tick): shared with the other targets of the server if they have one fresh enough. */
  async shareRead<T>(what: string, freshMs: number, read: () => Promise<T>): Promise<T> {
    return this.cluster ? (await this.cluster.share(this.target.name, what, freshMs, read)).value : read();
  }

  /** whether a one-off connection outside the sampling cycle may reach the target now */
  async mayContact(): Promise<{ allowed: boolean; reason?: string }> {
    if (!this.gate?.mayContact) {
      return { allowed: true };
    }
    return this.gate
      .mayContact(this.target)
      .catch((e: Error) => ({ allowed: false, reason: `gate error: ${e.message}` }));
  }

  /**
   * Older versions stamped samples with other epochs (the postmaster start). On the first run
   * with this version the stored epoch of each collector is carried on for as long as the newly
   * computed one stays what it was then, so the upgrade itself is not a reset; the first real
   * change (evidence) ends it. Kept in the store so a sidecar restart keeps the same answer.
   */
  private epochAlias(collector: string, computed: number): number | null {
    const key = `epoch_alias:${this.target.name}:${collector}`;
    let alias = this.aliases.get(collector);
    if (alias === undefined) {
      const stored = this.store.kvGet(key);
      if (stored !== undefined) {
        alias = JSON.parse(stored) as { from: number; to: number | null } | null;
      } else {
        const last = this.legacyHistory ? this.store.lastSample(this.target.name, collector) : undefined;
        alias = last && last.epoch !== computed ? { from: computed, to: last.epoch } : null;
        this.store.kvSet(key, JSON.stringify(alias));
      }
    }
    if (alias && alias.from !== computed) {
      alias = null;
      this.store.kvSet(key, 'null');
    }
    this.aliases.set(collector, alias);
    return alias ? alias.to : computed;
  }

  context(): TargetContext | undefined {
    return this.ctx;
  }
}

interface EpochState {
  pm: number;
  bg: number | null;
  epoch: number;
}

/**
 * The next counter epoch from the previous state and what discover() saw (resolveCounterEpoch):
 * `first` on first sight; a new postmaster start is a cut only when the statistics were discarded.
 */
function advanceEpoch(
  prev: EpochState | undefined,
  pm: number,
  bg: number | null,
  first: number
): { next: EpochState; restart?: 'kept' | 'discarded' } {
  if (!prev) {
    return { next: { pm, bg, epoch: first } };
  }
  if (pm !== prev.pm) {
    // 1 s of slack: the stamp is taken by the startup process just after the postmaster starts
    const discarded = bg !== null && bg !== prev.bg && bg >= pm - 1000;
    return { next: { pm, bg, epoch: discarded ? pm : prev.epoch }, restart: discarded ? 'discarded' : 'kept' };
  }
  return { next: { pm, bg, epoch: prev.epoch } };
}
