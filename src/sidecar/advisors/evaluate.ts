/**
 * Runs every advisor rule over the stored history of one target. Only the missing-index proof
 * talks to the database (EXPLAIN with hypopg, read-only), and only when a connection is offered.
 */
import type { PoolClient } from 'pg';
import type { Store } from '../store/store';
import { isNeonTarget, neonAdvice, neonMinCuFinding } from './rules/neon';
import {
  activityFacts,
  connectedDatabase,
  databaseFacts,
  historySpan,
  indexFacts,
  settingFacts,
  statementFacts,
  tableFacts,
  type ActivityFacts,
  type DatabaseFacts,
  type IndexFacts,
  type SettingFacts,
  type StatementFacts,
  type TableFacts,
} from './history';
import { proveCandidates } from './prove';
import { duplicateIndexRule, invalidIndexRule, parseIndexes, unusedIndexRule } from './rules/indexes';
import { maintenanceRules } from './rules/maintenance';
import {
  findTable,
  missingIndexCandidates,
  missingIndexFinding,
  seqScanHeavyFindings,
  type Proof,
} from './rules/missing-index';
import { serverRules } from './rules/server';
import { statementHeuristics } from './rules/statements';
import { ShapeCache } from './shape-cache';
import { defaultAdvisorOptions, type AdvisorOptions, type Finding } from './types';

export interface EvaluateInput {
  store: Store;
  target: string;
  now?: number;
  options?: Partial<AdvisorOptions>;
  /** a connection for hypopg proofs; omitted → missing-index findings stay unproven */
  connect?: () => Promise<PoolClient>;
  serverVersionNum?: number;
  /** the history read beforehand (gatherEvidence in a query worker); omitted → read here */
  evidence?: AdvisorEvidence;
  /** shapes parsed by earlier evaluations of this target; omitted → every text is parsed afresh */
  shapes?: ShapeCache;
}

export interface Evaluation {
  target: string;
  at: number;
  window: { from: number; to: number; description: string };
  findings: Finding[];
  notes: string[];
}

/** Below this much stored history, statement and table evidence comes from lifetime counters. */
export const FIRST_RUN_SPAN_MS = 3_600_000;

/**
 * A fresh install has seconds of history, so deltas inside the window show nothing even when
 * pg_stat_statements already counts 361 calls of a full-table scan. Until pgpulse has sampled for
 * an hour, statement and table rules read the counters' totals since their last reset, and say so.
 */
function lifetimeEvidence(store: Store, target: string, w: { from: number; to: number }, now: number, span: number) {
  const tables = tableFacts(store, target, w, 'lifetime');
  const statements = statementFacts(store, target, w, 'lifetime');
  const since = Math.min(...[...tables, ...statements].map((f) => f.since ?? Infinity));
  if (!Number.isFinite(since)) {
    return undefined;
  }
  const days = Math.max(0, (now - since) / 86_400_000);
  const description = `since statistics reset on ${new Date(since).toISOString().slice(0, 10)} (${days < 1 ? days.toFixed(2) : Math.round(days)} days): lifetime counters, as pgpulse has only ${Math.round(span / 1000)} s of history yet`;
  return { tables, statements, window: { from: since, to: now, description } };
}

/**
 * Everything the rules read from the stored history. Reading it is the costly part of an
 * evaluation (24 h of every statement's counters), so the sidecar gathers it in a query worker
 * (AdvisorRuntime): on the main thread it held up sampling and /healthz for a second or more.
 * Plain data (structured-clonable), so it can cross from a worker thread.
 */
export interface AdvisorEvidence {
  indexes: IndexFacts[];
  tables: TableFacts[];
  settings: SettingFacts;
  statements: StatementFacts[];
  /** statement and table evidence from lifetime counters (a first run), when history is short */
  lifetime?: { tables: TableFacts[]; statements: StatementFacts[]; window: Evaluation['window'] };
  hasStatementSamples: boolean;
  database: string | undefined;
  activity: ActivityFacts;
  databases: DatabaseFacts[];
  neon: boolean;
  minCu: Finding | undefined;
}

function evaluationWindow(now: number, o: AdvisorOptions): Evaluation['window'] {
  return {
    from: now - o.windowMs,
    to: now,
    description: `deltas over the last ${(o.windowMs / 3_600_000).toFixed(o.windowMs < 3_600_000 ? 2 : 0)} h of stored samples`,
  };
}

/** Reads the evidence of one evaluation from the history (only reads: a read-only connection will do). */
export function gatherEvidence(
  store: Store,
  target: string,
  now: number,
  options: Partial<AdvisorOptions> = {}
): AdvisorEvidence {
  const o: AdvisorOptions = { ...defaultAdvisorOptions, ...options };
  const window = evaluationWindow(now, o);
  const w = { from: window.from, to: window.to };
  const span = historySpan(store, target, 'tables', w);
  const neon = isNeonTarget(store, target);
  return {
    indexes: indexFacts(store, target, now),
    tables: tableFacts(store, target, w),
    settings: settingFacts(store, target, now),
    statements: statementFacts(store, target, w),
    lifetime:
      span < Math.min(FIRST_RUN_SPAN_MS, o.windowMs) ? lifetimeEvidence(store, target, w, now, span) : undefined,
    hasStatementSamples: store.lastSample(target, 'statements') !== undefined,
    database: connectedDatabase(store, target),
    activity: activityFacts(store, target, now),
    databases: databaseFacts(store, target, w),
    neon,
    minCu: neon ? neonMinCuFinding(store, target, window) : undefined,
  };
}

