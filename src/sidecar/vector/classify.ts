/**
 * Which pg_stat_statements entries are vector queries, read with the real Postgres parser
 * (libpg-query): a SELECT whose ORDER BY uses a pgvector distance operator. Regexes would be
 * fooled by comments, strings and CTEs; the parse tree is not.
 */
import { onParserThread } from '../parser-thread';
import { loadParser as loadSqlParser, parseSync } from '../sql-parser';

/** pgvector distance operators and what they measure. */
export const DISTANCE_OPERATORS: Record<string, string> = {
  '<->': 'L2 distance',
  '<#>': 'negative inner product',
  '<=>': 'cosine distance',
  '<+>': 'L1 distance',
  '<~>': 'Hamming distance',
  '<%>': 'Jaccard distance',
};

export interface VectorQueryShape {
  operator: string;
  /** the table the ORDER BY column belongs to (schema-qualified when the query says so) */
  table: string | null;
  schema: string | null;
  /** the column the distance is taken on, and the expression when it is not a bare column */
  column: string | null;
  /** e.g. "(embedding)::halfvec(3)" when the query orders by a cast of the column */
  expression: string | null;
  /** the cast target type of the ordered expression, if any (halfvec, bit, sparsevec …) */
  castType: string | null;
  /** LIMIT: a number when literal, 'param' when normalized to $n by pg_stat_statements, null when absent */
  limit: number | 'param' | null;
  hasFilter: boolean;
  /** columns referenced in WHERE */
  filterColumns: string[];
  /** sort direction DESC (pgvector indexes only serve ascending distance) */
  descending: boolean;
  /** one plain SELECT statement: safe to hand to EXPLAIN (never a multi-statement string) */
  explainable: boolean;
}

/** libpg-query is WebAssembly: load it once before the synchronous classifier is used. */
export async function loadParser(): Promise<void> {
  await loadSqlParser();
}

type Node = Record<string, any>;

function colName(ref: Node): { rel: string | null; col: string } | null {
  const fields = (ref.fields ?? []).map((f: Node) => f.String?.sval).filter((x: unknown) => typeof x === 'string');
  if (fields.length === 0) {
    return null;
  }
  return { rel: fields.length > 1 ? fields[fields.length - 2] : null, col: fields[fields.length - 1] };
}

/** the column under casts / parentheses, and a readable form of the expression */
function unwrap(n: Node): {
  ref: { rel: string | null; col: string } | null;
  expr: string | null;
  cast: string | null;
} {
  if (n.ColumnRef) {
    return { ref: colName(n.ColumnRef), expr: null, cast: null };
  }
  if (n.TypeCast) {
    const inner = unwrap(n.TypeCast.arg);
    const names = (n.TypeCast.typeName?.names ?? [])
      .map((x: Node) => x.String?.sval)
      .filter((x: string) => x && x !== 'pg_catalog');
    const type = names.join('.');
    const mods = (n.TypeCast.typeName?.typmods ?? []).map((m: Node) => m.A_Const?.ival?.ival ?? '?');
    const typeText = mods.length ? `${type}(${mods.join(',')})` : type;
    const innerText = inner.expr ?? (inner.ref ? `(${inner.ref.col})` : '?');
    return { ref: inner.ref, expr: `${innerText}::${typeText}`, cast: type };
  }
  return { ref: null, expr: null, cast: null };
}

function collectColumns(n: unknown, out: Set<string>): void {
  if (Array.isArray(n)) {
    n.forEach((x) => collectColumns(x, out));
  } else if (n && typeof n === 'object') {
    const o = n as Node;
    if (o.ColumnRef) {
      const c = colName(o.ColumnRef);
      if (c) {
        out.add(c.col);
      }
      return;
    }
    for (const v of Object.values(o)) {
      collectColumns(v, out);
    }
  }
}

/** tables in FROM, through joins */
function rangeVars(items: Node[], out: Node[] = []): Node[] {
  for (const f of items) {
    if (f?.RangeVar) {
      out.push(f.RangeVar);
    } else if (f?.JoinExpr) {
      rangeVars([f.JoinExpr.larg, f.JoinExpr.rarg], out);
    }
  }
  return out;
}

