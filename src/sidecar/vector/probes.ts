/**
 * Active probes (opt-in per target): build query vectors from a uniform sample of the table, run
 * the ANN query each index serves at the session default and at a sweep of ef_search (HNSW) /
 * probes (IVFFlat), time it, and compare its answers with the exact answer (the same query with
 * SET LOCAL enable_indexscan = off) for recall@k with a confidence interval. Everything runs in
 * read-only transactions with SET LOCAL only (safe behind PgBouncer), inside a wall-clock budget:
 * a statement never gets a statement_timeout longer than what is left of the budget.
 *
 * Query vectors must not contain their own answer: a stored vector used as a query finds itself
 * (distance 0) and, in HNSW, lands on its own graph node whose links are its neighbours, so
 * recall comes out far too high (measured: 0.89 against 0.72 for held-out queries at
 * ef_search 10; excluding only the self-match still gave 0.83–0.88). pgpulse therefore moves each
 * sampled vector v in a random direction by the distance from v to its nearest other stored
 * vector: a held-out query is about as far from its nearest stored vector as stored vectors are
 * from each other, and the moved point is not a graph node (measured within ±0.03 of held-out
 * recall on clustered and uniform data, slightly pessimistic at high ef_search; docs/vector.md).
 * Key types that cannot be moved (bit, sparsevec) use the stored vector with the self-match
 * excluded (leave-one-out).
 */
import { OWN_QUERY_MARK } from '../collectors/sql-collector';
import { PIN_SEARCH_PATH } from '../targets/safe-sql';
import type { PoolClient } from 'pg';
import type { SampleRow } from '../store/types';
import type { ProbeConfig } from './config';
import type { AnnIndex } from './discovery';
import { denseSql, l2, moveBy, movable, parseDense, sampleSql, seeded } from './query-vectors';
import { adviseSetting, estimateRecall, Z99, Z999, type Advice, type RecallEstimate } from './recall-stats';

export interface ProbeState {
  /** index key to start with next time (indexes left out by the budget go first) */
  next: string | null;
  run: number;
  /** advised ef_search / probes per index (null = none clears the target); kept across runs for hysteresis */
  advice: Map<string, number | null>;
  /** per-query recalls of the last runs per index, by setting value (see adviseFromPool) */
  pool: Map<string, { sig: string; runs: Array<Map<number, number[]>> }>;
}

export interface SettingResult {
  setting: 'default' | number;
  /** the value in force (the session default resolved) */
  value: number | null;
  latenciesMs: number[];
  /** mean recall@k with its 99 % interval (null when no exact answer) */
  recall: RecallEstimate | null;
  /** recall@k of each query vector, in query order */
  perQuery: number[] | null;
  returnedMean: number;
}

export interface ProbeQuery {
  /** ctid of the sampled row */
  id: string;
  /** the query vector as SQL text */
  q: string;
  /** how far the stored vector was moved (null: leave-one-out, the stored vector itself) */
  movedBy: number | null;
}

