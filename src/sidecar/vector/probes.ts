/**
 * Active probes (opt-in per target): take stored vectors as query vectors, run the ANN query each
 * index serves at the session default and at a sweep of ef_search (HNSW) / probes (IVFFlat),
 * time it, and compare its answers with the exact answer (the same query with
 * SET LOCAL enable_indexscan = off) for recall@k. Everything runs in read-only transactions with
 * SET LOCAL only (safe behind PgBouncer), inside a wall-clock budget: a statement never gets a
 * statement_timeout longer than what is left of the budget.
 */
import { OWN_QUERY_MARK } from '../collectors/sql-collector';
import type { PoolClient } from 'pg';
import type { SampleRow } from '../store/types';
import type { ProbeConfig } from './config';
import type { AnnIndex } from './discovery';

export interface ProbeState {
  /** index key to start with next time (indexes left out by the budget go first) */
  next: string | null;
  run: number;
}

export interface SettingResult {
  setting: 'default' | number;
  /** the value in force (the session default resolved) */
  value: number | null;
  latenciesMs: number[];
  recall: number | null;
  returnedMean: number;
}

export interface IndexProbe {
  index: AnnIndex;
  param: 'hnsw.ef_search' | 'ivfflat.probes';
  status: string;
  /** ctids of the rows whose vectors were the queries (lets tests recompute recall) */
  queries: string[];
  exactMs: number | null;
  settings: SettingResult[];
  /** hnsw.iterative_scan / ivfflat.iterative_scan in force ('unsupported' before pgvector 0.8) */
  iterativeScan: string;
}

export interface ProbeRun {
  durationMs: number;
  budgetMs: number;
  statements: number;
  probes: IndexProbe[];
  skipped: Array<{ index: AnnIndex; reason: string }>;
  status: string;
}

const qi = (s: string) => `"${s.replace(/"/g, '""')}"`;
const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;

export function indexKey(i: AnnIndex): string {
  return `${i.schemaname}.${i.indexrelname}`;
}

/** nearest-rank percentile of ascending values */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) {
    return null;
  }
  const r = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[Math.min(sorted.length, r) - 1];
}

class BudgetExceeded extends Error {}

class Clock {
  readonly start = performance.now();
  statements = 0;
  constructor(
    readonly budgetMs: number,
    private readonly stmtTimeoutMs: number,
  ) {}
  elapsed(): number {
    return performance.now() - this.start;
  }
  /** statement_timeout for the next statement, or throws when the budget is spent */
  timeout(): number {
    const left = this.budgetMs - this.elapsed();
    if (left < 2) {
      throw new BudgetExceeded('budget');
    }
    return Math.max(1, Math.floor(Math.min(this.stmtTimeoutMs, left)));
  }
}

