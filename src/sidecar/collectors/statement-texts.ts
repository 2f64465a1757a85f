/**
 * Query texts, fetched once per new queryid. Reading pg_stat_statements(true) every cycle is what
 * made other exporters write huge temp files and time out; here the text read happens only when
 * an unseen queryid shows up.
 */
import type { PoolClient } from 'pg';
import { OWN_QUERY_MARK } from './sql-collector';
import type { CollectorResult, TargetContext } from './types';

const known = new WeakMap<TargetContext['store'], Map<string, Set<string>>>();
const own = new WeakMap<TargetContext['store'], Map<string, Set<string>>>();

/** queryids of the statements pgpulse itself runs (their text starts with OWN_QUERY_MARK) */
export function ownQueryIds(ctx: TargetContext): Set<string> {
  let byTarget = own.get(ctx.store);
  if (!byTarget) {
    byTarget = new Map();
    own.set(ctx.store, byTarget);
  }
  let ids = byTarget.get(ctx.target.name);
  if (!ids) {
    ids = new Set([...ctx.store.statementTexts(ctx.target.name)].filter(([, t]) => t.startsWith(OWN_QUERY_MARK.trim())).map(([q]) => q));
    byTarget.set(ctx.target.name, ids);
  }
  return ids;
}

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
    OWN_QUERY_MARK + 'SELECT DISTINCT ON (queryid) queryid::text AS queryid, left(query, 8000) AS text FROM pg_stat_statements(true) WHERE queryid = ANY($1::bigint[])',
    [fresh],
  );
  ctx.store.putStatementTexts(ctx.target.name, res.rows, Date.now());
  const mine = ownQueryIds(ctx);
  for (const r of res.rows) {
    if (r.text.startsWith(OWN_QUERY_MARK.trim())) {
      mine.add(r.queryid);
    }
  }
  for (const q of fresh) {
    seen.add(q);
  }
  return res.rows.length;
}
