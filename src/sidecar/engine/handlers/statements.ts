/**
 * pg_stat_statements computations over a range: slow statement counts per step and the
 * "top queries" table, both from deltas inside the range.
 */
import { collectorCounters } from '../../../model/catalog/collectors';
import type { Frame } from '../../../model/frames';
import { bucketDeltas, loadSeries, rangeTotals, type EngineContext } from '../context';
import { seriesFrame, tableFrame } from '../series-frames';

export function slowStatements(ctx: EngineContext): Frame[] {
  const threshold = ctx.query.threshold ?? ctx.metric.defaults?.threshold ?? 20;
  const minCalls = ctx.query.minCalls ?? ctx.metric.defaults?.minCalls ?? 1;
  const fields = ['calls', 'total_exec_time'];
  const sums = bucketDeltas(ctx, loadSeries(ctx, 'statements', fields), fields);
  const byStmt = new Map<string, { calls?: Array<number | null>; time?: Array<number | null> }>();
  for (const s of sums) {
    const k = JSON.stringify(s.labels);
    const e = byStmt.get(k) ?? {};
    if (s.field === 'calls') {
      e.calls = s.sum;
    } else {
      e.time = s.sum;
    }
    byStmt.set(k, e);
  }
  const n = ctx.grid.starts.length;
  const values: Array<number | null> = new Array(n).fill(null);
  for (const e of byStmt.values()) {
    for (let i = 0; i < n; i++) {
      const calls = e.calls?.[i];
      const time = e.time?.[i];
      if (calls === null || calls === undefined || time === null || time === undefined) {
        continue;
      }
      values[i] = (values[i] ?? 0) + (calls >= minCalls && calls > 0 && time / calls >= threshold ? 1 : 0);
    }
  }
  return [
    seriesFrame(
      ctx,
      'slow_statements',
      {},
      values,
      `count of statements with Δtotal_exec_time / Δcalls ≥ ${threshold} ms and Δcalls ≥ ${minCalls} in each step (pg_stat_statements deltas)`
    ),
  ];
}

/** the table's columns come from every counter of the statements collector but read I/O time */
const TOP_FIELDS = collectorCounters('statements', ['io_read_time']);

/** the fields that decide which statements make the table: its order, the calls filter, the share of time */
const RANKING_FIELDS: Record<string, string[]> = {
  total_time: ['calls', 'total_exec_time'],
  mean_time: ['calls', 'total_exec_time'],
  calls: ['calls', 'total_exec_time'],
  rows: ['calls', 'total_exec_time', 'rows'],
  temp: ['calls', 'total_exec_time', 'temp_blks_written'],
  hit_ratio: ['calls', 'total_exec_time', 'shared_blks_hit', 'shared_blks_read'],
};

type TopRow = { queryid: string; datname: string; t: Record<string, number>; rows: Set<string> };

/** per (queryid, database): Σ of each field over the rows (roles) that ran it, and those rows */
function statementTotals(ctx: EngineContext, fields: string[], rowsIn?: string[]): Map<string, TopRow> {
  const byQuery = new Map<string, TopRow>();
  for (const e of rangeTotals(ctx, 'statements', fields, ctx.filter, rowsIn).values()) {
    // pgpulse's own statements are dropped at collection (targets/own-statements), never by their text
    if (!e.seen) {
      continue;
    }
    const k = `${e.labels.queryid}\u0000${e.labels.datname}`;
    const cur = byQuery.get(k) ?? {
      queryid: e.labels.queryid,
      datname: e.labels.datname,
      t: Object.fromEntries(TOP_FIELDS.map((f) => [f, 0])),
      rows: new Set<string>(),
    };
    for (const f of fields) {
      cur.t[f] += e.totals[f];
    }
    cur.rows.add(e.key);
    byQuery.set(k, cur);
  }
  return byQuery;
}

/** the table's numbers from a statement's Σ fields */
function columns(t: Record<string, number>) {
  const blocks = t.shared_blks_hit + t.shared_blks_read;
  return {
    calls: t.calls,
    total_ms: t.total_exec_time,
    mean_ms: t.calls > 0 ? t.total_exec_time / t.calls : null,
    rows: t.rows,
    hit_ratio: blocks > 0 ? t.shared_blks_hit / blocks : null,
    temp_blks: t.temp_blks_written,
    plan_ms: t.total_plan_time,
  };
}

