/**
 * Statement and index definitions read with the real PostgreSQL parser (libpg-query), never with
 * regular expressions: which tables a statement reads, which columns its predicates compare with
 * a value, and the shapes the heuristics look for.
 */
import { onParserThread } from '../parser-thread';
import { parse } from '../sql-parser';

type Node = Record<string, any>;

export interface RelationRef {
  schema?: string;
  name: string;
  alias?: string;
}

export type PredicateOp = 'eq' | 'range' | 'in' | 'like' | 'ilike' | 'isnull' | 'join';

export interface Predicate {
  /** index into relations, or -1 when the column could not be attributed to one table */
  rel: number;
  column: string;
  op: PredicateOp;
  /** LIKE/ILIKE pattern given as a literal that starts with % or _ */
  leadingWildcard?: boolean;
}

export interface StatementShape {
  kind: 'select' | 'update' | 'delete' | 'insert' | 'other';
  relations: RelationRef[];
  predicates: Predicate[];
  /** top-level SELECT facts */
  orderBy: boolean;
  limit: boolean;
  distinct: boolean;
  /** the FROM clause joins two or more relations */
  join: boolean;
  /** highest $n parameter number */
  params: number;
}

/** Remove parser locations so two trees compare by meaning. */
export function stripLocations(n: unknown): unknown {
  if (Array.isArray(n)) {
    return n.map(stripLocations);
  }
  if (n && typeof n === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(n)) {
      if (k !== 'location' && k !== 'stmt_location' && k !== 'stmt_len') {
        out[k] = stripLocations(v);
      }
    }
    return out;
  }
  return n;
}

/** the one statement of `sql` (null for none, several or a syntax error); parsed on the parser thread */
export const parseOne = onParserThread('parseOne', async (sql: string): Promise<Node | null> => {
  try {
    const tree = await parse(sql);
    const stmts = (tree?.stmts ?? []) as Node[];
    return stmts.length === 1 ? (stmts[0].stmt as Node) : null;
  } catch {
    return null;
  }
});

function strOf(n: Node | undefined): string | undefined {
  return n?.String?.sval;
}

function maxParam(n: unknown): number {
  let m = 0;
  const walk = (x: unknown) => {
    if (Array.isArray(x)) {
      x.forEach(walk);
    } else if (x && typeof x === 'object') {
      const o = x as Node;
      if (o.ParamRef && typeof o.ParamRef.number === 'number') {
        m = Math.max(m, o.ParamRef.number);
      }
      Object.values(o).forEach(walk);
    }
  };
  walk(n);
  return m;
}

function hasColumnRef(n: unknown): boolean {
  if (Array.isArray(n)) {
    return n.some(hasColumnRef);
  }
  if (n && typeof n === 'object') {
    const o = n as Node;
    if (o.ColumnRef || o.SubLink) {
      return true;
    }
    return Object.values(o).some(hasColumnRef);
  }
  return false;
}

/** A plain column reference (possibly cast): [qualifier…, column]. */
function columnOf(n: Node | undefined): string[] | undefined {
  if (!n) {
    return undefined;
  }
  if (n.TypeCast) {
    return columnOf(n.TypeCast.arg);
  }
  if (n.ColumnRef) {
    const parts = (n.ColumnRef.fields as Node[]).map(strOf);
    return parts.every((p) => typeof p === 'string') ? (parts as string[]) : undefined;
  }
  return undefined;
}

function literalString(n: Node | undefined): string | undefined {
  if (!n) {
    return undefined;
  }
  if (n.TypeCast) {
    return literalString(n.TypeCast.arg);
  }
  if (n.A_Const?.sval) {
    return n.A_Const.sval.sval as string;
  }
  // '%' || x: what the pattern starts with is what matters
  if (n.A_Expr && strOf(n.A_Expr.name?.[0]) === '||') {
    return literalString(n.A_Expr.lexpr);
  }
  return undefined;
}

function collectRelations(from: Node[] | undefined, out: RelationRef[]): boolean {
  let join = false;
  for (const item of from ?? []) {
    if (item.RangeVar) {
      const rv = item.RangeVar;
      out.push({ schema: rv.schemaname, name: rv.relname, alias: rv.alias?.aliasname });
    } else if (item.JoinExpr) {
      join = true;
      collectRelations([item.JoinExpr.larg, item.JoinExpr.rarg], out);
    } else if (item.RangeSubselect) {
      join = join || false;
    }
  }
  return join || (from?.length ?? 0) > 1;
}

