/** Statement heuristics on crafted statements and crafted interval statistics. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StatementFacts } from '../../../src/sidecar/advisors/history';
import { statementHeuristics } from '../../../src/sidecar/advisors/rules/statements';
import { analyzeStatement } from '../../../src/sidecar/advisors/sql-analysis';
import { defaultAdvisorOptions } from '../../../src/sidecar/advisors/types';

const W = { from: 0, to: 3_600_000, description: 'test window' };

function stmt(text: string, over: Partial<StatementFacts> = {}): StatementFacts {
  return {
    queryid: '42',
    datname: 'app',
    username: 'app',
    text,
    calls: 100,
    totalMs: 5000,
    rows: 100,
    blksHit: 100,
    blksRead: 0,
    tempBlksWritten: 0,
    ...over,
  };
}

async function rules(text: string, over: Partial<StatementFacts> = {}) {
  const s = stmt(text, over);
  return statementHeuristics(s, await analyzeStatement(text), defaultAdvisorOptions, W, (schema, name) => ({
    schema: schema ?? 'public',
    table: name,
  }));
}

describe('statement heuristics', () => {
  it('leading-wildcard LIKE → a pg_trgm GIN index on that column of that table', async () => {
    const f = await rules("SELECT id FROM customers c WHERE c.email LIKE '%@gmail.com' AND c.active");
    const hit = f.find((x) => x.rule === 'leading_wildcard');
    assert.ok(hit);
    assert.equal(hit.severity, 'warning', 'the statement is costly (5 s in the window)');
    assert.equal(
      hit.fix.sql,
      'CREATE EXTENSION IF NOT EXISTS pg_trgm;\nCREATE INDEX CONCURRENTLY ON public.customers USING gin (email gin_trgm_ops);'
    );
    assert.equal(
      (await rules("SELECT id FROM customers WHERE email LIKE 'bob%'")).filter((x) => x.rule === 'leading_wildcard')
        .length,
      0
    );
  });

  it('ORDER BY without LIMIT only when many rows per call come back', async () => {
    const many = await rules('SELECT * FROM events ORDER BY ts', { calls: 10, rows: 50_000 });
    assert.equal(many.filter((x) => x.rule === 'order_without_limit').length, 1);
    assert.equal(many[0].evidence.values.rows_per_call, 5000);
    const few = await rules('SELECT * FROM events ORDER BY ts', { calls: 10, rows: 100 });
    assert.equal(few.filter((x) => x.rule === 'order_without_limit').length, 0);
    const limited = await rules('SELECT * FROM events ORDER BY ts LIMIT 10', { calls: 10, rows: 50_000 });
    assert.equal(limited.filter((x) => x.rule === 'order_without_limit').length, 0);
  });

  it('DISTINCT with a JOIN, not DISTINCT alone', async () => {
    assert.equal(
      (await rules('SELECT DISTINCT c.id FROM customers c JOIN orders o ON o.customer_id = c.id')).filter(
        (x) => x.rule === 'distinct_join'
      ).length,
      1
    );
    assert.equal(
      (await rules('SELECT DISTINCT c.id FROM customers c, orders o WHERE o.customer_id = c.id')).filter(
        (x) => x.rule === 'distinct_join'
      ).length,
      1
    );
    assert.equal(
      (await rules('SELECT DISTINCT region FROM customers')).filter((x) => x.rule === 'distinct_join').length,
      0
    );
  });

  it('low hit ratio per statement, above a floor of blocks', async () => {
    const low = await rules('SELECT * FROM big WHERE x = $1', { blksHit: 6000, blksRead: 14_000 });
    const f = low.find((x) => x.rule === 'statement_hit_ratio');
    assert.ok(f);
    assert.equal(f.evidence.values.hit_ratio, 0.3);
    assert.equal(
      (await rules('SELECT * FROM big WHERE x = $1', { blksHit: 60, blksRead: 140 })).filter(
        (x) => x.rule === 'statement_hit_ratio'
      ).length,
      0,
      'too few blocks to judge'
    );
  });

  it('ids are stable: the same statement gives the same finding ids', async () => {
    const a = await rules(
      "SELECT DISTINCT c.id FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.name LIKE '%x'"
    );
    const b = await rules(
      "SELECT DISTINCT c.id FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.name LIKE '%x'"
    );
    assert.deepEqual(
      a.map((x) => x.id),
      b.map((x) => x.id)
    );
    assert.deepEqual(a.map((x) => x.id).sort(), ['distinct_join:42', 'leading_wildcard:42:name']);
  });
});
