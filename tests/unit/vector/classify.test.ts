/**
 * The classifier on real pgvector SQL (the pgvector README's query forms, as pg_stat_statements
 * normalizes them) and on texts a regex would misread.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { accessMethodOf, classifyStatement, loadParser } from '../../../src/sidecar/vector/classify';

before(loadParser);

test('the six distance operators, k from a literal LIMIT, $n LIMIT as param', () => {
  for (const op of ['<->', '<#>', '<=>', '<+>', '<~>', '<%>']) {
    const s = classifyStatement(`SELECT * FROM items ORDER BY embedding ${op} '[3,1,2]' LIMIT 5`);
    assert.equal(s?.operator, op);
    assert.equal(s?.limit, 5);
    assert.equal(s?.table, 'items');
    assert.equal(s?.column, 'embedding');
    assert.equal(s?.hasFilter, false);
  }
  assert.equal(classifyStatement('SELECT * FROM items ORDER BY embedding <-> $1 LIMIT $2')?.limit, 'param');
});

test('README forms: filters, distance in the select list, subquery by id, casts, re-ranking in a CTE', () => {
  const f = classifyStatement('SELECT * FROM items WHERE category_id = $1 ORDER BY embedding <-> $2 LIMIT $3');
  assert.deepEqual([f?.hasFilter, f?.filterColumns], [true, ['category_id']]);
  const byId = classifyStatement(
    'SELECT * FROM items WHERE id != $1 ORDER BY embedding <-> (SELECT embedding FROM items WHERE id = $2) LIMIT $3'
  );
  assert.equal(byId?.operator, '<->');
  assert.equal(byId?.column, 'embedding');
  const neg = classifyStatement(
    'SELECT (embedding <#> $1) * $2 AS inner_product FROM items ORDER BY embedding <#> $3 LIMIT $4'
  );
  assert.equal(neg?.operator, '<#>');
  const half = classifyStatement('SELECT * FROM items ORDER BY embedding::halfvec(3) <-> $1 LIMIT $2');
  assert.equal(half?.expression, '(embedding)::halfvec(3)');
  assert.equal(half?.castType, 'halfvec');
  const bin = classifyStatement(
    'SELECT * FROM items ORDER BY binary_quantize(embedding)::bit(3) <~> binary_quantize($1) LIMIT $2'
  );
  assert.equal(bin?.operator, '<~>');
  const cte = classifyStatement(
    'WITH c AS (SELECT id, embedding FROM docs d WHERE d.tenant = $1 ORDER BY d.embedding <=> $2 LIMIT $3) SELECT id FROM c ORDER BY id'
  );
  assert.deepEqual(
    [cte?.operator, cte?.table, cte?.column, cte?.filterColumns],
    ['<=>', 'docs', 'embedding', ['tenant']]
  );
  const q = classifyStatement(
    'SELECT i.id FROM public.items i JOIN cats c ON c.id = i.cat ORDER BY i.embedding <-> $1 LIMIT $2'
  );
  assert.deepEqual([q?.schema, q?.table], ['public', 'items']);
  const noLimit = classifyStatement('SELECT * FROM items ORDER BY embedding <-> $1');
  assert.equal(noLimit?.limit, null);
  assert.equal(classifyStatement('SELECT * FROM items ORDER BY embedding <-> $1 DESC LIMIT 3')?.descending, true);
});

test('only a single plain SELECT is handed to EXPLAIN', () => {
  assert.equal(classifyStatement('SELECT id FROM items ORDER BY embedding <-> $1 LIMIT $2')?.explainable, true);
  assert.equal(
    classifyStatement('SELECT id FROM items ORDER BY embedding <-> $1 LIMIT $2; DELETE FROM items')?.explainable,
    false
  );
  assert.equal(
    classifyStatement('EXPLAIN ANALYZE SELECT id FROM items ORDER BY embedding <-> $1 LIMIT $2')?.explainable,
    false
  );
});

test('not vector queries: plain ORDER BY, operators in strings or comments, DML, garbage', () => {
  assert.equal(classifyStatement('SELECT * FROM items ORDER BY id LIMIT 5'), null);
  assert.equal(classifyStatement("SELECT '<->' AS x FROM items ORDER BY x -- ORDER BY embedding <-> '[1]'"), null);
  assert.equal(
    classifyStatement('SELECT embedding <-> $1 FROM items'),
    null,
    'a distance without ORDER BY is not a search'
  );
  assert.equal(classifyStatement('INSERT INTO items (embedding) VALUES ($1)'), null);
  assert.equal(classifyStatement('SELECT * FROM items ORDER BY embedding <-> '), null, 'truncated texts do not parse');
});

test('access method of CREATE INDEX statements', () => {
  assert.equal(
    accessMethodOf('CREATE INDEX CONCURRENTLY ON items USING hnsw (embedding vector_l2_ops) WITH (m = 16)'),
    'hnsw'
  );
  assert.equal(
    accessMethodOf('CREATE INDEX ON items USING ivfflat (embedding vector_cosine_ops) WITH (lists = 100)'),
    'ivfflat'
  );
  assert.equal(accessMethodOf('CREATE INDEX ON items (id)'), 'btree');
  assert.equal(accessMethodOf('VACUUM items'), null);
});
