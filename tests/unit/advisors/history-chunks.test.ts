/**
 * The advisor's history facts walk the samples in chunks (bounded memory); whatever the chunk
 * size they must equal the facts of one matrix() over the whole window — the reference below is
 * that single pass — on random histories with resets, restarts, row epochs, vanishing rows,
 * failed samples, keyframes and sidecar restarts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { collectRows, rangeDeltaRows, type EvidenceMode, type RowFacts } from '../../../src/sidecar/advisors/history';
import { counterDeltas } from '../../../src/sidecar/engine/deltas';
import { Store } from '../../../src/sidecar/store/store';

function rng(seed: number) {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

/** one matrix() over every sample of the window */
function reference(store: Store, w: { from: number; to: number }, mode: EvidenceMode): Map<string, RowFacts> {
  const samples = store.samples('t', 'x', w.from, w.to);
  const okSamples = samples.filter((s) => s.ok);
  const lastOk = okSamples[okSamples.length - 1];
  const series = store.matrix('t', 'x', ['c', 'g', '_epoch'], undefined, samples);
  const epochs = new Map(series.filter((s) => s.field === '_epoch').map((s) => [JSON.stringify(s.labels), s.values]));
  const rows = new Map<string, RowFacts>();
  for (const s of series.filter((x) => x.field !== '_epoch')) {
    const key = JSON.stringify(s.labels);
    const r = rows.get(key) ?? {
      labels: s.labels,
      deltas: {},
      latest: {},
      firstTs: null,
      lastTs: null,
      present: false,
      since: null,
    };
    rows.set(key, r);
    const ok = s.values.map((v, i) => (v !== null && samples[i].ok ? i : -1)).filter((i) => i >= 0);
    for (const i of ok) {
      r.firstTs = Math.min(r.firstTs ?? Infinity, samples[i].ts);
      r.lastTs = Math.max(r.lastTs ?? -Infinity, samples[i].ts);
      r.present ||= samples[i].id === lastOk?.id;
    }
    const newest = ok.length ? ok[ok.length - 1] : undefined;
    if (s.field === 'c' && mode === 'lifetime') {
      if (newest !== undefined) {
        r.deltas.c = s.values[newest];
        const e = epochs.get(key)?.[newest] ?? samples[newest].epoch ?? null;
        r.since = e === null ? r.since : Math.min(r.since ?? Infinity, e);
      }
    } else if (s.field === 'c') {
      const ds = counterDeltas(samples, s.values, epochs.get(key));
      r.deltas.c = ds.length ? ds.reduce((a, d) => a + d.value, 0) : null;
    } else {
      r.latest.g = newest === undefined ? null : s.values[newest];
    }
  }
  return rows;
}

const sorted = (m: Map<string, RowFacts>) => [...m.entries()].sort(([a], [b]) => a.localeCompare(b));

test('chunked history facts equal one pass over the window, for any chunk size', () => {
  for (let seed = 1; seed <= 4; seed++) {
    const dir = mkdtempSync(join(tmpdir(), 'pgpulse-hist-'));
    let store = Store.open(dir);
    try {
      const r = rng(seed);
      const values = new Map<string, number>();
      const rowEpoch = new Map<string, number>();
      let epoch = 1;
      for (let i = 0; i < 240; i++) {
        if (r() < 0.01) {
          store.close();
          store = Store.open(dir);
        }
        if (r() < 0.08) {
          store.writeSample({ target: 't', collector: 'x', ts: 1000 + i * 1000, ok: false, rows: [], error: 'down' });
          continue;
        }
        if (r() < 0.01) {
          epoch++;
          values.clear();
        }
        const rows = [];
        for (const name of ['a', 'b', 'c', 'd', 'e']) {
          // row e only lives in the first third: it vanishes for good
          if (r() < 0.1 || (name === 'e' && i > 80)) {
            continue;
          }
          let v = values.get(name) ?? 0;
          if (r() < 0.4) {
            v += Math.floor(r() * 10);
          }
          if (r() < 0.02) {
            v = Math.floor(r() * 3);
          }
          if (r() < 0.01) {
            rowEpoch.set(name, (rowEpoch.get(name) ?? 0) + 1);
          }
          values.set(name, v);
          rows.push({ key: { name }, values: { c: v, g: Math.floor(r() * 100), _epoch: rowEpoch.get(name) ?? 0 } });
        }
        store.writeSample({ target: 't', collector: 'x', ts: 1000 + i * 1000, ok: true, epoch, rows, counters: ['c'] });
      }
      for (const w of [
        { from: 0, to: 1e9 },
        { from: 50_000, to: 180_000 },
        { from: 123_456, to: 130_000 },
        { from: 230_000, to: 1e9 },
      ]) {
        for (const mode of ['range', 'lifetime'] as const) {
          const want = sorted(reference(store, w, mode));
          for (const chunk of [2, 7, 100]) {
            const got = sorted(collectRows(store, 't', 'x', ['c'], ['g'], w, mode, chunk).rows);
            assert.deepEqual(got, want, `seed ${seed}, window ${w.from}–${w.to}, ${mode}, chunks of ${chunk}`);
          }
          if (mode === 'range') {
            // running totals (what statement facts read) give the walk's deltas: rows with one, same sums
            const fast = rangeDeltaRows(store, 't', 'x', ['c'], w);
            assert.ok(fast, 'running totals answer for a history written with declared counters');
            const withDelta = (rows: Array<[string, { deltas: Record<string, number | null> }]>) =>
              rows.filter(([, x]) => x.deltas.c !== null).map(([k, x]) => [k, x.deltas.c]);
            assert.deepEqual(
              withDelta(sorted(fast as Map<string, RowFacts>)),
              withDelta(want),
              `seed ${seed}, window ${w.from}–${w.to}, running totals`
            );
            assert.ok(withDelta(want).length > 0, 'the window holds deltas');
          }
        }
      }
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
