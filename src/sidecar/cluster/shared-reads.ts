/**
 * A server is one sampling unit: targets that are databases of the same running PostgreSQL
 * server, sampled as the same role, share one read per cycle of each view that shows the whole
 * server (CollectorSpec.scope), instead of each target reading pg_stat_statements,
 * pg_stat_activity, pg_settings … again. Per-database views are still read by every target.
 *
 * Samplers keep their own timers and connections: the first target of the server whose cycle runs
 * a shared collector reads it (on its connection, in its transaction); the others take that result
 * when they get there, if it is younger than half their interval and they have not taken it
 * before. So each target still gets one fresh read per cycle, never the same one twice, and a
 * target whose timer drifted away simply reads on its own.
 */
import { SERVER_STREAM_PREFIX } from '../store/stream-alias';
import type { SampleRow } from '../store/types';
import type { Collector, CollectorResult } from '../collectors/types';

/**
 * Who a target is connected to, from discover(). Two targets are the same server only if all of
 * it matches: the system identifier alone is shared by a primary and its physical standbys, the
 * postmaster start (µs) and port tell those apart, and the role decides what pg_stat_statements
 * and pg_stat_activity show (queryids and queries of other roles need pg_read_all_stats).
 */
export interface ServerIdentity {
  systemIdentifier: string;
  port: number | null;
  postmasterStart: string;
  role: string;
}

/**
 * The history a target's streams were last held by among those named `prefix…` (Store.lastServerStream),
 * and whether the store could be written when it answered: a store that could not be opened answers
 * from an empty schema, so its "none" is no answer
 */
export type HeldLookup = (prefix: string) => { stream: string | undefined; writable: boolean };

export function serverKey(id: ServerIdentity): string {
  return `${id.systemIdentifier}:${id.port ?? 'socket'}:${id.postmasterStart}:${id.role}`;
}

interface Member {
  name: string;
  server: string;
  identity: ServerIdentity;
  /** position in the configuration: the first target of a server keeps the rows of unmonitored databases */
  order: number;
  database: string;
  /** collectors that can run on this target (enabled, not unavailable): only they take rows */
  collectors: ReadonlySet<string>;
  seenAt: number;
  intervalMs: number;
  /** how often each collector runs on this target when not every interval (a per-target interval override) */
  periods: Readonly<Record<string, number>>;
}

interface SharedRead {
  startedAt: number;
  result: Promise<unknown>;
  takenBy: Set<string>;
}

export interface SharedReadStats {
  /** reads that went to the database */
  reads: number;
  /** results taken from another target's read */
  shared: number;
}

/** a member that has not joined for this many of its intervals has stopped sampling (removed, unreachable) */
const MEMBER_EXPIRY_INTERVALS = 3;

/** A configured target: its name, the database its URL names, its interval. */
export interface ClusterTarget {
  name: string;
  database: string;
  intervalMs: number;
  /** host and port its URL names (urlAddress): before it connects, a target at the same address is likely on the same server */
  address?: string;
}

/** host:port a connection URL names ('' when it names none: a socket from the environment) */
export function urlAddress(url: string): string {
  try {
    const u = new URL(url);
    return u.hostname ? `${u.hostname}:${u.port || '5432'}` : '';
  } catch {
    return '';
  }
}

/** the database a connection URL names (PostgreSQL's default: the user name) */
export function urlDatabase(url: string): string {
  try {
    const u = new URL(url);
    return decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username);
  } catch {
    return '';
  }
}

export class ClusterReads {
  private readonly order: Map<string, number>;
  private readonly addresses: Map<string, string | undefined>;
  private readonly members = new Map<string, Member>();
  private readonly reads = new Map<string, SharedRead>();
  private readonly counts = new Map<string, SharedReadStats>();
  /** targets not joined yet: until they say which server they are on, their database is not the first target's */
  private readonly pending: Map<string, ClusterTarget>;
  private readonly startedAt: number;
  /** the stored history of each server's server-wide collectors, by server key */
  private readonly streams = new Map<string, string>();

