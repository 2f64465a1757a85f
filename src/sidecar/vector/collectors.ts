/**
 * The two vector collectors. `vector` (every few cycles, read-only): discovery, classification of
 * new pg_stat_statements texts and EXPLAIN checks. `vector_probe` (opt-in, own transactions):
 * the active probes. Both run inside the sampler, so they inherit its gate: nothing runs against
 * an idle Neon compute.
 */
import type { PoolClient } from 'pg';
import type { Collector, TargetContext } from '../collectors/types';
import type { SampleRow } from '../store/types';
import { accessMethodOfText, classifyStatements, mayBeVectorQuery, type VectorQueryShape } from './classify';
import { vectorConfigOf } from './config';
import { discover, type AnnIndex, type Discovery } from './discovery';
import { matchIndex } from './match';
import { indexKey, probeRows, runProbes, type ProbeRun, type ProbeState } from './probes';
import { PIN_SEARCH_PATH, quoteIdent } from '../targets/safe-sql';

/** classification per target and queryid (null = not a vector query); texts never change */
const shapes = new Map<string, Map<string, VectorQueryShape | null>>();
/** EXPLAIN verdicts per target and queryid, refreshed when the indexes change or after EXPLAIN_TTL_MS */
const explained = new Map<string, Map<string, { at: number; sig: string; used: string | null; status: string }>>();
const probeStates = new Map<string, ProbeState>();
/** the latest probe run per target, query vectors included (tests and bench/vector-recall-validation.ts read it) */
export const lastProbeRuns = new Map<string, ProbeRun>();
const EXPLAIN_TTL_MS = 30 * 60_000;
const EXPLAIN_PER_CYCLE = 20;

function stateFor<T>(m: Map<string, T>, key: string, init: () => T): T {
  let v = m.get(key);
  if (v === undefined) {
    v = init();
    m.set(key, v);
  }
  return v;
}

function planIndexNames(plan: unknown, out: Set<string>): void {
  if (Array.isArray(plan)) {
    plan.forEach((p) => planIndexNames(p, out));
  } else if (plan && typeof plan === 'object') {
    for (const [k, v] of Object.entries(plan as Record<string, unknown>)) {
      if (k === 'Index Name' && typeof v === 'string') {
        out.add(v);
      } else {
        planIndexNames(v, out);
      }
    }
  }
}

/**
 * The application's statement names its tables and pgvector's operators without a schema, so it
 * is planned with pg_catalog first, then only the schemas of the ANN indexes' tables and of
 * pgvector (never "$user" or a database default), then pg_temp. EXPLAIN without ANALYZE does not
 * execute the statement.
 */
function appSearchPath(ctx: TargetContext, indexes: AnnIndex[]): string {
  const schemas = [
    ...new Set([
      ...indexes.map((i) => i.schemaname),
      ...[ctx.extensionSchemas.get('vector')].filter((s): s is string => !!s),
    ]),
  ];
  return `SET LOCAL search_path = ${['pg_catalog', ...schemas.map(quoteIdent), 'pg_temp'].join(', ')}`;
}

/** EXPLAIN (GENERIC_PLAN) a normalized statement ($n parameters) without running it. */
async function explainUse(
  db: PoolClient,
  ctx: TargetContext,
  text: string,
  indexes: AnnIndex[]
): Promise<{ used: string | null; status: string }> {
  if (ctx.serverVersionNum < 160000) {
    return { used: null, status: 'not checked: EXPLAIN of a normalized statement needs PostgreSQL 16+ (GENERIC_PLAN)' };
  }
  await db.query('SAVEPOINT pgpulse_explain');
  try {
    await db.query(appSearchPath(ctx, indexes));
    const r = await db.query(`EXPLAIN (GENERIC_PLAN, FORMAT JSON) ${text}`);
    await db.query('RELEASE SAVEPOINT pgpulse_explain');
    await db.query(PIN_SEARCH_PATH);
    const names = new Set<string>();
    planIndexNames(r.rows[0]?.['QUERY PLAN'], names);
    const ann = indexes.find((i) => names.has(i.indexrelname));
    return ann
      ? { used: ann.indexrelname, status: `EXPLAIN: index scan on ${ann.indexrelname}` }
      : { used: null, status: 'EXPLAIN: no ANN index scan in the plan' };
  } catch (e) {
    await db.query('ROLLBACK TO SAVEPOINT pgpulse_explain').catch(() => undefined);
    const msg = (e as Error).message.split('\n')[0];
    if ((e as { code?: string }).code === '42501') {
      // plan checks need SELECT on the query's tables, like the probes
      const role = (await db.query('SELECT current_user AS u').catch(() => ({ rows: [{ u: 'the pgpulse role' }] })))
        .rows[0].u as string;
      const tables = [...new Set(indexes.map((i) => `${i.schemaname}.${i.relname}`))];
      return {
        used: null,
        status: `not checked: EXPLAIN failed (${msg}): plan checks need SELECT on the query's tables for role ${role}; fix: GRANT SELECT ON <table> TO ${role}${tables.length ? ` (vector tables: ${tables.join(', ')})` : ''}`,
      };
    }
    return { used: null, status: `not checked: EXPLAIN failed (${msg})` };
  }
}

