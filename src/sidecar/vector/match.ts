/**
 * Which ANN index a vector query should use, and why it cannot when it cannot. pgvector serves
 * `ORDER BY <key> <op> <const> LIMIT k` only when <key> is exactly the indexed column or
 * expression and <op> is the ordering operator of the index's opclass.
 */
import type { VectorQueryShape } from './classify';
import type { AnnIndex } from './discovery';

export interface IndexMatch {
  /** the index the query can use, if any */
  index: AnnIndex | null;
  /** why it cannot use one (empty when it can) */
  problems: string[];
  /** ANN indexes on the same table (for advice) */
  candidates: AnnIndex[];
}

/** "(embedding::halfvec(3))" and "(embedding)::halfvec(3)" are the same key */
export function normalizeKey(s: string): string {
  // discovery prints pgvector types schema-qualified (pinned search_path): compare without schema
  return s
    .replace(/[()\s"]/g, '')
    .replace(/::[a-z_][a-z0-9_$]*\./gi, '::')
    .toLowerCase();
}

function queryKey(q: VectorQueryShape): string | null {
  return q.expression ?? q.column;
}

export function matchIndex(q: VectorQueryShape, indexes: AnnIndex[]): IndexMatch {
  const candidates = indexes.filter(
    (i) => i.relname === q.table && (q.schema === null || i.schemaname === q.schema) && i.valid
  );
  const problems: string[] = [];
  const key = queryKey(q);
  const sameKey = candidates.filter((i) => key !== null && normalizeKey(i.keySql) === normalizeKey(key));
  const usable = sameKey.filter((i) => i.operator === q.operator);
  const onColumn = candidates.filter((i) => i.column === null || q.column === null || i.column === q.column);
  if (onColumn.length === 0) {
    problems.push(
      `no ANN index on ${q.table ?? '?'}${q.column ? `.${q.column}` : ''}: every query scans and sorts the whole table (CREATE INDEX CONCURRENTLY … USING hnsw (${q.column ?? 'column'} ${opclassFor(q.operator)}))`
    );
  } else if (usable.length === 0) {
    if (sameKey.length > 0) {
      const i = sameKey[0];
      problems.push(
        `operator/opclass mismatch: the query orders by ${q.operator}, index ${i.indexrelname} (${i.opclass}) serves ${i.operator ?? '?'}: use ${i.operator} in the query or build the index with ${opclassFor(q.operator)}`
      );
    } else {
      const i = onColumn[0];
      problems.push(
        `expression mismatch: the query orders by ${key ?? '?'}, index ${i.indexrelname} is on ${i.keySql}: order by exactly the indexed expression`
      );
    }
  }
  if (q.limit === null) {
    problems.push('no LIMIT: pgvector indexes are only used for ORDER BY distance LIMIT k');
  }
  if (q.descending) {
    problems.push('ORDER BY … DESC: ANN indexes only return nearest first (ascending distance)');
  }
  return { index: usable[0] ?? null, problems, candidates };
}

export function opclassFor(op: string): string {
  switch (op) {
    case '<->':
      return 'vector_l2_ops';
    case '<=>':
      return 'vector_cosine_ops';
    case '<#>':
      return 'vector_ip_ops';
    case '<+>':
      return 'vector_l1_ops';
    case '<~>':
      return 'bit_hamming_ops';
    case '<%>':
      return 'bit_jaccard_ops';
    default:
      return 'the matching opclass';
  }
}
