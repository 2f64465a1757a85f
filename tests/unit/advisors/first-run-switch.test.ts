/**
 * First-run evidence switches to range evidence as history accumulates: with under an hour of
 * stored samples the seq-scan finding counts the lifetime totals (since the counters' epoch); with
 * two hours it counts only the deltas inside the window.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { evaluateFindings } from '../../../src/sidecar/advisors/evaluate';
import { Store } from '../../../src/sidecar/store/store';

const EPOCH = Date.UTC(2026, 10, 1); // statistics last reset on 2026-11-01
const key = { datname: 'app', schemaname: 'public', relname: 'big' };

function history(spanMs: number, now: number): Store {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-first-run-'));
  const store = Store.open(dir);
  // lifetime totals before pgpulse came: 1000 scans of 200,000 rows; then 10 more scans in the history
  const points = 5;
  for (let i = 0; i < points; i++) {
    const scans = 1000 + (10 * i) / (points - 1);
    store.writeSample({
      target: 'default',
      collector: 'tables',
      ts: now - spanMs + (spanMs * i) / (points - 1),
      ok: true,
      epoch: EPOCH,
      rows: [
        {
          key,
          values: {
            seq_scan: scans,
            seq_tup_read: scans * 200_000,
            idx_scan: 0,
            n_live_tup: 200_000,
            n_dead_tup: 0,
            n_mod_since_analyze: 0,
          },
        },
      ],
    });
  }
  (store as unknown as { dir: string }).dir = dir;
  return store;
}

for (const [label, spanMs, lifetime] of [
  ['10 minutes of history: lifetime counters', 600_000, true],
  ['2 hours of history: deltas in the window', 7_200_000, false],
] as const) {
  it(label, async () => {
    const now = Date.UTC(2026, 10, 30, 12);
    const store = history(spanMs, now);
    try {
      const ev = await evaluateFindings({ store, target: 'default', now, options: { minCalls: 5 } });
      const f = ev.findings.find((x) => x.id === 'seq_scan_heavy:public.big');
      assert.ok(f, ev.findings.map((x) => x.id).join(', '));
      assert.equal(f.evidence.values.seq_scans, lifetime ? 1010 : 10);
      assert.equal(
        ev.notes.some((n) => n.startsWith('first run:')),
        lifetime
      );
      if (lifetime) {
        assert.ok(
          f.evidence.window.description.startsWith(
            `since statistics reset on 2026-11-01 (${Math.round((now - EPOCH) / 86_400_000)} days)`
          ),
          f.evidence.window.description
        );
      } else {
        assert.match(f.evidence.window.description, /^deltas over the last 24 h/);
      }
    } finally {
      store.close();
      rmSync((store as unknown as { dir: string }).dir, { recursive: true, force: true });
    }
  });
}
