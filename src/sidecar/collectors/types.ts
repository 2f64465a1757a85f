import type { PoolClient } from 'pg';
import type { Logger } from 'pino';
import type { TargetConfig } from '../config';
import type { Store } from '../store/store';
import type { SampleRow } from '../store/types';
import type { OwnRole } from '../targets/own-statements';

/** What a collector knows about the target it samples. */
export interface TargetContext {
  target: TargetConfig;
  serverVersionNum: number;
  /** installed extensions: name → version */
  extensions: Map<string, string>;
  /** installed extensions: name → schema, to qualify their objects (never trust the search_path) */
  extensionSchemas: Map<string, string>;
  postmasterStartMs: number;
  /** the role pgpulse samples as: how its own pg_stat_statements entries are told apart (targets/own-statements) */
  ownRole?: OwnRole;
  store: Store;
  log: Logger;
}

export interface CollectorResult {
  rows: SampleRow[];
  /** collector-wide epoch (ms); the sampler combines it with the postmaster start */
  epoch?: number | null;
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
  /** optional work in a transaction of its own after a successful write (e.g. fetching new texts) */
  after?(db: PoolClient, ctx: TargetContext, result: CollectorResult): Promise<void>;
  /**
   * active probes and other opt-in collectors that must not run inside the read-only transaction:
   * they open their own and must pin the search_path themselves (PIN_SEARCH_PATH)
   */
  ownTransaction?: boolean;
}
