/**
 * Which statements pgpulse may EXPLAIN: one SELECT-like statement (SELECT, VALUES, TABLE, set
 * operations), read with the real PostgreSQL parser. Anything that writes or changes the schema —
 * INSERT/UPDATE/DELETE/MERGE (also hidden in a WITH), SELECT INTO, DDL, utility commands — is
 * refused: planning it is harmless, but the ANALYZE action would run it, and one rule for both is
 * easier to trust.
 */
import { onParserThread } from '../parser-thread';
import { parse } from '../sql-parser';

type Node = Record<string, unknown>;

export type Classification =
  | {
      ok: true;
      params: number;
      locking: boolean;
      /** names of the functions it calls (unqualified) */ functions: string[];
    }
  | { ok: false; kind: string; reason: string };

const WRITES = ['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt'];

function walk(n: unknown, visit: (key: string, value: Node) => void): void {
  if (Array.isArray(n)) {
    n.forEach((x) => walk(x, visit));
  } else if (n && typeof n === 'object') {
    for (const [k, v] of Object.entries(n as Node)) {
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        visit(k, v as Node);
      }
      walk(v, visit);
    }
  }
}

/** the statement kind as PostgreSQL names it: InsertStmt → INSERT, CreateStmt → CREATE … */
function kindOf(stmtKey: string): string {
  const map: Record<string, string> = {
    InsertStmt: 'INSERT',
    UpdateStmt: 'UPDATE',
    DeleteStmt: 'DELETE',
    MergeStmt: 'MERGE',
    SelectStmt: 'SELECT',
    ExplainStmt: 'EXPLAIN',
    CallStmt: 'CALL',
    CopyStmt: 'COPY',
  };
  return (
    map[stmtKey] ??
    stmtKey
      .replace(/Stmt$/, '')
      .replace(/([a-z])([A-Z])/g, '$1 $2')
      .toUpperCase()
  );
}

/** whether pgpulse may EXPLAIN `text`, and why not; read on the parser thread */
export const classifyStatement = onParserThread('plans.classify', async (text: string): Promise<Classification> => {
  let tree: { stmts?: Array<{ stmt?: Node }> };
  try {
    tree = (await parse(text)) as typeof tree;
  } catch (e) {
    return {
      ok: false,
      kind: 'unparsed',
      reason: `the statement text does not parse (${(e as Error).message.slice(0, 120)}); it may be truncated (pg_stat_statements.track_utility texts, or longer than track_activity_query_size)`,
    };
  }
  const stmts = tree.stmts ?? [];
  if (stmts.length !== 1 || !stmts[0].stmt) {
    return {
      ok: false,
      kind: 'multiple',
      reason: `the text holds ${stmts.length} statements; only a single SELECT is explained`,
    };
  }
  const [key] = Object.keys(stmts[0].stmt);
  if (key !== 'SelectStmt') {
    return {
      ok: false,
      kind: kindOf(key),
      reason: `${kindOf(key)} is not a SELECT: pgpulse explains only read-only SELECT statements (DML, DDL and utility commands are refused)`,
    };
  }
  const select = stmts[0].stmt.SelectStmt as Node;
  if (select.intoClause) {
    return {
      ok: false,
      kind: 'SELECT INTO',
      reason: 'SELECT INTO creates a table: pgpulse explains only read-only SELECT statements',
    };
  }
  let writes: string | undefined;
  let params = 0;
  let locking = false;
  const functions = new Set<string>();
  walk(select, (k, v) => {
    if (k === 'FuncCall' && Array.isArray(v.funcname)) {
      const last = (v.funcname as Array<{ String?: { sval?: string } }>).at(-1)?.String?.sval;
      if (last) {
        functions.add(last);
      }
    }
    if (WRITES.includes(k)) {
      writes ??= kindOf(k);
    }
    if (k === 'ParamRef' && typeof v.number === 'number') {
      params = Math.max(params, v.number);
    }
    if (k === 'LockingClause') {
      locking = true;
    }
  });
  if (writes) {
    return {
      ok: false,
      kind: `WITH … ${writes}`,
      reason: `the SELECT holds a data-modifying WITH (${writes}): pgpulse explains only read-only SELECT statements`,
    };
  }
  return { ok: true, params, locking, functions: [...functions].sort() };
});
