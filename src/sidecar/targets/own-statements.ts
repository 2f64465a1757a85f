/**
 * Which pg_stat_statements entries are pgpulse's own — the one mechanism every statement metric
 * uses to leave them out (top_queries, slow_statements, vector passive classification, advisors'
 * statement rules all read the statements collector's rows, from which own entries are dropped at
 * collection with isOwnStatement; anything else that reads pg_stat_statements must call it too).
 *
 * The mechanism is the entry's `userid`: pg_stat_statements keys every entry by (userid, dbid,
 * queryid), so an entry whose userid is the role pgpulse connects as (current_user) was executed
 * by that role. An application cannot produce such an entry without pgpulse's credentials, and
 * userid exists and means the same on PostgreSQL 14–18. A text mark alone cannot be trusted: any
 * client can write `/* pgpulse *\/` (and the entry's text is shared by later executions of the
 * same shape), and PostgreSQL 18 strips a *leading* comment from the stored text.
 *
 * Dedicated role (recommended: CREATE ROLE pgpulse LOGIN IN ROLE pg_monitor): every entry of that
 * userid is pgpulse's own and is excluded — probes, EXPLAINs and one-off statements included,
 * marked or not.
 *
 * Shared role (fallback): when the role also runs the application's statements, excluding its
 * whole userid would hide the application. The role counts as shared when it is a superuser, owns
 * relations in the database, or other client sessions whose application_name does not start with
 * "pgpulse" use it (once seen, for the sampler's lifetime; the sampler re-reads this evidence every
 * 10 cycles). Then an entry is pgpulse's own only if it has pgpulse's userid AND
 * its stored text ends with the mark, which the connection pool appends to every statement
 * (a trailing comment survives on 14–18, a leading one not on 18). The mark of any other role is
 * never trusted; only an application logged in as pgpulse's own role could hide a statement, and
 * health and `doctor` say so, naming the fix.
 *
 * Rows are matched on the role name the statements collector resolves from userid in the same
 * statement (rolname is unique), so no extra column is stored.
 */
import type { PoolClient } from 'pg';

/** appended (not prepended: PostgreSQL 18 drops a leading comment) to every statement pgpulse sends */
export const OWN_QUERY_MARK = '/* pgpulse */';

export interface OwnRole {
  /** pg_roles.oid of current_user, as text */
  oid: string;
  name: string;
  /** why the role is considered shared with the application; null = dedicated to pgpulse */
  shared: string | null;
}

/** Columns for the sampler's discovery query: who pgpulse is and what says the role is shared. */
export const OWN_ROLE_SQL = `SELECT r.oid::text AS oid, r.rolname AS name, r.rolsuper AS superuser,
       EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p', 'v', 'm')
                 AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%') AS owns_relations,
       (SELECT count(*) FROM pg_catalog.pg_stat_activity a
        WHERE a.usesysid = r.oid AND a.backend_type = 'client backend' AND a.pid <> pg_catalog.pg_backend_pid()
          AND a.application_name NOT LIKE 'pgpulse%')::int AS other_sessions
FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`;

export interface OwnRoleRow {
  oid: string;
  name: string;
  superuser: boolean;
  owns_relations: boolean;
  other_sessions: number;
}

/** Evidence that the role is shared; `previous` keeps a once-seen reason (sessions come and go). */
export function ownRoleFrom(row: OwnRoleRow, previous?: OwnRole): OwnRole {
  const sticky = previous && previous.oid === row.oid ? previous.shared : null;
  const shared = row.superuser
    ? `${row.name} is a superuser`
    : row.owns_relations
      ? `${row.name} owns tables or views in this database`
      : row.other_sessions > 0
        ? `${row.other_sessions} other client session(s) that are not pgpulse connect as ${row.name}`
        : sticky;
  return { oid: row.oid, name: row.name, shared };
}

/** The health / doctor note for a shared role: the limit of the fallback and the fix. */
export function sharedRoleNote(role: OwnRole): string | null {
  if (!role.shared) {
    return null;
  }
  return (
    `pgpulse connects as role ${role.name}, which is shared with the application (${role.shared}): its own statements are ` +
    `recognised by role + a trailing ${OWN_QUERY_MARK} mark, so an application using the same role can hide a statement from ` +
    `statement metrics with that mark. Give pgpulse a dedicated role: CREATE ROLE pgpulse LOGIN PASSWORD '…' IN ROLE pg_monitor`
  );
}

/**
 * Own-entry test for a statements row. `username` is the entry's userid resolved through
 * pg_roles in the same statement; `markedOwn` holds queryids whose entry of pgpulse's userid
 * carries the mark (only consulted for a shared role).
 */
export function isOwnStatement(
  role: OwnRole | undefined,
  key: { queryid: string; username: string },
  markedOwn: ReadonlySet<string>
): boolean {
  if (!role || key.username !== role.name) {
    return false;
  }
  return role.shared === null || markedOwn.has(key.queryid);
}

/** SQL test (for pg_stat_statements(true) s, $ownOid) that an entry is pgpulse's marked own one */
export function markedOwnPredicate(oidParam: string): string {
  return `(s.userid = ${oidParam}::oid AND right(s.query, ${OWN_QUERY_MARK.length}) = '${OWN_QUERY_MARK}')`;
}

/** Statement text with the mark at its end; a caller's leading mark is moved there. */
export function markSql(text: string): string {
  let t = text.startsWith(OWN_QUERY_MARK) ? text.slice(OWN_QUERY_MARK.length).trimStart() : text;
  if (t.endsWith(OWN_QUERY_MARK)) {
    return t;
  }
  // a trailing ';' would end the statement before the mark (PostgreSQL 18 then drops it)
  t = t.replace(/[\s;]+$/, '');
  return `${t}\n${OWN_QUERY_MARK}`;
}

/** Patch a client once so that every query it sends carries the mark. */
export function markOwnQueries(client: PoolClient | import('pg').Client): void {
  const c = client as PoolClient & { __pgpulseMarked?: boolean };
  if (c.__pgpulseMarked) {
    return;
  }
  c.__pgpulseMarked = true;
  const original = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (config: unknown, ...rest: unknown[]) => {
    if (typeof config === 'string') {
      return original(markSql(config), ...rest);
    }
    if (config && typeof config === 'object' && typeof (config as { text?: unknown }).text === 'string') {
      return original({ ...(config as object), text: markSql((config as { text: string }).text) }, ...rest);
    }
    return original(config, ...rest);
  };
}