function joinQuals(from: Node[] | undefined, out: Node[]): void {
  for (const item of from ?? []) {
    if (item.JoinExpr) {
      if (item.JoinExpr.quals) {
        out.push(item.JoinExpr.quals);
      }
      joinQuals([item.JoinExpr.larg, item.JoinExpr.rarg], out);
    }
  }
}

function resolve(parts: string[], rels: RelationRef[]): number {
  if (parts.length === 1) {
    return rels.length === 1 ? 0 : -1;
  }
  const q = parts[parts.length - 2];
  const byAlias = rels.findIndex((r) => r.alias === q);
  if (byAlias >= 0) {
    return byAlias;
  }
  const byName = rels.findIndex(
    (r) => !r.alias && r.name === q && (parts.length < 3 || r.schema === parts[parts.length - 3])
  );
  return byName;
}

const RANGE_OPS = new Set(['<', '>', '<=', '>=']);

function predicatesOf(expr: Node | undefined, rels: RelationRef[], out: Predicate[]): void {
  if (!expr) {
    return;
  }
  if (expr.BoolExpr) {
    // only AND-ed conditions can drive one index scan; OR branches are skipped
    if (expr.BoolExpr.boolop === 'AND_EXPR') {
      for (const a of expr.BoolExpr.args as Node[]) {
        predicatesOf(a, rels, out);
      }
    }
    return;
  }
  if (expr.NullTest) {
    const col = columnOf(expr.NullTest.arg);
    if (col) {
      out.push({ rel: resolve(col, rels), column: col[col.length - 1], op: 'isnull' });
    }
    return;
  }
  const a = expr.A_Expr;
  if (!a) {
    return;
  }
  const op = strOf(a.name?.[0]);
  const l = columnOf(a.lexpr);
  const r = columnOf(a.rexpr);
  const push = (col: string[], kind: PredicateOp, extra: Partial<Predicate> = {}) =>
    out.push({ rel: resolve(col, rels), column: col[col.length - 1], op: kind, ...extra });
  switch (a.kind) {
    case 'AEXPR_OP':
      if (l && r && op === '=') {
        push(l, 'join');
        push(r, 'join');
      } else if (op === '=' || (op !== undefined && RANGE_OPS.has(op))) {
        const kind: PredicateOp = op === '=' ? 'eq' : 'range';
        if (l && !hasColumnRef(a.rexpr)) {
          push(l, kind);
        } else if (r && !hasColumnRef(a.lexpr)) {
          push(r, kind);
        }
      }
      return;
    case 'AEXPR_IN':
      if (l && !hasColumnRef(a.rexpr)) {
        push(l, 'in');
      }
      return;
    case 'AEXPR_BETWEEN':
      if (l) {
        push(l, 'range');
      }
      return;
    case 'AEXPR_LIKE':
    case 'AEXPR_ILIKE':
      if (l && (op === '~~' || op === '~~*')) {
        const pattern = literalString(a.rexpr);
        push(l, a.kind === 'AEXPR_LIKE' ? 'like' : 'ilike', {
          leadingWildcard: pattern !== undefined && /^[%_]/.test(pattern),
        });
      }
      return;
    default:
      return;
  }
}