  /** targets in configuration order */
  constructor(
    targets: readonly ClusterTarget[],
    now = Date.now(),
    private readonly counted?: (collector: string, source: 'server' | 'shared') => void
  ) {
    this.order = new Map(targets.map((t, i) => [t.name, i]));
    this.addresses = new Map(targets.map((t) => [t.name, t.address]));
    this.pending = new Map(targets.map((t) => [t.name, t]));
    this.startedAt = now;
  }

  /** Told by a target after each discover(): which server it is on and what it can collect. */
  join(
    target: string,
    identity: ServerIdentity | undefined,
    database: string,
    collectors: readonly string[],
    intervalMs: number,
    now = Date.now(),
    periods: Readonly<Record<string, number>> = {}
  ): void {
    this.pending.delete(target);
    if (!identity) {
      this.members.delete(target);
      return;
    }
    this.members.set(target, {
      name: target,
      server: serverKey(identity),
      identity,
      order: this.order.get(target) ?? Number.MAX_SAFE_INTEGER,
      database,
      collectors: new Set(collectors),
      seenAt: now,
      intervalMs,
      periods,
    });
  }

  leave(target: string): void {
    this.members.delete(target);
    this.pending.delete(target);
  }

  /**
   * The collector's result for this target: from a read another target of the server made this
   * cycle, or from `read` (which then serves the others). cluster-by-database results keep only
   * the rows this target owns.
   */
  async collect(
    target: string,
    collector: Collector,
    read: () => Promise<CollectorResult>,
    now = Date.now()
  ): Promise<CollectorResult> {
    const me = this.members.get(target);
    if (!me || !collector.scope || collector.scope === 'database') {
      return read();
    }
    const { value, readAt } = await this.share(target, collector.id, me.intervalMs / 2, read, now);
    const result = { ...value, readAtMs: readAt };
    return collector.scope === 'cluster-by-database'
      ? { ...result, rows: this.owned(me, collector.id, result.rows, now) }
      : result;
  }

  /**
   * collect(), and for a server-wide ('cluster') collector where it is stored: `server` is set
   * when the target is one of two or more targets of its server (or of its server's history
   * already), `read` when this target made the read and so writes it there (every read is written
   * once, whoever made it: a member that stops leaves no gap). Without `server` the target stores
   * its result under its own name, as before.
   */
  async collectStored(
    target: string,
    collector: Collector,
    read: () => Promise<CollectorResult>,
    held: HeldLookup,
    now = Date.now()
  ): Promise<{ result: CollectorResult; server?: { stream: string; read: boolean; peers: number } }> {
    const me = this.members.get(target);
    if (!me || collector.scope !== 'cluster') {
      return { result: await this.collect(target, collector, read, now) };
    }
    const { value, readAt, own } = await this.share(target, collector.id, me.intervalMs / 2, read, now);
    return {
      result: { ...value, readAtMs: readAt },
      server: {
        stream: this.streamOf(me, periodOf(me, collector.id), held),
        read: own,
        peers: this.peers(me, collector.id, now).length,
      },
    };
  }

  /**
   * The server's stored history: the one its members held before (the server restarted: a new
   * postmaster start is a new server key, not a new history), else one named after the server.
   */
  private streamOf(me: Member, periodMs: number, held: HeldLookup): string {
    const key = `${me.server}\u0000${periodMs}`;
    let name = this.streams.get(key);
    if (!name) {
      const id = me.identity;
      // the period is part of the name: targets sampling a collector at different rates keep apart
      // histories, so none sees samples at another's rate
      const prefix = `${SERVER_STREAM_PREFIX}${id.systemIdentifier}:${id.port ?? 'socket'}:${id.role}:${periodMs}ms@`;
      const before = held(prefix);
      name = before.stream ?? `${prefix}${id.postmasterStart}`;
      // picked while nothing could be written (nor read, maybe), the name is asked again next time:
      // kept, a fresh name would start a second history beside the one the file holds
      if (before.writable) {
        this.streams.set(key, name);
      }
    }
    return name;
  }