export interface IndexProbe {
  index: AnnIndex;
  param: 'hnsw.ef_search' | 'ivfflat.probes';
  status: string;
  /** ctids of the sampled rows */
  queries: string[];
  /** the query vectors (kept in memory for tests and the validation bench, never stored) */
  queryVectors: ProbeQuery[];
  /** 'moved' (sampled vectors moved off their stored position) or 'leave-one-out' */
  queryMethod: 'moved' | 'leave-one-out';
  /** advised ef_search / probes after this run (hysteresis), and why */
  advice: Advice | null;
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
    private readonly stmtTimeoutMs: number
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
    await db.query(PIN_SEARCH_PATH);
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

async function timed(
  db: PoolClient,
  clock: Clock,
  sql: string,
  params: unknown[] = []
): Promise<{ rows: any[]; ms: number }> {
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

/** "permission denied" with the role and the GRANT that fixes it */
async function permissionStatus(db: PoolClient, i: AnnIndex, e: Error): Promise<string> {
  const role = await db
    .query(OWN_QUERY_MARK + 'SELECT current_user AS u')
    .then((r) => String(r.rows[0].u))
    .catch(() => 'the pgpulse role');
  const tbl = `${qi(i.schemaname)}.${qi(i.relname)}`;
  return `permission denied (${e.message}): probes and plan checks need SELECT on ${tbl} for role ${role}; fix: GRANT SELECT ON ${tbl} TO ${qi(role)}`;
}

/** The probe SQL of one index: ORDER BY <indexed key> <op> $1 LIMIT k, with the index predicate. */
export function annSql(i: AnnIndex, k: number): string {
  const pred = i.probePredicate ?? i.predicate;
  const where = pred ? `WHERE ${pred} ` : '';
  return `SELECT ctid::text AS id FROM ${qi(i.schemaname)}.${qi(i.relname)} ${where}ORDER BY ${i.probeKeySql ?? i.keySql} ${i.operatorSql ?? i.operator} $1::${i.keyTypeSql ?? i.keyType} LIMIT ${k}`;
}

async function sampleQueries(
  db: PoolClient,
  clock: Clock,
  i: AnnIndex,
  cfg: ProbeConfig,
  seed: number
): Promise<Array<{ id: string; q: string }>> {
  const tbl = `${qi(i.schemaname)}.${qi(i.relname)}`;
  const n = cfg.sampleSize;
  const key = i.probeKeySql ?? i.keySql;
  const pred = i.probePredicate ?? i.predicate;
  let got = (await timed(db, clock, sampleSql(tbl, key, pred, i.tableRows, n, seed, cfg.maxExactRows))).rows as Array<{
    id: string;
    q: string;
  }>;
  if (got.length < n) {
    // a stale row count (reltuples) made the sample too small: every row, hash-ordered, cut to n
    got = (await timed(db, clock, sampleSql(tbl, key, pred, 1, n, seed, cfg.maxExactRows))).rows as Array<{
      id: string;
      q: string;
    }>;
  }
  return got;
}

/**
 * Query vectors from the sampled rows: each moved by the distance to its nearest other stored
 * vector (found through the index at a generous ef_search; an approximate neighbour only makes
 * the move a little longer). Leave-one-out for key types that cannot be moved.
 */
async function buildQueries(
  db: PoolClient,
  clock: Clock,
  i: AnnIndex,
  rows: Array<{ id: string; q: string }>,
  seed: number,
  searchSetting: string
): Promise<ProbeQuery[]> {
  if (!movable(i.keyType)) {
    return rows.map((r) => ({ id: r.id, q: r.q, movedBy: null }));
  }
  const rnd = seeded(seed);
  const nnSql = annSql(i, 3).replace(
    'SELECT ctid::text AS id',
    `SELECT ctid::text AS id, (${i.probeKeySql ?? i.keySql})::text AS v`
  );
  return tx(db, clock, ['SET LOCAL enable_seqscan = off', searchSetting], async () => {
    const out: ProbeQuery[] = [];
    for (const r of rows) {
      const v = parseDense(r.q);
      const near = (await timed(db, clock, nnSql, [r.q])).rows as Array<{ id: string; v: string }>;
      // the nearest other row at a non-zero distance (exact duplicates would not move the query)
      const d = near
        .filter((x) => x.id !== r.id)
        .map((x) => l2(v, parseDense(x.v)))
        .find((x) => x > 0);
      if (d === undefined) {
        out.push({ id: r.id, q: r.q, movedBy: null });
        continue;
      }
      out.push({ id: r.id, q: denseSql(moveBy(v, d, rnd)), movedBy: d });
    }
    return out;
  });
}

/** runs whose query vectors the advice pools (the index and its table must not have changed) */
export const ADVICE_RUNS = 5;

/**
 * The advice reads the per-query recalls of the last ADVICE_RUNS runs together: one run's sample
 * is enough to show the curve, but a 99 % interval that can clear 0.95 needs a few hundred
 * queries (even all-perfect answers: n ≥ 127). The pool starts over when the index definition
 * changes or the table grows or shrinks by 10 %.
 */
function adviseFromPool(state: ProbeState, i: AnnIndex, settings: SettingResult[], target: number): Advice | null {
  const key = indexKey(i);
  const rows = Math.max(1, i.tableRows ?? 1);
  const sig = `${i.indexdef}|${Math.floor(Math.log(rows) / Math.log(1.1))}`;
  let pool = state.pool.get(key);
  if (!pool || pool.sig !== sig) {
    pool = { sig, runs: [] };
    state.pool.set(key, pool);
  }
  const measured = settings.filter((x) => x.perQuery !== null && x.value !== null);
  if (measured.length === 0) {
    return null;
  }
  pool.runs.push(new Map(measured.map((x) => [x.value as number, x.perQuery as number[]])));
  pool.runs.splice(0, Math.max(0, pool.runs.length - ADVICE_RUNS));
  const curve = measured.map((x) => {
    const all = pool!.runs.flatMap((r) => r.get(x.value as number) ?? []);
    const e = estimateRecall(all, 1, Z99)!;
    return {
      value: x.value as number,
      recall: e.recall,
      lower: e.lower,
      upper: e.upper,
      lowerStrict: estimateRecall(all, 1, Z999)!.lower,
      n: all.length,
    };
  });
  const n = Math.min(...curve.map((c) => c.n));
  if (pool.runs.length < ADVICE_RUNS) {
    // too little evidence for a first advice: keep the one from before (a restart, a changed index) or wait
    if (state.advice.has(key)) {
      return {
        value: state.advice.get(key) as number | null,
        reason: `kept while collecting (${pool.runs.length} of ${ADVICE_RUNS} runs since the index or table changed)`,
      };
    }
    return {
      value: null,
      collecting: true,
      reason: `collecting: ${pool.runs.length} of ${ADVICE_RUNS} probe runs (${n} query vectors) before the first advice`,
    };
  }
  const advice = adviseSetting(curve, target, state.advice.has(key) ? state.advice.get(key) : undefined);
  state.advice.set(key, advice.value);
  return {
    ...advice,
    reason: `${advice.reason}; 99 % intervals over ${n} query vectors from the last ${pool.runs.length} run(s)`,
  };
}

/** Probe the indexes inside the budget; indexes not reached are probed first next time. */
export async function runProbes(
  db: PoolClient,
  indexes: AnnIndex[],
  cfg: ProbeConfig,
  state: ProbeState
): Promise<ProbeRun> {
  const clock = new Clock(cfg.budget, cfg.statementTimeout);
  state.run++;
  const wanted = indexes.filter((i) => {
    if (!cfg.indexes) {
      return true;
    }
    return cfg.indexes.includes(i.indexrelname) || cfg.indexes.includes(indexKey(i));
  });
  const start = Math.max(
    0,
    wanted.findIndex((i) => indexKey(i) === state.next)
  );
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
    const probe: IndexProbe = {
      index: i,
      param,
      status: 'ok',
      queries: [],
      queryVectors: [],
      queryMethod: movable(i.keyType) ? 'moved' : 'leave-one-out',
      exactMs: null,
      settings: [],
      iterativeScan: 'unsupported',
      advice: null,
    };
    try {
      const seed = (state.run * 7919 + n) % 2147483647;
      const sampled = await tx(db, clock, [], () => sampleQueries(db, clock, i, cfg, seed));
      probe.queries = sampled.map((q) => q.id);
      if (sampled.length === 0) {
        skipped.push({ index: i, reason: 'table has no vectors to sample' });
        continue;
      }
      const iter = i.amname === 'hnsw' ? 'hnsw.iterative_scan' : 'ivfflat.iterative_scan';
      const cur = (await tx(
        db,
        clock,
        [],
        async () =>
          (
            await timed(
              db,
              clock,
              `SELECT pg_catalog.current_setting('${param}', true) AS v, pg_catalog.current_setting('${iter}', true) AS it`
            )
          ).rows[0]
      )) as { v: string | null; it: string | null };
      const current = cur.v === null ? (param === 'hnsw.ef_search' ? 40 : 1) : Number(cur.v);
      probe.iterativeScan = cur.it ?? 'unsupported';
      const limit = i.amname === 'ivfflat' ? (i.lists ?? 100) : 1000;
      const sweep = [...new Set(cfg.sweep)]
        .sort((a, b) => a - b)
        .filter((v) => v <= limit && !(i.amname === 'ivfflat' && v >= limit));
      // the neighbour search that sizes each move, as close to exact as the index gets
      // (ef_search 1000, the maximum: a neighbour found too far makes the query harder and recall pessimistic)
      const nnSetting =
        i.amname === 'hnsw'
          ? 'SET LOCAL hnsw.ef_search = 1000'
          : `SET LOCAL ivfflat.probes = ${Math.max(current, ...sweep)}`;
      const queries = await buildQueries(db, clock, i, sampled, seed, nnSetting);
      probe.queryVectors = queries;
      const loo = (q: ProbeQuery) => q.movedBy === null;
      // leave-one-out: one more row, the query's own row dropped (HNSW gets one more ef_search slot,
      // which the query's own node takes, so the others get the budget a real query would)
      const sqlK = annSql(i, cfg.k);
      const sqlK1 = annSql(i, cfg.k + 1);
      const answer = (q: ProbeQuery, rows: any[]): string[] => {
        const ids = rows.map((r) => r.id as string);
        return (loo(q) ? ids.filter((id) => id !== q.id) : ids).slice(0, cfg.k);
      };
      let exact: Array<Set<string>> | null = null;
      const notes: string[] = [];
      if ((i.tableRows ?? Infinity) > cfg.maxExactRows) {
        notes.push(
          `exact scan skipped: ${i.tableRows === null ? 'row count unknown (run ANALYZE)' : `${Math.round(i.tableRows)} rows`} > maxExactRows ${cfg.maxExactRows}, so no recall`
        );
      } else {
        try {
          const t0 = performance.now();
          // enable_seqscan = on as well: a role (or PGlite) may have it off, and then the planner keeps the index
          exact = await tx(
            db,
            clock,
            ['SET LOCAL enable_indexscan = off', 'SET LOCAL enable_seqscan = on'],
            async () => {
              const out: Array<Set<string>> = [];
              for (const q of queries) {
                out.push(new Set(answer(q, (await timed(db, clock, loo(q) ? sqlK1 : sqlK, [q.q])).rows)));
              }
              return out;
            }
          );
          probe.exactMs = performance.now() - t0;
        } catch (e) {
          if (!isTimeout(e)) {
            throw e;
          }
          notes.push(
            `exact scan hit statement_timeout (${cfg.statementTimeout} ms or the rest of the budget), so no recall: raise vector.probes.statementTimeout/budget or lower maxExactRows`
          );
        }
      }
      const settings: Array<'default' | number> = ['default', ...sweep];
      for (const s of settings) {
        const value = s === 'default' ? current : s;
        const base = ['SET LOCAL enable_seqscan = off'];
        const plain = s === 'default' ? base : [...base, `SET LOCAL ${param} = ${s}`];
        const oneMore =
          i.amname === 'hnsw' ? [...base, `SET LOCAL hnsw.ef_search = ${Math.min(1000, value + 1)}`] : plain;
        try {
          const run1 = async (subset: ProbeQuery[], locals: string[]) =>
            subset.length === 0
              ? []
              : tx(db, clock, locals, async () => {
                  const out: Array<{ q: ProbeQuery; ms: number; ids: string[] }> = [];
                  for (const q of subset) {
                    const r = await timed(db, clock, loo(q) ? sqlK1 : sqlK, [q.q]);
                    out.push({ q, ms: r.ms, ids: answer(q, r.rows) });
                  }
                  return out;
                });
          const got = [
            ...(await run1(
              queries.filter((q) => !loo(q)),
              plain
            )),
            ...(await run1(queries.filter(loo), oneMore)),
          ];
          const byQuery = new Map(got.map((g) => [g.q, g]));
          const ordered = queries.map((q) => byQuery.get(q)!);
          let perQuery: number[] | null = null;
          if (exact) {
            perQuery = ordered.map((g, qn) => {
              const ex = exact![qn];
              return ex.size > 0 ? g.ids.filter((id) => ex.has(id)).length / ex.size : 1;
            });
          }
          probe.settings.push({
            setting: s,
            value,
            latenciesMs: ordered.map((g) => g.ms).sort((a, b) => a - b),
            recall: perQuery ? estimateRecall(perQuery, cfg.k) : null,
            perQuery,
            returnedMean: ordered.reduce((a, g) => a + g.ids.length, 0) / ordered.length,
          });
        } catch (e) {
          if (!isTimeout(e)) {
            throw e;
          }
          notes.push(`${param} = ${s === 'default' ? current : s}: a probe query hit statement_timeout`);
        }
      }
      probe.advice = adviseFromPool(state, i, probe.settings, cfg.targetRecall);
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
      probe.status =
        (e as { code?: string }).code === '42501'
          ? await permissionStatus(db, i, e as Error)
          : `error: ${(e as Error).message}`;
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
        key: {
          object: 'probe',
          datname: i.datname,
          schemaname: i.schemaname,
          relname: i.relname,
          indexrelname: i.indexrelname,
          ef_search: String(s.setting),
          k: String(k),
          iterative_scan: p.iterativeScan,
        },
        values: {
          p50_ms: percentile(lat, 0.5),
          p95_ms: percentile(lat, 0.95),
          p99_ms: percentile(lat, 0.99),
          mean_ms: lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : null,
          recall: s.recall?.recall ?? null,
          recall_lower: s.recall?.lower ?? null,
          recall_upper: s.recall?.upper ?? null,
          recall_n_eff: s.recall?.nEff ?? null,
          queries: lat.length,
          setting_value: s.value,
          returned_mean: s.returnedMean,
        },
        info: {
          status: p.status,
          param: p.param,
          queries: p.queries,
          query_method: p.queryMethod,
          amname: i.amname,
          exact_ms: p.exactMs,
        },
      });
    }
    if (p.advice) {
      rows.push({
        key: {
          object: 'advice',
          datname: i.datname,
          schemaname: i.schemaname,
          relname: i.relname,
          indexrelname: i.indexrelname,
          k: String(k),
        },
        // -1: no measured setting clears the target (a number, so the series keeps its history)
        values: { advised: p.advice.value ?? -1 },
        info: {
          reason: p.advice.reason,
          param: p.param,
          advised: p.advice.value,
          collecting: p.advice.collecting === true,
        },
      });
    }
  }
  rows.push({
    key: { object: 'run' },
    values: {
      duration_ms: run.durationMs,
      budget_ms: run.budgetMs,
      statements: run.statements,
      indexes_probed: run.probes.length,
      indexes_skipped: run.skipped.length,
    },
    info: {
      status: run.status,
      skipped: run.skipped.map((s) => ({ index: indexKey(s.index), reason: s.reason })),
      probes: run.probes.map((p) => ({ index: indexKey(p.index), status: p.status })),
    },
  });
  return rows;
}