/** Every SELECT with an ORDER BY: the statement itself, its CTEs, subqueries in FROM, set operations. */
function selectsWithOrder(stmt: Node | undefined, out: Node[] = []): Node[] {
  if (!stmt) {
    return out;
  }
  if (stmt.ExplainStmt) {
    return selectsWithOrder(stmt.ExplainStmt.query, out);
  }
  const s = stmt.SelectStmt;
  if (!s) {
    return out;
  }
  if (s.sortClause) {
    out.push(s);
  }
  // a vector search wrapped in a CTE, a subquery in FROM (re-ranking) or a UNION still counts
  for (const cte of s.withClause?.ctes ?? []) {
    selectsWithOrder(cte.CommonTableExpr?.ctequery, out);
  }
  for (const f of s.fromClause ?? []) {
    selectsWithOrder(f.RangeSubselect?.subquery, out);
  }
  selectsWithOrder(s.larg ? { SelectStmt: s.larg } : undefined, out);
  selectsWithOrder(s.rarg ? { SelectStmt: s.rarg } : undefined, out);
  return out;
}

/** Cheap pre-check before parsing: a vector search needs one of pgvector's distance operators. */
export function mayBeVectorQuery(text: string): boolean {
  return /<->|<#>|<=>|<\+>|<~>|<%>/.test(text);
}

/** Classify one statement text; null when it is not a vector query (or does not parse). */
export function classifyStatement(text: string): VectorQueryShape | null {
  let tree: Node;
  try {
    tree = parseSync(text);
  } catch {
    return null; // truncated texts (track_activity_query_size) or other dialects: not classifiable
  }
  for (const s of tree.stmts ?? []) {
    for (const sel of selectsWithOrder(s.stmt)) {
      for (const sb of sel.sortClause ?? []) {
        const node = sb.SortBy?.node;
        const ax = node?.A_Expr;
        const op = ax?.kind === 'AEXPR_OP' ? ax.name?.[ax.name.length - 1]?.String?.sval : undefined;
        if (!op || !(op in DISTANCE_OPERATORS)) {
          continue;
        }
        // the column side is the one that is not a parameter / constant
        let side = unwrap(ax.lexpr);
        if (!side.ref) {
          side = unwrap(ax.rexpr);
        }
        const from = rangeVars(sel.fromClause ?? []);
        let rv: Node | undefined = from[0];
        if (side.ref?.rel) {
          rv = from.find((r) => r.alias?.aliasname === side.ref?.rel || r.relname === side.ref?.rel) ?? rv;
        }
        const filters = new Set<string>();
        if (sel.whereClause) {
          collectColumns(sel.whereClause, filters);
        }
        let limit: VectorQueryShape['limit'] = null;
        const lc = sel.limitCount;
        if (lc?.A_Const) {
          limit = lc.A_Const.ival?.ival ?? (lc.A_Const.isnull ? null : 0);
        } else if (lc) {
          limit = 'param';
        }
        return {
          operator: op,
          table: rv?.relname ?? null,
          schema: rv?.schemaname ?? null,
          column: side.ref?.col ?? null,
          expression: side.expr,
          castType: side.cast,
          limit,
          hasFilter: filters.size > 0,
          filterColumns: [...filters].sort(),
          descending: sb.SortBy.sortby_dir === 'SORTBY_DESC',
          explainable: (tree.stmts ?? []).length === 1 && Boolean(s.stmt?.SelectStmt),
        };
      }
    }
  }
  return null;
}

/** The access method of a CREATE INDEX statement (hnsw, ivfflat, btree …), or null. */
export function accessMethodOf(text: string): string | null {
  try {
    for (const s of parseSync(text).stmts ?? []) {
      const ix = s.stmt?.IndexStmt;
      if (ix) {
        return ix.accessMethod ?? 'btree';
      }
    }
  } catch {
    /* not a statement we can read */
  }
  return null;
}

/** classifyStatement of each text (null for those that are not vector queries), on the parser thread */
export const classifyStatements = onParserThread(
  'vector.classify',
  async (texts: string[]): Promise<Array<VectorQueryShape | null>> => {
    await loadSqlParser();
    return texts.map(classifyStatement);
  }
);

/** accessMethodOf on the parser thread */
export const accessMethodOfText = onParserThread(
  'vector.accessMethod',
  async (text: string): Promise<string | null> => {
    await loadSqlParser();
    return accessMethodOf(text);
  }
);