  /** targets of the member's server that take the collector at its rate now, and those not connected yet that may */
  private peers(me: Member, collector: string, now: number): string[] {
    const period = periodOf(me, collector);
    const live = [...this.members]
      .filter(
        ([, m]) =>
          m.server === me.server &&
          m.collectors.has(collector) &&
          periodOf(m, collector) === period &&
          (m === me || now - m.seenAt <= MEMBER_EXPIRY_INTERVALS * m.intervalMs)
      )
      .map(([name]) => name);
    const address = this.addresses.get(me.name);
    const waiting = [...this.pending.values()]
      .filter(
        (t) =>
          address &&
          t.address === address &&
          t.intervalMs === me.intervalMs &&
          now - this.startedAt <= MEMBER_EXPIRY_INTERVALS * t.intervalMs
      )
      .map((t) => t.name);
    return [...live, ...waiting];
  }

  /**
   * Any read of the whole server (the 1 s activity tick): another target's if it started less
   * than `freshMs` ago and this target has not taken it yet, else this target's own `read`.
   * A target whose server is not known reads alone.
   */
  async share<T>(
    target: string,
    what: string,
    freshMs: number,
    read: () => Promise<T>,
    now = Date.now()
  ): Promise<{ value: T; readAt: number; own: boolean }> {
    const me = this.members.get(target);
    if (!me) {
      return { value: await read(), readAt: now, own: true };
    }
    const key = `${me.server}\u0000${what}`;
    const counts = this.countsOf(what);
    const prior = this.reads.get(key);
    if (prior && !prior.takenBy.has(target) && now - prior.startedAt < freshMs) {
      prior.takenBy.add(target);
      try {
        const value = (await prior.result) as T;
        counts.shared++;
        this.counted?.(what, 'shared');
        return { value, readAt: prior.startedAt, own: false };
      } catch {
        // the reader's failure (its connection, its timeout) is not this target's: read on our own
        counts.reads++;
        this.counted?.(what, 'server');
        return { value: await read(), readAt: now, own: true };
      }
    }
    const started: SharedRead = { startedAt: now, result: read(), takenBy: new Set([target]) };
    // a rejection is seen by the reader; the others fall back to a read of their own
    started.result.catch(() => undefined);
    this.reads.set(key, started);
    counts.reads++;
    this.counted?.(what, 'server');
    return { value: (await started.result) as T, readAt: now, own: true };
  }

  /** reads and shared results per collector since the start (bench, tests) */
  stats(): Record<string, SharedReadStats> {
    return Object.fromEntries([...this.counts].map(([k, v]) => [k, { ...v }]));
  }

  private countsOf(collector: string): SharedReadStats {
    let c = this.counts.get(collector);
    if (!c) {
      c = { reads: 0, shared: 0 };
      this.counts.set(collector, c);
    }
    return c;
  }

  /**
   * A row belongs to the target connected to its database; rows of databases no target of the
   * server collects (and of dropped ones, datname '') belong to the server's first target. A
   * target that has not connected yet (the first cycle after a start) may be on this server: its
   * database waits for it a few of its intervals rather than start a series at the first target.
   */
  private owned(me: Member, collector: string, rows: SampleRow[], now: number): SampleRow[] {
    const peers = [...this.members.values()].filter(
      (m) =>
        m.server === me.server &&
        m.collectors.has(collector) &&
        now - m.seenAt <= MEMBER_EXPIRY_INTERVALS * m.intervalMs
    );
    if (!peers.includes(me)) {
      peers.push(me);
    }
    const first = peers.reduce((a, b) => (b.order < a.order ? b : a));
    const covered = new Set(peers.map((m) => m.database));
    for (const t of this.pending.values()) {
      if (now - this.startedAt <= MEMBER_EXPIRY_INTERVALS * t.intervalMs) {
        covered.add(t.database);
      }
    }
    return rows.filter((r) => {
      const db = r.key.datname ?? '';
      return db === me.database || (me === first && !covered.has(db));
    });
  }
}

/** how often a member runs a collector, ms */
function periodOf(m: Member, collector: string): number {
  return m.periods[collector] ?? m.intervalMs;
}
