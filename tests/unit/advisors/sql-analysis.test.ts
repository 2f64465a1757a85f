/** The statement and index-definition reader, on crafted SQL parsed by the real PostgreSQL parser. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyzeIndexDef, analyzeStatement, quoteIdent } from '../../../src/sidecar/advisors/sql-analysis';

describe('analyzeStatement', () => {
  it('attributes predicates to tables through aliases and classifies them', async () => {
    const s = await analyzeStatement(
      'SELECT o.* FROM shop.orders o JOIN customers c ON c.id = o.customer_id WHERE o.status = $1 AND o.created_at >= $2 AND c.region IN ($3, $4)'
    );
    assert.equal(s.kind, 'select');
    assert.deepEqual(s.relations, [
      { schema: 'shop', name: 'orders', alias: 'o' },
      { schema: undefined, name: 'customers', alias: 'c' },
    ]);
    const preds = s.predicates.map((p) => `${p.rel}:${p.column}:${p.op}`).sort();
    assert.deepEqual(
      preds,
      ['0:created_at:range', '0:customer_id:join', '0:status:eq', '1:id:join', '1:region:in'].sort()
    );
    assert.equal(s.join, true);
    assert.equal(s.params, 4);
  });

  it('skips OR branches and comparisons between two columns of one side', async () => {
    const s = await analyzeStatement('SELECT * FROM t WHERE (a = 1 OR b = 2) AND c = d + 1 AND e BETWEEN 1 AND 5');
    assert.deepEqual(
      s.predicates.map((p) => `${p.column}:${p.op}`),
      ['e:range']
    );
  });

  it('sees a leading wildcard in LIKE/ILIKE literals, including a concatenation that starts with %', async () => {
    const a = await analyzeStatement("SELECT * FROM users WHERE email ILIKE '%@example.com'");
    assert.deepEqual(a.predicates, [{ rel: 0, column: 'email', op: 'ilike', leadingWildcard: true }]);
    const b = await analyzeStatement("SELECT * FROM users WHERE name LIKE 'abc%'");
    assert.equal(b.predicates[0].leadingWildcard, false);
    const c = await analyzeStatement("SELECT * FROM users WHERE name LIKE '%' || $1 || '%'");
    assert.equal(c.predicates[0].leadingWildcard, true);
    const d = await analyzeStatement('SELECT * FROM users WHERE name LIKE $1');
    assert.equal(d.predicates[0].leadingWildcard, false, 'a parameter may or may not start with %: not claimed');
  });

  it('reports ORDER BY, LIMIT and DISTINCT of the top-level query', async () => {
    const s = await analyzeStatement('SELECT DISTINCT a.x FROM a JOIN b ON a.id = b.a_id ORDER BY a.x');
    assert.equal(s.orderBy, true);
    assert.equal(s.limit, false);
    assert.equal(s.distinct, true);
    const l = await analyzeStatement('SELECT x FROM a ORDER BY x LIMIT $1');
    assert.equal(l.limit, true);
    const u = await analyzeStatement('SELECT x FROM a UNION SELECT x FROM b ORDER BY 1 LIMIT 5');
    assert.equal(u.orderBy, true);
    assert.equal(u.limit, true);
  });

  it('reads UPDATE and DELETE predicates, and gives up quietly on what it cannot parse', async () => {
    const u = await analyzeStatement('UPDATE accounts SET balance = balance - $1 WHERE id = $2');
    assert.equal(u.kind, 'update');
    assert.deepEqual(u.predicates, [{ rel: 0, column: 'id', op: 'eq' }]);
    const d = await analyzeStatement('DELETE FROM sessions s WHERE s.expires_at < now()');
    assert.deepEqual(d.predicates, [{ rel: 0, column: 'expires_at', op: 'range' }]);
    const bad = await analyzeStatement('SELEC nope');
    assert.equal(bad.kind, 'other');
    const two = await analyzeStatement('SELECT 1; SELECT 2');
    assert.equal(two.kind, 'other', 'two statements are never analysed as one');
  });
});

describe('analyzeIndexDef', () => {
  it('splits pg_get_indexdef output into comparable parts', async () => {
    const a = await analyzeIndexDef(
      'CREATE UNIQUE INDEX a_b ON public.t USING btree (a, lower(b) DESC) INCLUDE (c) WHERE (d > 0)'
    );
    assert.ok(a);
    assert.equal(a.unique, true);
    assert.equal(a.method, 'btree');
    assert.deepEqual(a.keyColumns, ['a', null]);
    assert.deepEqual(a.include, ['c']);
    assert.notEqual(a.predicate, '');
    const b = await analyzeIndexDef(
      'CREATE INDEX other_name ON public.t USING btree (a, lower(b) DESC) INCLUDE (c) WHERE (d > 0)'
    );
    assert.deepEqual(b?.keys, a.keys, 'names and UNIQUE do not change the key signature');
    assert.equal(b?.predicate, a.predicate);
    const c = await analyzeIndexDef('CREATE INDEX x ON public.t USING btree (a, lower(b)) WHERE (d > 1)');
    assert.notDeepEqual(c?.keys, a.keys, 'sort order is part of the key');
    assert.notEqual(c?.predicate, a.predicate);
  });
});

describe('quoteIdent', () => {
  it('quotes what PostgreSQL would need quoted', () => {
    assert.equal(quoteIdent('orders'), 'orders');
    assert.equal(quoteIdent('Orders'), '"Orders"');
    assert.equal(quoteIdent('order'), '"order"');
    assert.equal(quoteIdent('a"b'), '"a""b"');
  });
});
