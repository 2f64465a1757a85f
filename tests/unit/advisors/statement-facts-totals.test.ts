/**
 * Statement facts come from the store's running totals (two lookups per series) and, in lifetime
 * mode, from the newest samples, instead of a walk over every stored point: the advisor must reach the same findings both ways, also across a
 * statistics reset inside the window (where a plain last − first would be wrong).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { evaluateFindings, gatherEvidence } from '../../../src/sidecar/advisors/evaluate';
import { statementFacts } from '../../../src/sidecar/advisors/history';
import { Store } from '../../../src/sidecar/store/store';

const COUNTERS = ['calls', 'total_exec_time', 'rows', 'shared_blks_hit', 'shared_blks_read', 'temp_blks_written'];
const TEXTS: Record<string, string> = {
  '101': "SELECT * FROM public.customers WHERE name LIKE '%son'",
  '102': 'SELECT * FROM public.orders ORDER BY created_at',
  '103': 'SELECT id FROM public.events WHERE kind = $1',
};

test('statement facts and findings from running totals equal the point walk, across a statistics reset', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-stmt-totals-'));
  const store = Store.open(dir);
  try {
    const t0 = 1_700_000_000_000;
    const step = 60_000;
    const n = 150; // 2.5 h at 1 min: past the first-run switch to lifetime counters
    const v = new Map(Object.keys(TEXTS).map((q) => [q, Object.fromEntries(COUNTERS.map((c) => [c, 0]))]));
    let epoch = 1;
    for (let i = 0; i < n; i++) {
      if (i === 90) {
        // pg_stat_statements_reset(): every counter restarts from zero under a new epoch
        epoch = 2;
        for (const c of v.values()) {
          for (const k of COUNTERS) {
            c[k] = 0;
          }
        }
      }
      const rows = [...v.entries()].map(([queryid, c], r) => {
        if ((i + r) % 3 !== 0) {
          c.calls += 7;
          c.total_exec_time += 900 + 10 * r;
          c.rows += 7 * (queryid === '102' ? 5000 : 3);
          c.shared_blks_hit += 400;
          c.shared_blks_read += queryid === '103' ? 300 : 2;
        }
        return { key: { datname: 'app', username: 'app', queryid }, values: { ...c, _epoch: 0 } };
      });
      const ts = t0 + i * step;
      store.writeSample({ target: 't', collector: 'statements', ts, ok: true, epoch, rows, counters: COUNTERS });
      store.writeSample({ target: 't', collector: 'tables', ts, ok: true, epoch: 1, rows: [] });
    }
    store.putStatementTexts(
      't',
      Object.entries(TEXTS).map(([queryid, text]) => ({ queryid, text })),
      t0
    );
    const now = t0 + (n - 1) * step;
    const w = { from: now - 86_400_000, to: now };
    const fromTotals = statementFacts(store, 't', w);
    const fromPoints = statementFacts(store, 't', w, 'range', 'points');
    const byId = (xs: typeof fromTotals) => [...xs].sort((a, b) => a.queryid.localeCompare(b.queryid));
    assert.deepEqual(byId(fromTotals), byId(fromPoints));
    // a fresh install's lifetime counters: the newest values, read from the newest samples only
    assert.deepEqual(
      byId(statementFacts(store, 't', w, 'lifetime')),
      byId(statementFacts(store, 't', w, 'lifetime', 'points'))
    );
    // the reset is inside the window: the sums are the ground truth written above, not last − first
    const calls103 = fromTotals.find((s) => s.queryid === '103')!.calls;
    assert.equal(calls103, 7 * [...Array(n).keys()].filter((i) => i > 0 && (i + 2) % 3 !== 0).length);

    const evidence = gatherEvidence(store, 't', now);
    assert.equal(evidence.lifetime, undefined, 'range evidence, not the first-run lifetime counters');
    const withTotals = await evaluateFindings({ store, target: 't', now, evidence });
    const withPoints = await evaluateFindings({
      store,
      target: 't',
      now,
      evidence: { ...evidence, statements: fromPoints },
    });
    const statementFindings = withTotals.findings.filter((f) => f.category === 'queries');
    assert.ok(statementFindings.length >= 2, JSON.stringify(withTotals.findings.map((f) => f.id)));
    assert.deepEqual(withTotals.findings, withPoints.findings);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
