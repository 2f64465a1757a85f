/** Findings over time in a real SQLite store: raised and cleared events, first_seen kept while open, health score. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { healthScore, openFindings, recordFindings } from '../../../src/sidecar/advisors/findings-store';
import type { Finding } from '../../../src/sidecar/advisors/types';
import { Store } from '../../../src/sidecar/store/store';

const dir = mkdtempSync(join(tmpdir(), 'pgpulse-findings-'));
const store = Store.open(dir);
after(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const f = (id: string, severity: Finding['severity'] = 'warning'): Finding => ({
  id,
  rule: id.split(':')[0],
  severity,
  category: 'indexes',
  object: id.split(':')[1],
  title: `title of ${id}`,
  evidence: { values: { n: 1 }, window: { from: 0, to: 1, description: 'w' } },
  fix: { sql: 'SELECT 1;' },
  impact: 'some',
});

describe('recordFindings', () => {
  it('raises new findings once, keeps first_seen while open, clears what disappeared', () => {
    const r1 = recordFindings(store, 'db', [f('a:x'), f('b:y', 'critical')], 1000);
    assert.deepEqual(
      r1.raised.map((x) => x.id),
      ['a:x', 'b:y']
    );
    const r2 = recordFindings(store, 'db', [f('a:x'), f('b:y', 'critical')], 2000);
    assert.equal(r2.raised.length + r2.cleared.length, 0);
    const r3 = recordFindings(store, 'db', [f('a:x', 'info')], 3000);
    assert.deepEqual(
      r3.cleared.map((x) => x.id),
      ['b:y']
    );
    const open = openFindings(store, 'db');
    assert.deepEqual(
      open.map((x) => [x.id, x.severity, x.firstSeen, x.lastSeen]),
      [['a:x', 'info', 1000, 3000]]
    );
    assert.deepEqual(
      openFindings(store, 'db', 2500).map((x) => x.id),
      ['b:y', 'a:x'],
      'at 2500 both were open, most severe first'
    );
    const events = store.events('db', 0, 10_000, ['finding_raised', 'finding_cleared']);
    assert.deepEqual(
      events.map((e) => [e.ts, e.kind]),
      [
        [1000, 'finding_raised'],
        [1000, 'finding_raised'],
        [3000, 'finding_cleared'],
      ]
    );
    assert.equal(events[1].title, '[critical] title of b:y');
    assert.ok(events[1].tags.includes('advisor'));
    // it comes back: raised again with a new first_seen
    const r4 = recordFindings(store, 'db', [f('a:x'), f('b:y')], 4000);
    assert.deepEqual(
      r4.raised.map((x) => x.id),
      ['b:y']
    );
    assert.equal(openFindings(store, 'db').find((x) => x.id === 'b:y')?.firstSeen, 4000);
  });

  it('keeps targets apart', () => {
    recordFindings(store, 'other', [f('z:z')], 5000);
    assert.deepEqual(
      openFindings(store, 'other').map((x) => x.id),
      ['z:z']
    );
    assert.ok(!openFindings(store, 'db').some((x) => x.id === 'z:z'));
  });
});

describe('healthScore', () => {
  it('is 100 minus weighted findings, never below 0', () => {
    assert.equal(healthScore([]), 100);
    assert.equal(healthScore([{ severity: 'critical' }, { severity: 'warning' }, { severity: 'info' }]), 70);
    assert.equal(healthScore(new Array(10).fill({ severity: 'critical' })), 0);
  });
});