function indexRow(i: AnnIndex): SampleRow {
  return {
    key: {
      object: 'index',
      datname: i.datname,
      schemaname: i.schemaname,
      relname: i.relname,
      indexrelname: i.indexrelname,
    },
    values: {
      size_bytes: i.sizeBytes,
      table_bytes: i.tableBytes,
      table_rows: i.tableRows,
      dead_tuples: i.deadTuples,
      idx_scan: i.idxScan ?? null,
      dims: i.dims,
      m: i.m,
      ef_construction: i.efConstruction,
      lists: i.lists,
      is_valid: i.valid ? 1 : 0,
    },
    info: {
      amname: i.amname,
      opclass: i.opclass,
      operator: i.operator,
      column: i.column,
      expression: i.expression,
      key_type: i.keyType,
      indexdef: i.indexdef,
      predicate: i.predicate,
    },
  };
}

async function collectVector(db: PoolClient, ctx: TargetContext): Promise<{ rows: SampleRow[] }> {
  const name = ctx.target.name;
  const known = stateFor(shapes, name, () => new Map());
  const statements = ctx.store.entities(name, 'statements');
  // only the texts of statements not classified yet: the store holds them all (5,000 and more, each
  // scrubbed on reading), every 4th cycle
  const unclassified = [...new Set(statements.map((e) => e.labels.queryid))].filter((q) => q && !known.has(q));
  const texts = unclassified.length > 0 ? ctx.store.statementTexts(name, unclassified) : new Map<string, string>();
  const cfg = vectorConfigOf(ctx.target);
  // without pgvector in this database there is nothing to discover, but statements may still be classified
  const d: Discovery = ctx.extensions.has('vector')
    ? await discover(db, ctx.extensions.get('vector') ?? null, accessMethodOfText)
    : {
        server: {
          version: null,
          bugs: [],
          sharedBuffersBytes: null,
          lfcBytes: null,
          efSearch: null,
          probes: null,
          iterativeScan: null,
        },
        indexes: [],
        columns: [],
        builds: [],
      };
  const rows: SampleRow[] = [];
  rows.push({
    key: { object: 'server' },
    values: {
      shared_buffers_bytes: d.server.sharedBuffersBytes,
      lfc_bytes: d.server.lfcBytes,
      ef_search: d.server.efSearch,
      probes: d.server.probes,
      indexes: d.indexes.length,
    },
    info: { version: d.server.version, bugs: d.server.bugs, iterative_scan: d.server.iterativeScan },
  });
  rows.push(...d.indexes.map(indexRow));
  for (const c of d.columns) {
    const n = d.indexes.filter(
      (i) => i.schemaname === c.schemaname && i.relname === c.relname && i.column === c.column
    ).length;
    rows.push({
      key: { object: 'column', datname: c.datname, schemaname: c.schemaname, relname: c.relname, column: c.column },
      values: { dims: c.dims, ann_indexes: n },
      info: { type: c.type },
    });
  }
  for (const b of d.builds) {
    rows.push({
      key: { object: 'build', pid: String(b.pid) },
      values: {
        blocks_done: b.blocksDone,
        blocks_total: b.blocksTotal,
        tuples_done: b.tuplesDone,
        tuples_total: b.tuplesTotal,
      },
      info: { relname: b.relname, indexrelname: b.indexrelname, method: b.method, phase: b.phase },
    });
  }
  // passive: classify statement texts once per queryid; the parser (on its own thread) only sees
  // those that could be a vector search
  const candidates: Array<[string, string]> = [];
  for (const [q, text] of texts) {
    if (!known.has(q)) {
      if (mayBeVectorQuery(text)) {
        candidates.push([q, text]);
      } else {
        known.set(q, null);
      }
    }
  }
  if (candidates.length > 0) {
    const shapes = await classifyStatements(candidates.map(([, t]) => t));
    candidates.forEach(([q], i) => known.set(q, shapes[i]));
  }
  const current = (await db.query<{ d: string }>('SELECT pg_catalog.current_database() AS d')).rows[0].d;
  const sig = d.indexes.map((i) => `${i.schemaname}.${i.indexrelname}:${i.operator}:${i.keySql}:${i.valid}`).join('|');
  const ex = stateFor(explained, name, () => new Map());
  let explains = 0;
  const seen = new Set<string>();
  for (const e of statements) {
    const q = e.labels.queryid;
    const shape = known.get(q);
    const key = `${e.labels.datname}\u0000${q}`;
    if (!shape || seen.has(key)) {
      continue;
    }
    seen.add(key);
    const m = matchIndex(shape, e.labels.datname === current ? d.indexes : []);
    let verdict = ex.get(key);
    if (
      cfg.explain &&
      shape.explainable &&
      e.labels.datname === current &&
      (!verdict || verdict.sig !== sig || Date.now() - verdict.at > EXPLAIN_TTL_MS) &&
      explains < EXPLAIN_PER_CYCLE
    ) {
      explains++;
      const text = texts.get(q) ?? ctx.store.statementTexts(name, [q]).get(q) ?? '';
      verdict = { at: Date.now(), sig, ...(await explainUse(db, ctx, text, d.indexes)) };
      ex.set(key, verdict);
    }
    rows.push({
      key: { object: 'query', datname: e.labels.datname, queryid: q },
      values: { uses_index: verdict ? (verdict.used ? 1 : 0) : null, problems: m.problems.length },
      info: {
        ...shape,
        expected_index: m.index?.indexrelname ?? null,
        expected_index_method: m.index?.amname ?? null,
        problems: m.problems,
        explain: verdict
          ? verdict.status
          : e.labels.datname === current
            ? 'not checked yet'
            : `not checked: statement of database ${e.labels.datname}, pgpulse is connected to ${current}`,
        explain_index: verdict?.used ?? null,
      },
    });
  }
  return { rows };
}

