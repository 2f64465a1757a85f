/**
 * What an advisor finding is: one problem on one object, with the numbers that show it (and the
 * window they cover), the fix as SQL or a setting, and what fixing it should buy.
 */
export type Severity = 'critical' | 'warning' | 'info';
export const severities: Severity[] = ['critical', 'warning', 'info'];

export type Category = 'indexes' | 'maintenance' | 'queries' | 'connections' | 'memory' | 'settings';

export interface Evidence {
  /** the numbers behind the finding, named */
  values: Record<string, number | string | boolean | null>;
  /** which window they cover, in words and in ms */
  window: { from: number; to: number; description: string };
}

export interface Fix {
  /** runnable SQL (or a setting change written as SQL) */
  sql?: string;
  /** a setting to change when SQL is not the way (e.g. postgresql.conf / Neon console) */
  setting?: string;
  /** what to know before applying it */
  caveat?: string;
  /** which opt-in action can apply it, if any */
  action?: 'analyze' | 'vacuum' | 'reindex' | 'create_index' | 'drop_index';
}

export interface Finding {
  /** stable across evaluations: rule + object */
  id: string;
  rule: string;
  severity: Severity;
  category: Category;
  /** schema.table, schema.index, queryid:…, database:…, setting:… */
  object: string;
  title: string;
  evidence: Evidence;
  fix: Fix;
  impact: string;
  /** hypothetical-index proof for missing-index findings */
  proof?: { method: 'hypopg' | 'none'; costBefore?: number; costAfter?: number; gainPct?: number; note?: string };
}

export interface StoredFinding extends Finding {
  firstSeen: number;
  lastSeen: number;
  clearedAt: number | null;
}

/** Thresholds of the rules; every one can be overridden (config, env, tests). */
export interface AdvisorOptions {
  /** unused index: history span without a scan before it is reported */
  unusedIndexMinObservedMs: number;
  /** unused/duplicate indexes smaller than this are not worth a finding */
  indexSizeFloorBytes: number;
  /** window for rate-based rules (statements, cache, seq scans) */
  windowMs: number;
  /** an expensive statement: Δtotal_exec_time in the window at least this */
  expensiveTotalMs: number;
  /** … and at least this many calls */
  minCalls: number;
  /** a seq-scan-heavy table: rows read by seq scans per scan at least this */
  seqScanMinRowsPerScan: number;
  /** missing index proven when hypopg shows at least this cost reduction (%) */
  minGainPct: number;
  deadRatio: number;
  deadMinTuples: number;
  /** stale statistics: modified since analyze / live ≥ this */
  staleModRatio: number;
  staleMinRows: number;
  /** autovacuum lagging: no (auto)vacuum for this long while over its threshold */
  vacuumLagMs: number;
  /** ORDER BY without LIMIT: rows per call at least this */
  orderByRowsPerCall: number;
  statementHitRatio: number;
  statementMinBlocks: number;
  cacheHitRatio: number;
  cacheMinBlocks: number;
  connectionSaturation: number;
  idleInTransactionSeconds: number;
  /** a hypopg proof is reused for this long before it is measured again */
  proofCacheMs: number;
}

export const defaultAdvisorOptions: AdvisorOptions = {
  unusedIndexMinObservedMs: 7 * 86_400_000,
  indexSizeFloorBytes: 1 << 20,
  windowMs: 86_400_000,
  expensiveTotalMs: 1000,
  minCalls: 5,
  seqScanMinRowsPerScan: 1000,
  minGainPct: 30,
  deadRatio: 0.2,
  deadMinTuples: 1000,
  staleModRatio: 0.2,
  staleMinRows: 1000,
  vacuumLagMs: 86_400_000,
  orderByRowsPerCall: 1000,
  statementHitRatio: 0.9,
  statementMinBlocks: 10_000,
  cacheHitRatio: 0.98,
  cacheMinBlocks: 10_000,
  connectionSaturation: 0.8,
  idleInTransactionSeconds: 60,
  proofCacheMs: 3_600_000,
};
