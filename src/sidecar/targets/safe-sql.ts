/**
 * Statements that a database owner cannot hijack. pgpulse runs as a monitoring role that can read
 * every statement text and server setting; any object it resolves through a search_path that
 * someone else controls ("$user", public, ALTER DATABASE … SET search_path) would run that
 * someone's code with the monitoring role's rights. So:
 *
 * - every transaction pgpulse opens pins `search_path = pg_catalog, pg_temp` with SET LOCAL
 *   (naming pg_temp last stops temporary objects from shadowing catalog relations). SET LOCAL,
 *   not a startup `options=-c search_path=…` nor a session SET: PgBouncer in transaction mode
 *   (Neon's -pooler endpoints) rejects the `options` startup parameter and would hand a session
 *   SET to another client's transaction;
 * - catalog relations are written pg_catalog.x, so a statement is safe even outside a pinned
 *   transaction;
 * - extension objects (pg_stat_statements, hypopg, vector, neon) are not in pg_catalog: their
 *   schema comes from the target's capabilities probe (targets/capabilities.ts) and is written
 *   into the statement (`@extschema:name@`).
 */
export const PIN_SEARCH_PATH = 'SET LOCAL search_path = pg_catalog, pg_temp';

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

const PLACEHOLDER = /@extschema:([a-z_][a-z0-9_]*)@/g;

/**
 * Replace each `@extschema:<extension>@` with the quoted schema of that extension. An extension
 * that is not installed is an error naming it (the collector's unavailable() normally says so first).
 */
export function bindExtensionSchemas(sql: string, schemas: ReadonlyMap<string, string>): string {
  return sql.replace(PLACEHOLDER, (_m, ext: string) => {
    const schema = schemas.get(ext);
    if (schema === undefined) {
      throw Object.assign(new Error(`extension ${ext} is not installed in this database: CREATE EXTENSION ${ext}`), {
        code: '42883',
      });
    }
    return quoteIdent(schema);
  });
}

/** The schema of one extension, looked up in pg_extension (undefined when not installed). */
export async function extensionSchema(
  db: { query: (sql: string, params?: unknown[]) => Promise<{ rows: Array<Record<string, unknown>> }> },
  extname: string
): Promise<string | undefined> {
  const r = await db.query(
    'SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname OPERATOR(pg_catalog.=) $1',
    [extname]
  );
  const s = r.rows[0]?.nspname;
  return typeof s === 'string' ? s : undefined;
}

interface Queryable {
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}
interface PoolLike {
  connect(): Promise<Queryable & { release(): void }>;
}

/**
 * One statement in its own transaction with the search_path pinned: for statements that are not
 * part of a collector's transaction (health, doctor, actions). A Pool lends a client for it.
 */
export async function pinnedQuery<T>(
  db: Queryable | PoolLike,
  sql: string,
  params: unknown[] = [],
  opts: { readOnly?: boolean } = {}
): Promise<{ rows: T[] }> {
  // a pg Pool (it counts its clients); a Client or PoolClient runs the statement itself
  if ('totalCount' in db) {
    const c = await (db as PoolLike).connect();
    try {
      return await pinnedQuery<T>(c, sql, params, opts);
    } finally {
      c.release();
    }
  }
  const c = db as Queryable;
  await c.query(opts.readOnly === false ? 'BEGIN' : 'BEGIN READ ONLY');
  try {
    await c.query(PIN_SEARCH_PATH);
    const r = await c.query(sql, params);
    await c.query('COMMIT');
    return r as { rows: T[] };
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}