/**
 * The table's statements ranked on the few fields that rank them, then the other columns read for
 * the shown statements alone: lookups for topN rows, not for every statement (`twoPass` off reads
 * every field of every statement at once — the same answer, kept for the equality test).
 */
export function topQueries(ctx: EngineContext, twoPass = true): Frame[] {
  const orderBy = ctx.query.orderBy ?? ctx.metric.defaults?.orderBy ?? 'total_time';
  const minCalls = ctx.query.minCalls ?? 1;
  const limit = ctx.query.topN ?? ctx.metric.defaults?.topN ?? 20;
  // with minCalls < 1 a statement without calls is listed if any of its fields saw it: rank on all
  const ranking = twoPass && minCalls >= 1 ? (RANKING_FIELDS[orderBy] ?? RANKING_FIELDS.total_time) : TOP_FIELDS;
  const ranked = [...statementTotals(ctx, ranking).values()].filter((r) => r.t.calls >= minCalls);
  const rest = TOP_FIELDS.filter((f) => !ranking.includes(f));
  const rows = ranked.map((r) => ({ queryid: r.queryid, datname: r.datname, ...columns(r.t), source: r }));
  const key: Record<string, (r: (typeof rows)[number]) => number> = {
    total_time: (r) => r.total_ms,
    mean_time: (r) => r.mean_ms ?? 0,
    calls: (r) => r.calls,
    rows: (r) => r.rows,
    temp: (r) => r.temp_blks,
    // worst hit ratio first
    hit_ratio: (r) => -(r.hit_ratio ?? 1),
  };
  const sortKey = key[orderBy] ?? key.total_time;
  rows.sort((a, b) => sortKey(b) - sortKey(a) || a.queryid.localeCompare(b.queryid));
  const top = rows.slice(0, limit);
  const texts = ctx.store.statementTexts(
    ctx.query.target,
    top.map((r) => r.queryid)
  );
  if (rest.length > 0 && top.length > 0) {
    const more = statementTotals(
      ctx,
      rest,
      top.flatMap((r) => [...r.source.rows])
    );
    for (const r of top) {
      const t = { ...r.source.t };
      for (const f of rest) {
        t[f] = more.get(`${r.queryid}\u0000${r.datname}`)?.t[f] ?? 0;
      }
      Object.assign(r, columns(t));
    }
  }
  const totalTime = rows.reduce((a, r) => a + r.total_ms, 0);
  return [
    tableFrame(
      ctx,
      [
        { name: 'queryid', type: 'string', values: top.map((r) => r.queryid), config: { displayName: 'Query ID' } },
        {
          name: 'query',
          type: 'string',
          values: top.map((r) => texts.get(r.queryid) ?? '(text not captured yet)'),
          config: { displayName: 'Query' },
        },
        { name: 'database', type: 'string', values: top.map((r) => r.datname) },
        {
          name: 'calls',
          type: 'number',
          values: top.map((r) => r.calls),
          config: { displayName: 'Calls', unit: 'short' },
        },
        {
          name: 'total_ms',
          type: 'number',
          values: top.map((r) => r.total_ms),
          config: { displayName: 'Total time', unit: 'ms' },
        },
        {
          name: 'mean_ms',
          type: 'number',
          values: top.map((r) => r.mean_ms),
          nullable: true,
          config: { displayName: 'Mean time', unit: 'ms' },
        },
        {
          name: 'share',
          type: 'number',
          values: top.map((r) => (totalTime > 0 ? r.total_ms / totalTime : null)),
          nullable: true,
          config: { displayName: 'Share of time', unit: 'percentunit' },
        },
        {
          name: 'rows',
          type: 'number',
          values: top.map((r) => r.rows),
          config: { displayName: 'Rows', unit: 'short' },
        },
        {
          name: 'hit_ratio',
          type: 'number',
          values: top.map((r) => r.hit_ratio),
          nullable: true,
          config: { displayName: 'Hit ratio', unit: 'percentunit' },
        },
        {
          name: 'temp_blks',
          type: 'number',
          values: top.map((r) => r.temp_blks),
          config: { displayName: 'Temp blocks written', unit: 'short' },
        },
        {
          name: 'plan_ms',
          type: 'number',
          values: top.map((r) => r.plan_ms),
          config: { displayName: 'Planning time', unit: 'ms' },
        },
      ],
      `top ${top.length} of ${rows.length} statements by ${orderBy}, from pg_stat_statements deltas inside the range`
    ),
  ];
}
