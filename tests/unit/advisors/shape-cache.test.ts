/** The advisor's shape cache: each (queryid, text) and index definition parsed once, unseen entries evicted, size bounded. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ShapeCache } from '../../../src/sidecar/advisors/shape-cache';
import { analyzeIndexDef, analyzeStatement } from '../../../src/sidecar/advisors/sql-analysis';

const Q1 = 'SELECT * FROM public.orders WHERE customer_id = $1';
const Q1_CHANGED = 'SELECT * FROM public.orders WHERE status = $1 ORDER BY id LIMIT $2';
const Q2 = 'UPDATE public.t SET v = $1 WHERE id = $2';
const IX = 'CREATE INDEX t_a ON public.t USING btree (a) WHERE (b > 0)';

describe('ShapeCache', () => {
  it('parses a statement text once per (queryid, text) and answers what the parser answers', async () => {
    const c = new ShapeCache();
    const first = await c.statement('1', Q1);
    const again = await c.statement('1', Q1);
    assert.equal(c.parses, 1);
    assert.equal(again, first);
    assert.deepEqual(first, await analyzeStatement(Q1));
    // the same queryid with another text (a different database or a text that changed) is parsed anew
    assert.deepEqual(await c.statement('1', Q1_CHANGED), await analyzeStatement(Q1_CHANGED));
    assert.equal(c.parses, 2);
    assert.deepEqual(await c.index(IX), await analyzeIndexDef(IX));
    await c.index(IX);
    assert.equal(c.parses, 3);
  });

  it('forgets at the end of an evaluation what that evaluation did not ask for', async () => {
    const c = new ShapeCache();
    await c.statement('1', Q1);
    await c.statement('2', Q2);
    await c.index(IX);
    c.sweep();
    assert.equal(c.size, 3);
    // next evaluation: only statement 2 is still active
    await c.statement('2', Q2);
    c.sweep();
    assert.equal(c.size, 1);
    assert.equal(c.parses, 3);
    await c.statement('1', Q1);
    assert.equal(c.parses, 4, 'an evicted statement is parsed again when it returns');
  });

  it('never holds more than its bound, whatever one evaluation asks for', async () => {
    const c = new ShapeCache(3);
    for (let i = 0; i < 6; i++) {
      await c.statement(String(i), `SELECT ${i} FROM public.t WHERE id = $1`);
    }
    assert.equal(c.size, 3);
    // the newest are kept, the oldest went first
    const before = c.parses;
    await c.statement('5', 'SELECT 5 FROM public.t WHERE id = $1');
    assert.equal(c.parses, before);
    await c.statement('0', 'SELECT 0 FROM public.t WHERE id = $1');
    assert.equal(c.parses, before + 1);
  });
});