async function tx<T>(db: PoolClient, clock: Clock, locals: string[], fn: () => Promise<T>): Promise<T> {
  await db.query('BEGIN READ ONLY');
  try {
    for (const l of locals) {
      await db.query(l);
    }
    const out = await fn();
    await db.query('COMMIT');
    return out;
  } catch (e) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

async function timed(db: PoolClient, clock: Clock, sql: string, params: unknown[] = []): Promise<{ rows: any[]; ms: number }> {
  await db.query(`SET LOCAL statement_timeout = ${clock.timeout()}`);
  clock.statements++;
  const t0 = performance.now();
  // marked as pgpulse's own, so probes never count as the application's vector queries
  const r = await db.query(OWN_QUERY_MARK + sql, params);
  return { rows: r.rows, ms: performance.now() - t0 };
}

function isTimeout(e: unknown): boolean {
  return (e as { code?: string }).code === '57014';
}

/** The probe SQL of one index: ORDER BY <indexed key> <op> $1 LIMIT k, with the index predicate. */
export function annSql(i: AnnIndex, k: number): string {
  const where = i.predicate ? `WHERE ${i.predicate} ` : '';
  return `SELECT ctid::text AS id FROM ${qi(i.schemaname)}.${qi(i.relname)} ${where}ORDER BY ${i.keySql} ${i.operator} $1::${i.keyType} LIMIT ${k}`;
}

async function sampleQueries(db: PoolClient, clock: Clock, i: AnnIndex, n: number, seed: number): Promise<Array<{ id: string; q: string }>> {
  const tbl = `${qi(i.schemaname)}.${qi(i.relname)}`;
  const where = `WHERE ${i.keySql} IS NOT NULL${i.predicate ? ` AND (${i.predicate})` : ''}`;
  const rows = Math.max(1, i.tableRows ?? 1000);
  const pct = Math.min(100, Math.max(0.0001, (100 * n * 4) / rows));
  // BERNOULLI picks rows all over the table; on big tables SYSTEM (whole pages) keeps the read small
  const method = rows <= 100_000 ? 'BERNOULLI' : 'SYSTEM';
  const sel = `SELECT ctid::text AS id, (${i.keySql})::text AS q FROM ${tbl}`;
  let got = (await timed(db, clock, `${sel} TABLESAMPLE ${method} (${pct}) REPEATABLE (${seed}) ${where} LIMIT ${n}`)).rows as Array<{ id: string; q: string }>;
  if (got.length < n) {
    const more = (await timed(db, clock, `${sel} ${where} LIMIT ${n}`)).rows as Array<{ id: string; q: string }>;
    const have = new Set(got.map((g) => g.id));
    got = [...got, ...more.filter((m) => !have.has(m.id))].slice(0, n);
  }
  return got;
}

/** Probe the indexes inside the budget; indexes not reached are probed first next time. */
export async function runProbes(db: PoolClient, indexes: AnnIndex[], cfg: ProbeConfig, state: ProbeState): Promise<ProbeRun> {
  const clock = new Clock(cfg.budget, cfg.statementTimeout);
  state.run++;
  const wanted = indexes.filter((i) => {
    if (!cfg.indexes) {
      return true;
    }
    return cfg.indexes.includes(i.indexrelname) || cfg.indexes.includes(indexKey(i));
  });
  const start = Math.max(0, wanted.findIndex((i) => indexKey(i) === state.next));
  const order = [...wanted.slice(start), ...wanted.slice(0, start)];
  const probes: IndexProbe[] = [];
  const skipped: ProbeRun['skipped'] = [];
  let status = 'ok';
  state.next = null;
  for (let n = 0; n < order.length; n++) {
    const i = order[n];
    if (!i.valid) {
      skipped.push({ index: i, reason: 'index is not valid (failed or in-progress CREATE INDEX CONCURRENTLY)' });
      continue;
    }
    if (!i.operator) {
      skipped.push({ index: i, reason: `opclass ${i.opclass} has no ordering operator` });
      continue;
    }
    const param = i.amname === 'hnsw' ? 'hnsw.ef_search' : 'ivfflat.probes';
    const probe: IndexProbe = { index: i, param, status: 'ok', queries: [], exactMs: null, settings: [], iterativeScan: 'unsupported' };
    try {
      const queries = await tx(db, clock, [], () => sampleQueries(db, clock, i, cfg.sampleSize, state.run));
      probe.queries = queries.map((q) => q.id);
      if (queries.length === 0) {
        skipped.push({ index: i, reason: 'table has no vectors to sample' });
        continue;
      }
      const sql = annSql(i, cfg.k);
      let exact: Array<Set<string>> | null = null;
      const notes: string[] = [];
      if ((i.tableRows ?? Infinity) > cfg.maxExactRows) {
        notes.push(`exact scan skipped: ${i.tableRows === null ? 'row count unknown (run ANALYZE)' : `${Math.round(i.tableRows)} rows`} > maxExactRows ${cfg.maxExactRows}, so no recall`);
      } else {
        try {
          const t0 = performance.now();
          // enable_seqscan = on as well: a role (or PGlite) may have it off, and then the planner keeps the index
          exact = await tx(db, clock, ['SET LOCAL enable_indexscan = off', 'SET LOCAL enable_seqscan = on'], async () => {
            const out: Array<Set<string>> = [];
            for (const q of queries) {
              out.push(new Set((await timed(db, clock, sql, [q.q])).rows.map((r) => r.id as string)));
            }
            return out;
          });
          probe.exactMs = performance.now() - t0;
        } catch (e) {
          if (!isTimeout(e)) {
            throw e;
          }
          notes.push(`exact scan hit statement_timeout (${cfg.statementTimeout} ms or the rest of the budget), so no recall: raise vector.probes.statementTimeout/budget or lower maxExactRows`);
        }
      }
      const iter = i.amname === 'hnsw' ? 'hnsw.iterative_scan' : 'ivfflat.iterative_scan';
      const cur = (await tx(db, clock, [], async () => (await timed(db, clock, `SELECT current_setting('${param}', true) AS v, current_setting('${iter}', true) AS it`)).rows[0])) as { v: string | null; it: string | null };
      const current = cur.v;
      probe.iterativeScan = cur.it ?? 'unsupported';
      const limit = i.amname === 'ivfflat' ? (i.lists ?? 100) : 1000;
      const settings: Array<'default' | number> = ['default', ...[...new Set(cfg.sweep)].sort((a, b) => a - b).filter((v) => v <= limit && !(i.amname === 'ivfflat' && v >= limit))];
      for (const s of settings) {
        const locals = ['SET LOCAL enable_seqscan = off'];
        if (s !== 'default') {
          locals.push(`SET LOCAL ${param} = ${s}`);
        }
        try {
          const res = await tx(db, clock, locals, async () => {
            const lat: number[] = [];
            const answers: string[][] = [];
            for (const q of queries) {
              const r = await timed(db, clock, sql, [q.q]);
              lat.push(r.ms);
              answers.push(r.rows.map((x) => x.id as string));
            }
            return { lat, answers };
          });
          let recall: number | null = null;
          if (exact) {
            let sum = 0;
            res.answers.forEach((a, qn) => {
              const ex = exact![qn];
              const hit = a.filter((id) => ex.has(id)).length;
              sum += ex.size > 0 ? hit / ex.size : 1;
            });
            recall = sum / res.answers.length;
          }
          probe.settings.push({
            setting: s,
            value: s === 'default' ? (current === null ? (param === 'hnsw.ef_search' ? 40 : 1) : Number(current)) : s,
            latenciesMs: res.lat.sort((a, b) => a - b),
            recall,
            returnedMean: res.answers.reduce((a, x) => a + x.length, 0) / res.answers.length,
          });
        } catch (e) {
          if (!isTimeout(e)) {
            throw e;
          }
          notes.push(`${param} = ${s === 'default' ? (current ?? 'default') : s}: a probe query hit statement_timeout`);
        }
      }
      probe.status = notes.length ? notes.join('; ') : 'ok';
      probes.push(probe);
    } catch (e) {
      if (e instanceof BudgetExceeded) {
        status = `budget of ${cfg.budget} ms spent: ${order.length - n} index(es) left for the next run`;
        if (probe.settings.length > 0) {
          probe.status = `partial: budget spent after ${probe.settings.length} setting(s)`;
          probes.push(probe);
        }
        state.next = indexKey(i);
        // a partly probed index keeps what it measured; the rest (it included otherwise) waits
        for (const rest of order.slice(probe.settings.length > 0 ? n + 1 : n)) {
          skipped.push({ index: rest, reason: 'probe budget spent this run' });
        }
        break;
      }
      probe.status = `error: ${(e as Error).message}`;
      probes.push(probe);
    }
  }
  return { durationMs: clock.elapsed(), budgetMs: cfg.budget, statements: clock.statements, probes, skipped, status };
}

/** Rows for the store: one per index × setting, plus one for the run itself. */
export function probeRows(run: ProbeRun, k: number): SampleRow[] {
  const rows: SampleRow[] = [];
  for (const p of run.probes) {
    const i = p.index;
    for (const s of p.settings) {
      const lat = s.latenciesMs;
      rows.push({
        key: { object: 'probe', datname: i.datname, schemaname: i.schemaname, relname: i.relname, indexrelname: i.indexrelname, ef_search: String(s.setting), k: String(k), iterative_scan: p.iterativeScan },
        values: {
          p50_ms: percentile(lat, 0.5),
          p95_ms: percentile(lat, 0.95),
          p99_ms: percentile(lat, 0.99),
          mean_ms: lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : null,
          recall: s.recall,
          queries: lat.length,
          setting_value: s.value,
          returned_mean: s.returnedMean,
        },
        info: { status: p.status, param: p.param, queries: p.queries, amname: i.amname, exact_ms: p.exactMs },
      });
    }
  }
  rows.push({
    key: { object: 'run' },
    values: { duration_ms: run.durationMs, budget_ms: run.budgetMs, statements: run.statements, indexes_probed: run.probes.length, indexes_skipped: run.skipped.length },
    info: { status: run.status, skipped: run.skipped.map((s) => ({ index: indexKey(s.index), reason: s.reason })), probes: run.probes.map((p) => ({ index: indexKey(p.index), status: p.status })) },
  });
  return rows;
}
