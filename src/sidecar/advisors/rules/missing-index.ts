/**
 * Missing indexes: candidate (table, columns) from the predicates of expensive statements, on
 * tables that are read by sequential scans, then proven — when hypopg is installed — by comparing
 * the planner's cost with and without the hypothetical index.
 */
import type { IndexFacts, StatementFacts, TableFacts } from '../history';
import { qualified, quoteIdent, type IndexShape, type StatementShape } from '../sql-analysis';
import type { AdvisorOptions, Finding } from '../types';

export interface Candidate {
  schema: string;
  table: string;
  columns: string[];
  statements: Array<{ s: StatementFacts; shape: StatementShape }>;
  table_facts: TableFacts;
}

export interface Proof {
  method: 'hypopg' | 'none';
  costBefore?: number;
  costAfter?: number;
  gainPct?: number;
  note?: string;
}

export function findTable(tables: TableFacts[], schema: string | undefined, name: string): TableFacts | undefined {
  const matches = tables.filter((t) => t.present && t.table === name && (!schema || t.schema === schema));
  if (matches.length <= 1) {
    return matches[0];
  }
  // unqualified and ambiguous: what search_path would usually pick
  return matches.find((t) => t.schema === 'public');
}

export function isSeqScanHeavy(t: TableFacts, o: AdvisorOptions): boolean {
  const scans = t.d.seq_scan ?? 0;
  const read = t.d.seq_tup_read ?? 0;
  return scans > 0 && read / scans >= o.seqScanMinRowsPerScan;
}

export function missingIndexCandidates(
  statements: Array<{ s: StatementFacts; shape: StatementShape }>,
  tables: TableFacts[],
  indexes: Array<{ f: IndexFacts; shape: IndexShape | null }>,
  o: AdvisorOptions,
  database: string | undefined
): Candidate[] {
  const out = new Map<string, Candidate>();
  const expensive = statements
    .filter(
      ({ s, shape }) =>
        (!database || s.datname === database) &&
        s.totalMs >= o.expensiveTotalMs &&
        s.calls >= o.minCalls &&
        ['select', 'update', 'delete'].includes(shape.kind)
    )
    .sort((a, b) => b.s.totalMs - a.s.totalMs)
    .slice(0, 50);
  for (const st of expensive) {
    st.shape.relations.forEach((rel, ri) => {
      const t = findTable(tables, rel.schema, rel.name);
      if (!t || !isSeqScanHeavy(t, o)) {
        return;
      }
      const preds = st.shape.predicates.filter((p) => p.rel === ri);
      const eq = [...new Set(preds.filter((p) => p.op === 'eq' || p.op === 'in').map((p) => p.column))].slice(0, 3);
      const range = preds.find((p) => p.op === 'range' && !eq.includes(p.column))?.column;
      const columns = range ? [...eq, range] : eq;
      if (columns.length === 0) {
        return;
      }
      // an existing usable index leading with one of these columns would already be chosen if it helped
      const covered = indexes.some(
        (ix) =>
          ix.f.present &&
          ix.f.schema === t.schema &&
          ix.f.table === t.table &&
          ix.f.info.is_valid !== false &&
          ix.shape &&
          ix.shape.predicate === '' &&
          ix.shape.keyColumns[0] !== null &&
          columns.includes(ix.shape.keyColumns[0] as string)
      );
      if (covered) {
        return;
      }
      const key = `${t.schema}.${t.table}(${columns.join(',')})`;
      const c = out.get(key) ?? { schema: t.schema, table: t.table, columns, statements: [], table_facts: t };
      c.statements.push(st);
      out.set(key, c);
    });
  }
  return [...out.values()];
}

export function indexNameFor(c: { table: string; columns: string[] }): string {
  return `${c.table}_${c.columns.join('_')}_idx`.slice(0, 63);
}

export function createIndexSql(c: { schema: string; table: string; columns: string[] }): string {
  return `CREATE INDEX CONCURRENTLY ${quoteIdent(indexNameFor(c))} ON ${qualified(c.schema, c.table)} (${c.columns.map(quoteIdent).join(', ')});`;
}