export function shapeOf(stmt: Node | null): StatementShape {
  const empty: StatementShape = {
    kind: 'other',
    relations: [],
    predicates: [],
    orderBy: false,
    limit: false,
    distinct: false,
    join: false,
    params: 0,
  };
  if (!stmt) {
    return empty;
  }
  const params = maxParam(stmt);
  if (stmt.SelectStmt) {
    let s = stmt.SelectStmt;
    // a UNION: look at its first arm for shape, but keep the outer ORDER BY/LIMIT
    const outer = s;
    while (s.op && s.op !== 'SETOP_NONE' && s.larg) {
      s = s.larg;
    }
    const relations: RelationRef[] = [];
    const join = collectRelations(s.fromClause, relations);
    const predicates: Predicate[] = [];
    predicatesOf(s.whereClause, relations, predicates);
    const quals: Node[] = [];
    joinQuals(s.fromClause, quals);
    for (const q of quals) {
      predicatesOf(q, relations, predicates);
    }
    return {
      kind: 'select',
      relations,
      predicates,
      orderBy: Array.isArray(outer.sortClause) && outer.sortClause.length > 0,
      limit: outer.limitCount !== undefined || outer.limitOption === 'LIMIT_OPTION_WITH_TIES',
      distinct: Array.isArray(s.distinctClause),
      join,
      params,
    };
  }
  if (stmt.UpdateStmt || stmt.DeleteStmt) {
    const u = stmt.UpdateStmt ?? stmt.DeleteStmt;
    const rv = u.relation;
    const relations: RelationRef[] = [{ schema: rv.schemaname, name: rv.relname, alias: rv.alias?.aliasname }];
    collectRelations(stmt.UpdateStmt ? u.fromClause : u.usingClause, relations);
    const predicates: Predicate[] = [];
    predicatesOf(u.whereClause, relations, predicates);
    return { ...empty, kind: stmt.UpdateStmt ? 'update' : 'delete', relations, predicates, params };
  }
  if (stmt.InsertStmt) {
    return { ...empty, kind: 'insert', params };
  }
  return { ...empty, params };
}

/** a statement text's shape, computed on the parser thread (only the shape crosses to the caller) */
export const analyzeStatement = onParserThread(
  'analyzeStatement',
  async (sql: string): Promise<StatementShape> => shapeOf(await parseOne(sql))
);

export interface IndexShape {
  name: string;
  schema?: string;
  table: string;
  method: string;
  unique: boolean;
  /** key columns or expressions, each as a comparable string */
  keys: string[];
  /** plain column names of the keys (null for an expression key) */
  keyColumns: Array<string | null>;
  include: string[];
  /** the WHERE clause, as a comparable string ('' for none) */
  predicate: string;
}

/** CREATE INDEX … as pg_get_indexdef() prints it → its parts (computed on the parser thread). */
export const analyzeIndexDef = onParserThread('analyzeIndexDef', async (def: string): Promise<IndexShape | null> => {
  const stmt = await parseOne(def);
  const ix = stmt?.IndexStmt;
  if (!ix) {
    return null;
  }
  const keys: string[] = [];
  const keyColumns: Array<string | null> = [];
  for (const p of ix.indexParams as Node[]) {
    const e = p.IndexElem;
    const opclass = (e.opclass as Node[] | undefined)?.map(strOf).join('.') ?? '';
    const order = `${e.ordering ?? ''}|${e.nulls_ordering ?? ''}|${opclass}|${JSON.stringify(stripLocations(e.collation ?? null))}`;
    if (e.name) {
      keys.push(`col:${e.name}|${order}`);
      keyColumns.push(e.name);
    } else {
      keys.push(`expr:${JSON.stringify(stripLocations(e.expr))}|${order}`);
      keyColumns.push(null);
    }
  }
  return {
    name: ix.idxname,
    schema: ix.relation?.schemaname,
    table: ix.relation?.relname,
    method: ix.accessMethod ?? 'btree',
    unique: ix.unique === true,
    keys,
    keyColumns,
    include: ((ix.indexIncludingParams ?? []) as Node[]).map((p) => p.IndexElem?.name ?? ''),
    predicate: ix.whereClause ? JSON.stringify(stripLocations(ix.whereClause)) : '',
  };
});

/** Quote an identifier the way PostgreSQL's quote_ident does. */
export function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) && !RESERVED.has(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

export function qualified(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

// the reserved words that commonly turn up as column names
const RESERVED = new Set([
  'all',
  'analyse',
  'analyze',
  'and',
  'any',
  'array',
  'as',
  'asc',
  'both',
  'case',
  'cast',
  'check',
  'collate',
  'column',
  'constraint',
  'create',
  'default',
  'desc',
  'distinct',
  'do',
  'else',
  'end',
  'except',
  'false',
  'for',
  'foreign',
  'from',
  'grant',
  'group',
  'having',
  'in',
  'into',
  'leading',
  'limit',
  'not',
  'null',
  'offset',
  'on',
  'only',
  'or',
  'order',
  'primary',
  'references',
  'select',
  'table',
  'then',
  'to',
  'true',
  'union',
  'unique',
  'user',
  'using',
  'when',
  'where',
  'window',
  'with',
]);
