/**
 * Statement heuristics, read from the parsed statement and its deltas over the window:
 * leading-wildcard LIKE (→ pg_trgm), ORDER BY without LIMIT on large results, DISTINCT over a
 * join, and a low buffer-cache hit ratio per statement.
 */
import type { StatementFacts } from '../history';
import { qualified, type StatementShape } from '../sql-analysis';
import type { AdvisorOptions, Finding } from '../types';

const short = (t: string | undefined) => (t ?? '').replace(/\s+/g, ' ').trim().slice(0, 160);

export function statementHeuristics(
  s: StatementFacts,
  shape: StatementShape,
  o: AdvisorOptions,
  window: { from: number; to: number; description: string },
  resolveTable?: (schema: string | undefined, name: string) => { schema: string; table: string } | undefined
): Finding[] {
  const out: Finding[] = [];
  const base = {
    values: {
      queryid: s.queryid,
      calls: s.calls,
      total_exec_ms: Math.round(s.totalMs),
      mean_ms: Number((s.totalMs / Math.max(1, s.calls)).toFixed(2)),
      rows_per_call: Math.round(s.rows / Math.max(1, s.calls)),
    },
    window,
  };
  const costly = s.totalMs >= o.expensiveTotalMs;
  const obj = `queryid:${s.queryid}`;
  for (const p of shape.predicates) {
    if ((p.op === 'like' || p.op === 'ilike') && p.leadingWildcard) {
      const rel = p.rel >= 0 ? shape.relations[p.rel] : undefined;
      const t = rel
        ? (resolveTable?.(rel.schema, rel.name) ?? { schema: rel.schema ?? 'public', table: rel.name })
        : undefined;
      const table = t ? qualified(t.schema, t.table) : '<table>';
      out.push({
        id: `leading_wildcard:${s.queryid}:${p.column}`,
        rule: 'leading_wildcard',
        severity: costly ? 'warning' : 'info',
        category: 'queries',
        object: obj,
        title: `${p.op.toUpperCase()} with a leading wildcard on ${p.column} cannot use a btree index: ${short(s.text)}`,
        evidence: { ...base, values: { ...base.values, column: p.column } },
        fix: {
          sql: `CREATE EXTENSION IF NOT EXISTS pg_trgm;\nCREATE INDEX CONCURRENTLY ON ${table} USING gin (${p.column} gin_trgm_ops);`,
          caveat: 'a trigram GIN index is large and slows writes; patterns shorter than 3 characters still scan',
        },
        impact: 'substring searches use the trigram index instead of reading every row',
      });
      break;
    }
  }
  const rowsPerCall = s.rows / Math.max(1, s.calls);
  if (shape.kind === 'select' && shape.orderBy && !shape.limit && rowsPerCall >= o.orderByRowsPerCall) {
    out.push({
      id: `order_without_limit:${s.queryid}`,
      rule: 'order_without_limit',
      severity: 'info',
      category: 'queries',
      object: obj,
      title: `ORDER BY without LIMIT sorts ${Math.round(rowsPerCall)} rows per call: ${short(s.text)}`,
      evidence: base,
      fix: {
        sql: '-- add LIMIT (and keyset pagination: WHERE sort_key > $last ORDER BY sort_key LIMIT n) if the client reads only the first rows',
        caveat: 'keep the ORDER BY if the client really consumes every row',
      },
      impact: 'a top-N sort or an index-ordered scan instead of sorting (and sending) the whole result',
    });
  }
  if (shape.kind === 'select' && shape.distinct && shape.join && (costly || s.calls >= o.minCalls)) {
    out.push({
      id: `distinct_join:${s.queryid}`,
      rule: 'distinct_join',
      severity: 'info',
      category: 'queries',
      object: obj,
      title: `DISTINCT over a join often hides a join that multiplies rows: ${short(s.text)}`,
      evidence: base,
      fix: { sql: '-- rewrite the join that only filters as WHERE EXISTS (SELECT 1 FROM … WHERE …) and drop DISTINCT' },
      impact: 'no duplicate rows built and then sorted/hashed away',
    });
  }
  const blocks = s.blksHit + s.blksRead;
  if (blocks >= o.statementMinBlocks) {
    const hr = s.blksHit / blocks;
    if (hr < o.statementHitRatio) {
      out.push({
        id: `statement_hit_ratio:${s.queryid}`,
        rule: 'statement_hit_ratio',
        severity: 'info',
        category: 'queries',
        object: obj,
        title: `Statement reads ${((1 - hr) * 100).toFixed(0)}% of its ${blocks} blocks from disk: ${short(s.text)}`,
        evidence: {
          ...base,
          values: {
            ...base.values,
            hit_ratio: Number(hr.toFixed(4)),
            shared_blks_hit: s.blksHit,
            shared_blks_read: s.blksRead,
          },
        },
        fix: {
          sql: `-- EXPLAIN (ANALYZE, BUFFERS) the statement: a selective index reads fewer blocks; otherwise the working set exceeds shared_buffers`,
        },
        impact: 'fewer disk reads per call',
      });
    }
  }
  return out;
}