export function missingIndexFinding(
  c: Candidate,
  proof: Proof,
  o: AdvisorOptions,
  window: { from: number; to: number; description: string }
): Finding | null {
  if (proof.method === 'hypopg' && (proof.gainPct ?? 0) < o.minGainPct) {
    return null; // the planner would not use it enough to pay for its upkeep
  }
  const t = c.table_facts;
  const top = c.statements[0].s;
  const scans = t.d.seq_scan ?? 0;
  const writes = (t.d.n_tup_ins ?? 0) + (t.d.n_tup_upd ?? 0) + (t.d.n_tup_del ?? 0);
  const totalMs = c.statements.reduce((a, x) => a + x.s.totalMs, 0);
  const proven = proof.method === 'hypopg';
  return {
    id: `missing_index:${c.schema}.${c.table}(${c.columns.join(',')})`,
    rule: 'missing_index',
    severity: proven ? 'warning' : 'info',
    category: 'indexes',
    object: `${c.schema}.${c.table}`,
    title: proven
      ? `Index on ${c.schema}.${c.table} (${c.columns.join(', ')}) cuts the planner cost of queryid ${top.queryid} by ${proof.gainPct?.toFixed(0)}% (hypopg)`
      : `${c.schema}.${c.table} is read by sequential scans for predicates on (${c.columns.join(', ')}); an index is likely to help (${proof.note ?? 'not proven: hypopg unavailable'})`,
    evidence: {
      values: {
        seq_scans: scans,
        seq_rows_per_scan: scans > 0 ? Math.round((t.d.seq_tup_read ?? 0) / scans) : null,
        live_rows: t.g.n_live_tup ?? null,
        statements: c.statements.map((x) => x.s.queryid).join(','),
        statement_total_ms: Math.round(totalMs),
        statement_calls: c.statements.reduce((a, x) => a + x.s.calls, 0),
        cost_before: proof.costBefore ?? null,
        cost_after: proof.costAfter ?? null,
        gain_pct: proof.gainPct !== undefined ? Number(proof.gainPct.toFixed(1)) : null,
        writes_in_window: writes,
      },
      window,
    },
    fix: {
      sql: createIndexSql(c),
      action: 'create_index',
      caveat: `every INSERT, and UPDATE of an indexed column, also writes this index (${writes} row writes on the table in the window); CONCURRENTLY avoids blocking writes but takes longer and leaves an invalid index if it fails`,
    },
    impact: proven
      ? `planner cost of the statement ${proof.costBefore?.toFixed(0)} → ${proof.costAfter?.toFixed(0)} (−${proof.gainPct?.toFixed(0)}%); ${Math.round(totalMs)} ms of execution in the window come from the statements it serves`
      : `the statements it serves used ${Math.round(totalMs)} ms in the window, mostly reading the whole table`,
    proof,
  };
}

/** Regex metacharacters escaped, for a PostgreSQL ~* pattern. */
const regexLiteral = (s: string) => s.replace(/[\\.^$|?*+()[\]{}]/g, '\\$&');

/**
 * How to find the statements that scan a table. The ones pgpulse parsed and attributed to it, by
 * queryid, when there are any; else a whole-word match of the name — never `ILIKE '%t%'`, which
 * for a short name matches almost every statement.
 */
export function scanningStatementsSql(
  t: { schema: string; table: string },
  queryids: string[]
): { sql: string; caveat?: string } {
  if (queryids.length > 0) {
    return {
      sql: `-- the statements that read it (parsed by pgpulse), then EXPLAIN them\nSELECT queryid, calls, mean_exec_time, query FROM pg_stat_statements WHERE queryid IN (${queryids.slice(0, 20).join(', ')}) ORDER BY total_exec_time DESC;`,
    };
  }
  // \m and \M anchor at word characters only: a name that starts or ends otherwise is matched as is
  const word = `${/^\w/.test(t.table) ? '\\m' : ''}${regexLiteral(t.table)}${/\w$/.test(t.table) ? '\\M' : ''}`.replace(
    /'/g,
    "''"
  );
  return {
    sql: `-- find the statements that scan it (the table's name as a whole word), then EXPLAIN them\nSELECT queryid, calls, mean_exec_time, query FROM pg_stat_statements WHERE query ~* '${word}' ORDER BY total_exec_time DESC LIMIT 10;`,
    caveat:
      t.table.length <= 3
        ? `"${t.table}" is a short name: the pattern also matches statements that use it as an alias or column; check each statement's FROM clause`
        : undefined,
  };
}

export function seqScanHeavyFindings(
  tables: TableFacts[],
  withCandidate: Set<string>,
  o: AdvisorOptions,
  window: { from: number; to: number; description: string },
  statements: Array<{ s: StatementFacts; shape: StatementShape }> = []
): Finding[] {
  const readers = (t: TableFacts) =>
    statements
      .filter(({ shape }) =>
        shape.relations.some(
          (r) => r.name === t.table && (!r.schema || r.schema === t.schema) && findTable(tables, r.schema, r.name) === t
        )
      )
      .map(({ s }) => s.queryid);
  return tables
    .filter(
      (t) =>
        t.present &&
        isSeqScanHeavy(t, o) &&
        (t.d.seq_scan ?? 0) >= o.minCalls &&
        (t.g.n_live_tup ?? 0) >= o.seqScanMinRowsPerScan &&
        !withCandidate.has(`${t.schema}.${t.table}`)
    )
    .map((t) => {
      const scans = t.d.seq_scan ?? 0;
      return {
        id: `seq_scan_heavy:${t.schema}.${t.table}`,
        rule: 'seq_scan_heavy',
        severity: 'info' as const,
        category: 'indexes' as const,
        object: `${t.schema}.${t.table}`,
        title: `${t.schema}.${t.table} had ${scans} sequential scans reading ${Math.round((t.d.seq_tup_read ?? 0) / scans)} rows each`,
        evidence: {
          values: {
            seq_scans: scans,
            seq_tup_read: t.d.seq_tup_read ?? 0,
            idx_scans: t.d.idx_scan ?? 0,
            live_rows: t.g.n_live_tup ?? null,
          },
          window,
        },
        fix: scanningStatementsSql(t, readers(t)),
        impact: 'an index for the filtering predicate turns full-table reads into a few page reads',
      };
    });
}
