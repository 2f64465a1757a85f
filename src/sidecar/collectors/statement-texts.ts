/**
 * Query texts, fetched once per new queryid. Reading pg_stat_statements(true) every cycle is what
 * made other exporters write huge temp files and time out; here the text read happens only when
 * an unseen queryid shows up.
 */
import type { PoolClient } from 'pg';
import { isOwnStatement, markedOwnPredicate } from '../targets/own-statements';
import type { SampleRow } from '../store/types';
import { inReadOnlyTx } from '../targets/connection';
import { bindExtensionSchemas } from '../targets/safe-sql';
import type { CollectorResult, TargetContext } from './types';

const known = new WeakMap<TargetContext['store'], Map<string, { dropped: number; ids: Set<string> }>>();
/** shared role only: queryids whose entry of pgpulse's role was looked at, and those that carry the mark */
const ownChecks = new WeakMap<TargetContext['store'], Map<string, { checked: Set<string>; marked: Set<string> }>>();

function perTarget<T>(map: WeakMap<TargetContext['store'], Map<string, T>>, ctx: TargetContext, init: () => T): T {
  let byTarget = map.get(ctx.store);
  if (!byTarget) {
    byTarget = new Map();
    map.set(ctx.store, byTarget);
  }
  let v = byTarget.get(ctx.target.name);
  if (v === undefined) {
    v = init();
    byTarget.set(ctx.target.name, v);
  }
  return v;
}

/**
 * Drop pgpulse's own entries (targets/own-statements). For a shared role, the text of each entry
 * of pgpulse's role is read once, the first time its queryid shows up under that role.
 */
export async function withoutOwnStatements(
  db: PoolClient,
  ctx: TargetContext,
  rows: SampleRow[]
): Promise<SampleRow[]> {
  const role = ctx.ownRole;
  if (!role) {
    return rows;
  }
  const own = perTarget(ownChecks, ctx, () => ({ checked: new Set<string>(), marked: new Set<string>() }));
  if (role.shared) {
    const unchecked = [
      ...new Set(
        rows.filter((r) => r.key.username === role.name && !own.checked.has(r.key.queryid)).map((r) => r.key.queryid)
      ),
    ];
    if (unchecked.length > 0) {
      const res = await db.query<{ queryid: string }>(
        bindExtensionSchemas(
          `SELECT DISTINCT s.queryid::text AS queryid FROM @extschema:pg_stat_statements@.pg_stat_statements(true) s WHERE s.queryid = ANY($2::bigint[]) AND ${markedOwnPredicate('$1')}`,
          ctx.extensionSchemas
        ),
        [role.oid, unchecked]
      );
      for (const r of res.rows) {
        own.marked.add(r.queryid);
      }
      for (const q of unchecked) {
        own.checked.add(q);
      }
    }
  }
  return rows.filter(
    (r) => !isOwnStatement(role, { queryid: r.key.queryid ?? '', username: r.key.username ?? '' }, own.marked)
  );
}

export async function fetchNewStatementTexts(
  db: PoolClient,
  ctx: TargetContext,
  result: CollectorResult
): Promise<number> {
  // retention drops texts of statements not seen for long: one that comes back is fetched again
  const cache = perTarget(known, ctx, () => ({
    dropped: ctx.store.statementTextsDropped,
    ids: ctx.store.knownQueryIds(ctx.target.name),
  }));
  if (cache.dropped !== ctx.store.statementTextsDropped) {
    cache.dropped = ctx.store.statementTextsDropped;
    cache.ids = ctx.store.knownQueryIds(ctx.target.name);
  }
  const seen = cache.ids;
  const fresh = [...new Set(result.rows.map((r) => r.key.queryid).filter((q) => q && !seen.has(q)))];
  if (fresh.length === 0) {
    return 0;
  }
  // the application's text is preferred when pgpulse's role also ran the same shape
  const own = ctx.ownRole ? markedOwnPredicate('$2') : 'false';
  // its own short transaction (pinned search_path), only when there is something to fetch
  const res = await inReadOnlyTx(db, ctx.target.statementTimeoutMs, () =>
    db.query<{ queryid: string; text: string }>(
      bindExtensionSchemas(
        `SELECT s.queryid::text AS queryid, (array_agg(left(s.query, 8000) ORDER BY ${own}))[1] AS text
       FROM @extschema:pg_stat_statements@.pg_stat_statements(true) s WHERE s.queryid = ANY($1::bigint[]) GROUP BY s.queryid`,
        ctx.extensionSchemas
      ),
      ctx.ownRole ? [fresh, ctx.ownRole.oid] : [fresh]
    )
  );
  ctx.store.putStatementTexts(ctx.target.name, res.rows, Date.now());
  for (const q of fresh) {
    seen.add(q);
  }
  return res.rows.length;
}