export const vectorCollector: Collector = {
  id: 'vector',
  intervalFactor: 4,
  timeoutMs: 10_000,
  unavailable(ctx) {
    if (!ctx.extensions.has('vector') && !ctx.extensions.has('pg_stat_statements')) {
      return 'neither pgvector (CREATE EXTENSION vector) nor pg_stat_statements is installed in this database: nothing to discover or classify';
    }
    return null;
  },
  collect: collectVector,
};

export const vectorProbeCollector: Collector = {
  id: 'vector_probe',
  // the startup hook turns vector.probes.interval into the sampler's per-collector interval
  intervalFactor: 20,
  timeoutMs: 600_000,
  ownTransaction: true,
  unavailable(ctx) {
    if (!ctx.extensions.has('vector')) {
      return 'extension vector (pgvector) is not installed in this database';
    }
    if (!vectorConfigOf(ctx.target).probes.enabled) {
      return 'active probes are off for this target (opt-in: vector.probes.enabled: true; they run ANN and exact queries on your tables)';
    }
    return null;
  },
  async collect(db, ctx) {
    const cfg = vectorConfigOf(ctx.target).probes;
    // discovery in its own short read-only transaction
    await db.query('BEGIN READ ONLY');
    let d: Discovery;
    try {
      await db.query(PIN_SEARCH_PATH);
      await db.query(
        `SET LOCAL statement_timeout = ${Math.max(1, Math.floor(Math.min(cfg.statementTimeout * 4, 10_000)))}`
      );
      d = await discover(db, ctx.extensions.get('vector') ?? null, accessMethodOfText);
      await db.query('COMMIT');
    } catch (e) {
      await db.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
    const state = stateFor(probeStates, ctx.target.name, () => {
      // the advice survives a sidecar restart: hysteresis starts from what was advised last
      const advice = new Map<string, number | null>();
      for (const e of ctx.store.entities(ctx.target.name, 'vector_probe', { object: 'advice', k: String(cfg.k) })) {
        if (e.info.advised !== undefined && e.info.collecting !== true) {
          advice.set(`${e.labels.schemaname}.${e.labels.indexrelname}`, e.info.advised as number | null);
        }
      }
      return { next: null, run: 0, advice, pool: new Map() };
    });
    const run = await runProbes(db, d.indexes, cfg, state);
    lastProbeRuns.set(ctx.target.name, run);
    const rows = probeRows(run, cfg.k);
    const runRow = rows[rows.length - 1];
    runRow.info = {
      ...runRow.info,
      target_recall: cfg.targetRecall,
      sweep: cfg.sweep,
      sample_size: cfg.sampleSize,
      max_exact_rows: cfg.maxExactRows,
    };
    runRow.values.target_recall = cfg.targetRecall;
    // indexes that could not be probed (no SELECT, an error) make the collector partly fail: health, doctor and the panels say why
    const problems = run.probes
      .filter((p) => p.status.startsWith('permission denied') || p.status.startsWith('error:'))
      .map((p) => `probe of ${indexKey(p.index)}: ${p.status}`);
    return { rows, problems };
  },
};
