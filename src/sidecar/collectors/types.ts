import type { PoolClient } from 'pg';
import type { CollectorScope } from '../../model/catalog/collectors';
import type { Logger } from 'pino';
import type { TargetConfig } from '../config';
import type { Store } from '../store/store';
import type { SampleRow } from '../store/types';
import type { TargetCapabilities } from '../targets/capabilities';
import type { OwnRole } from '../targets/own-statements';

/** What a collector knows about the target it samples. */
export interface TargetContext {
  target: TargetConfig;
  serverVersionNum: number;
  /** the target's probe (targets/capabilities): version, extensions, privileges, settings, Neon */
  capabilities: TargetCapabilities;
  /** installed extensions: name → version (from capabilities) */
  extensions: Map<string, string>;
  /** installed extensions: name → schema (from capabilities), to qualify their objects (never trust the search_path) */
  extensionSchemas: Map<string, string>;
  postmasterStartMs: number;
  /** the role pgpulse samples as: how its own pg_stat_statements entries are told apart (targets/own-statements) */
  ownRole?: OwnRole;
  /** epoch of the cluster's cumulative statistics: moves only when they were discarded (see TargetSampler.resolveCounterEpoch) */
  counterEpochMs: number;
  store: Store;
  log: Logger;
}

export interface CollectorResult {
  rows: SampleRow[];
  /** collector-wide counter epoch (ms, e.g. pg_stat_statements_info.stats_reset): a change is a reset */
  epoch?: number | null;
  /**
   * Parts that failed while the rest was collected (one probe of several denied): the rows are
   * kept, and each text (cause and fix) shows in health, doctor and as a notice on the collector's
   * metrics until a later run has none.
   */
  problems?: string[];
  /** when the rows were read, if not at the start of this target's run (a read shared with another target of the server) */
  readAtMs?: number;
}

/** A collector: SQL-driven ones come from the catalog; vector/neon add code-driven ones. */
export interface Collector {
  id: string;
  /** multiple of the target interval */
  intervalFactor: number;
  timeoutMs: number;
  /** null when it can run on this target, else why not (shown in health and /metrics) */
  unavailable(ctx: TargetContext): string | null;
  /** runs inside a read-only transaction with SET LOCAL statement_timeout and search_path already applied */
  collect(db: PoolClient, ctx: TargetContext): Promise<CollectorResult>;
  /**
   * Drops rows that must never be stored (pgpulse's own statements), inside the collector's
   * transaction, before anything is written or compared.
   */
  filterRows?(db: PoolClient, ctx: TargetContext, rows: SampleRow[]): Promise<SampleRow[]>;
  /**
   * Annotations a result implies against the previous successful one of this target (a stats
   * reset, an index created): the sampler stores them as events with the sample's timestamp.
   * prev is undefined on the first result after the sidecar started.
   */
  events?(prev: CollectorResult | undefined, next: CollectorResult, target: string): CollectorEvent[];
  /**
   * What events() needs of a result, kept until the next one (default: the whole result). The
   * statements collector's result is 5,000 rows of keys and counters; its events read only the epoch.
   */
  eventMemo?(result: CollectorResult): CollectorResult;
  /**
   * optional work after a successful write (e.g. fetching new texts), outside the collector's
   * transaction: it must open its own (inReadOnlyTx) to get the pinned search_path
   */
  after?(db: PoolClient, ctx: TargetContext, result: CollectorResult): Promise<void>;
  /**
   * active probes and other opt-in collectors that must not run inside the read-only transaction:
   * they open their own and must pin the search_path themselves (PIN_SEARCH_PATH)
   */
  ownTransaction?: boolean;
  /**
   * The row shape it writes. Catalog metrics that compute from this collector are checked against
   * it at startup and in a unit test (validateCatalog), so a misspelt field fails the build, not a panel.
   */
  shape?: CollectorShape;
  /**
   * Its counters live in shared memory only and restart from zero with PostgreSQL, even after a
   * clean shutdown (Neon's local file cache): every postmaster start is a reset. pg_stat_* and
   * pg_stat_statements counters are not like that (they survive a clean restart), so it is off by default.
   */
  resetsOnRestart?: boolean;
  /** how targets of one server share its read (CollectorSpec.scope); absent: per database */
  scope?: CollectorScope;
}

export interface CollectorEvent {
  kind: string;
  title: string;
  text?: string;
  tags?: string[];
}

export interface CollectorShape {
  key: string[];
  /** cumulative counters: rate / increase / ratio computations need these */
  counters: string[];
  /** point-in-time values */
  gauges: string[];
}