export async function evaluateFindings(input: EvaluateInput): Promise<Evaluation> {
  const o: AdvisorOptions = { ...defaultAdvisorOptions, ...input.options };
  const now = input.now ?? Date.now();
  const { store, target } = input;
  const window = evaluationWindow(now, o);
  const w = { from: window.from, to: window.to };
  const e = input.evidence ?? gatherEvidence(store, target, now, o);
  const notes: string[] = [];
  const findings: Finding[] = [];

  const shapes = input.shapes ?? new ShapeCache();
  const indexes = e.indexes;
  const parsed = await parseIndexes(indexes, shapes);
  findings.push(...unusedIndexRule(indexes, o, now));
  findings.push(...duplicateIndexRule(parsed, o, w));
  findings.push(...invalidIndexRule(indexes, w));

  const tables = e.tables;
  const settings = e.settings;
  findings.push(...maintenanceRules(tables, settings, o, now, w));

  const statements = e.statements;
  const lifetime = e.lifetime;
  if (lifetime) {
    notes.push(
      `first run: statement and table findings use lifetime counters (${lifetime.window.description.split(':')[0]}); they switch to the last ${(o.windowMs / 3_600_000).toFixed(0)} h once pgpulse has sampled for an hour`
    );
  }
  // the evidence statement and table rules read: range deltas, or lifetime totals on a first run
  const evTables: TableFacts[] = lifetime?.tables ?? tables;
  const evStatements: StatementFacts[] = lifetime?.statements ?? statements;
  const evWindow = lifetime?.window ?? window;
  if (!e.hasStatementSamples) {
    notes.push(
      'no pg_stat_statements samples: statement and missing-index rules need the extension (pgpulse doctor explains how)'
    );
  }
  const shaped = [];
  for (const s of evStatements) {
    if (!s.text) {
      continue;
    }
    const shape = await shapes.statement(s.queryid, s.text);
    if (shape.relations.length > 0 && shape.relations.every((r) => isSystemRelation(r.schema, r.name))) {
      continue; // monitoring queries on pg_stat_* and catalogs (pgpulse's own among them): nothing to tune there
    }
    shaped.push({ s, shape });
    findings.push(
      ...statementHeuristics(s, shape, o, evWindow, (schema, name) => {
        const t = findTable(evTables, schema, name);
        return t ? { schema: t.schema, table: t.table } : undefined;
      })
    );
  }

  const database = e.database;
  const candidates = missingIndexCandidates(shaped, evTables, parsed, o, database);
  const proofs: Proof[] = candidates.map(() => ({
    method: 'none',
    note: 'not proven: no database connection for EXPLAIN',
  }));
  if (candidates.length && input.connect) {
    const todo: number[] = [];
    candidates.forEach((c, i) => {
      const cached = store.kvGet(proofKey(target, c));
      if (cached) {
        const v = JSON.parse(cached) as { ts: number; proof: Proof };
        if (now - v.ts < o.proofCacheMs) {
          proofs[i] = v.proof;
          return;
        }
      }
      todo.push(i);
    });
    if (todo.length) {
      let client: PoolClient | undefined;
      try {
        client = await input.connect();
        const got = await proveCandidates(
          client,
          todo.map((i) => candidates[i]),
          input.serverVersionNum ?? 150000
        );
        todo.forEach((ci, j) => {
          proofs[ci] = got[j];
          store.kvSet(proofKey(target, candidates[ci]), JSON.stringify({ ts: now, proof: got[j] }));
        });
      } catch (e) {
        notes.push(`missing-index proofs skipped: ${(e as Error).message}`);
      } finally {
        client?.release();
      }
    }
  }
  const withCandidate = new Set<string>();
  candidates.forEach((c, i) => {
    withCandidate.add(`${c.schema}.${c.table}`);
    const f = missingIndexFinding(c, proofs[i], o, evWindow);
    if (f) {
      findings.push(f);
    }
  });
  findings.push(...seqScanHeavyFindings(evTables, withCandidate, o, evWindow, shaped));

  findings.push(
    ...serverRules(
      {
        activity: e.activity,
        settings,
        databases: e.databases,
        statements,
        indexes,
      },
      o,
      window
    )
  );
  if (e.minCu) {
    findings.push(e.minCu);
  }
  shapes.sweep();
  // one finding per id, the first rule wins
  const seen = new Set<string>();
  const unique = findings.filter((f) => (seen.has(f.id) ? false : (seen.add(f.id), true)));
  return {
    target,
    at: now,
    window,
    findings: e.neon ? neonAdvice(unique, database) : unique,
    notes,
  };
}

function proofKey(
  target: string,
  c: { schema: string; table: string; columns: string[]; statements: Array<{ s: { queryid: string } }> }
): string {
  return `advisor:proof:${target}:${c.schema}.${c.table}(${c.columns.join(',')}):${c.statements[0].s.queryid}`;
}

function isSystemRelation(schema: string | undefined, name: string): boolean {
  return schema === 'pg_catalog' || schema === 'information_schema' || (schema === undefined && name.startsWith('pg_'));
}
