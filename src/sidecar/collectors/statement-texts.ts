/**
 * Query texts, fetched once per new queryid. Reading pg_stat_statements(true) every cycle is what
 * made other exporters write huge temp files and time out; here the text read happens only when
 * an unseen queryid shows up.
 */
import type { PoolClient } from 'pg';
import type { CollectorResult, TargetContext } from './types';

const known = new WeakMap<TargetContext['store'], Map<string, Set<string>>>();

export async function fetchNewStatementTexts(db: PoolClient, ctx: TargetContext, result: CollectorResult): Promise<number> {
  let byTarget = known.get(ctx.store);
  if (!byTarget) {
    byTarget = new Map();
    known.set(ctx.store, byTarget);
  }
  let seen = byTarget.get(ctx.target.name);
  if (!seen) {
    seen = ctx.store.knownQueryIds(ctx.target.name);
    byTarget.set(ctx.target.name, seen);
  }
  const fresh = [...new Set(result.rows.map((r) => r.key.queryid).filter((q) => q && !seen.has(q)))];
  if (fresh.length === 0) {
    return 0;
  }
  const res = await db.query<{ queryid: string; text: string }>(
    'SELECT DISTINCT ON (queryid) queryid::text AS queryid, left(query, 8000) AS text FROM pg_stat_statements(true) WHERE queryid = ANY($1::bigint[])',
    [fresh],
  );
  ctx.store.putStatementTexts(ctx.target.name, res.rows, Date.now());
  for (const q of fresh) {
    seen.add(q);
  }
  return res.rows.length;
}
