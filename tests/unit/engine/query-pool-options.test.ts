/**
 * The query pool's times go to setTimeout, which takes at most 2^31 − 1 ms: Node runs a longer one
 * after 1 ms. A long idle time meant as "keep the worker" would then end it after every request, a
 * long wait refuse every queued request at once; so a value past the limit is refused at start.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { queryPoolOptions } from '../../../src/sidecar/engine/query-pool';

const LONGEST = 2 ** 31 - 1;

test('Node runs a timer longer than 2^31 − 1 ms at once (why the query pool bounds its times)', async () => {
  const warned = new Promise<string>((resolve) => process.once('warning', (w) => resolve(w.name)));
  const first = await Promise.race([
    new Promise((resolve) => setTimeout(() => resolve('past the limit'), LONGEST + 1).unref()),
    new Promise((resolve) => setTimeout(() => resolve('50 ms'), 50).unref()),
  ]);
  assert.equal(first, 'past the limit');
  assert.equal(await warned, 'TimeoutOverflowWarning');
});

test('query pool times past the longest timer are refused, naming the variable and the bound', () => {
  for (const name of ['PGPULSE_QUERY_WORKER_IDLE_MS', 'PGPULSE_QUERY_MAX_WAIT_MS', 'PGPULSE_QUERY_MAX_MS']) {
    assert.throws(
      () => queryPoolOptions({ [name]: String(LONGEST + 1) }),
      (e: Error) => e.message.includes(name) && /at most \d+/.test(e.message),
      name
    );
  }
  // the longest that still works is taken as it is
  assert.equal(queryPoolOptions({ PGPULSE_QUERY_WORKER_IDLE_MS: String(LONGEST) }).idleMs, LONGEST);
  assert.equal(queryPoolOptions({ PGPULSE_QUERY_MAX_WAIT_MS: String(LONGEST) }).maxWaitMs, LONGEST);
  // a query is ended at twice its budget plus 5 s: that must fit a timer too
  const maxMs = queryPoolOptions({ PGPULSE_QUERY_MAX_MS: String((LONGEST - 5000) >> 1) }).budget.maxMs;
  assert.ok(maxMs * 2 + 5000 <= LONGEST);
});
