/**
 * Compaction after the wall clock was set back: a sample's epoch and its series' values follow the
 * order samples were written in (ids), not their times, so what compaction thins and moves must
 * leave every surviving sample reading what it read before. The writer no longer stores set-backs
 * (it stamps such samples at the stream's newest time): these histories hold them as files written
 * by an older pgpulse do, put back with raw SQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chunkPointAt } from '../../../src/sidecar/store/chunks';
import { preparer } from '../../../src/sidecar/store/statements';
import { Store, canonicalLabels } from '../../../src/sidecar/store/store';
import type { SampleInfo } from '../../../src/sidecar/store/types';
import { writeHistory } from './random-history';

/** the value of `field` at one sample, read on its own (carried forward by id from its last point) */
function valueAt(store: Store, field: string, s: SampleInfo): number | null | undefined {
  return store.matrix('t', 'x', [field], undefined, [s])[0]?.values[0];
}

test('a gauge written at 1000, 5000, 2000, 3000 (clock set back) keeps its epoch and value at every sample compaction leaves', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-setback-'));
  const store = Store.open(dir);
  try {
    // stored as pgpulse left a set-back before its writer kept each stream's time non-decreasing
    const ids = [1000, 5000, 2000, 3000].map((ts) => {
      const id = store.writeSample({
        target: 't',
        collector: 'x',
        ts,
        ok: true,
        epoch: 7,
        rows: [{ key: { name: 'a' }, values: { g: 42 } }],
      }).sampleId;
      store.db.prepare('UPDATE sample_row SET ts = ? WHERE id = ?').run(ts, id);
      return id;
    });
    const before = store.samples('t', 'x', 0, 1e9);
    assert.deepEqual(
      before.map((s) => [s.id, s.ts, s.epoch, valueAt(store, 'g', s)]),
      [
        [ids[0], 1000, 7, 42],
        [ids[2], 2000, 7, 42],
        [ids[3], 3000, 7, 42],
        [ids[1], 5000, 7, 42],
      ]
    );
    // retention and downsampling both reach back to 1500: only the sample at 1000 goes
    const { removed } = store.compact(10_000, { retentionMs: 8500, downsampleAfterMs: 8500, downsampleStepMs: 1000 });
    assert.equal(removed, 1);
    const after = store.samples('t', 'x', 0, 1e9);
    assert.deepEqual(
      after.map((s) => [s.id, s.ts, s.ok, s.epoch, valueAt(store, 'g', s)]),
      [
        [ids[2], 2000, true, 7, 42],
        [ids[3], 3000, true, 7, 42],
        [ids[1], 5000, true, 7, 42],
      ]
    );
    assert.deepEqual(store.lastSample('t', 'x'), { id: ids[1], ts: 5000, ok: true, epoch: 7 });
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

const FIELDS = ['c', 'd', 'g', '_epoch'];

interface Reading {
  ts: number;
  ok: boolean;
  epoch: number | null;
  /** per series (row/field): the value there and the running total in force */
  series: Map<string, [number | null, number | null]>;
}

/** what every sample of the history reads, by id: its time, ok flag and epoch, every series' value and running total */
function readings(store: Store): Map<number, Reading> {
  // matrix() carries values forward by id: read in id order, each sample reads what it reads alone
  const samples = store.samples('t', 'x', 0, 1e12).sort((a, b) => a.id - b.id);
  const m = store.matrix('t', 'x', FIELDS, undefined, samples);
  const seriesId = store.db.prepare("SELECT id FROM series WHERE collector = 'x' AND labels = ? AND field = ?").pluck();
  const rowAt = store.db.prepare(
    'SELECT total FROM point WHERE series_id = ? AND sample_id <= ? ORDER BY sample_id DESC LIMIT 1'
  );
  // a row in force wins; before a series' oldest row the point in force is packed (store/chunks.ts)
  const totalAt = (labels: Record<string, string>, field: string, at: number) => {
    const sid = seriesId.get(canonicalLabels(labels), field) as number;
    const row = rowAt.get(sid, at) as { total: number | null } | undefined;
    return row ? row.total : (chunkPointAt(preparer(store.db), sid, at)?.[2] ?? null);
  };
  const out = new Map<number, Reading>();
  samples.forEach((s, j) => {
    const series = new Map<string, [number | null, number | null]>();
    for (const x of m) {
      const counter = x.field === 'c' || x.field === 'd';
      const t = counter ? totalAt(x.labels, x.field, s.id) : null;
      series.set(`${x.labels.name}/${x.field}`, [x.values[j], s.ok ? t : null]);
    }
    out.set(s.id, { ts: s.ts, ok: s.ok, epoch: s.epoch, series });
  });
  return out;
}

test('compaction leaves every surviving sample its epoch, ok flag, values and running totals when the clock was set back (random histories)', () => {
  const wrong = { threw: 0, epoch: 0, ok: 0, value: 0, total: 0, last: 0 };
  const examples: string[] = [];
  let removedAll = 0;
  let setbackHistories = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const dir = mkdtempSync(join(tmpdir(), 'pgpulse-setback-'));
    const { store, end } = writeHistory(dir, seed, {
      counters: true,
      collector: 'x',
      compact: false,
      setbacks: 0.03,
      legacySetbacks: true,
    });
    try {
      const ts = store.db.prepare('SELECT ts FROM sample_row ORDER BY id').pluck().all() as number[];
      setbackHistories += ts.some((t, i) => i > 0 && t < ts[i - 1]) ? 1 : 0;
      // thinning alone, thinning with retention, over rows and over chunks
      for (const [after, step, retention, head] of [
        [40_000, 7000, 1e12, undefined],
        [20_000, 13_000, 250_000, 60_000],
        [5000, 60_000, 1e12, 10_000],
        [1000, 30_000, 150_000, 0],
      ]) {
        const at = `seed ${seed} ${after}/${step}/${retention}/${head}`;
        const before = readings(store);
        const lastBefore = store.lastSample('t', 'x');
        const miss = (kind: keyof typeof wrong, what: string) => {
          wrong[kind]++;
          if (examples.length < 12) {
            examples.push(`${at} ${what}`);
          }
        };
        let removed: number;
        try {
          removed = store.compact(end, {
            retentionMs: retention as number,
            downsampleAfterMs: after as number,
            downsampleStepMs: step as number,
            headMs: head,
          }).removed;
        } catch (e) {
          // counted with the wrong readings, so that one run shows all that goes wrong
          miss('threw', `compact threw: ${(e as Error).message}`);
          break;
        }
        removedAll += removed;
        const now = readings(store);
        assert.equal(now.size, before.size - removed, `${at}: samples removed`);
        // the oldest survivor (by id) takes the points of what retention cut before it, totals of rows long gone too
        const oldest = Math.min(...now.keys());
        for (const [id, r] of now) {
          assert.ok(r.ts >= end - (retention as number), `${at}: sample ${id} at ${r.ts} is past retention`);
        }
        // and stands on its own: a keyframe holding its epoch and every row present
        const firstOk = Math.min(...[...now].filter(([, r]) => r.ok).map(([id]) => id));
        assert.deepEqual(
          store.db.prepare('SELECT keyframe, epoch FROM sample_row WHERE id = ?').get(firstOk),
          { keyframe: 1, epoch: before.get(firstOk)?.epoch },
          `${at}: the oldest ok sample ${firstOk} is self-contained`
        );
        for (const [id, r] of now) {
          const b = before.get(id);
          assert.ok(b, `${at}: sample ${id} was there before`);
          assert.equal(r.ts, b.ts, `${at}: sample ${id} ts`);
          if (r.ok !== b.ok) {
            miss('ok', `sample ${id}: ok ${r.ok} was ${b.ok}`);
          }
          if (r.epoch !== b.epoch) {
            miss('epoch', `sample ${id}: epoch ${r.epoch} was ${b.epoch}`);
          }
          for (const [k, [v, t]] of r.series) {
            const [v0, t0] = b.series.get(k) ?? [null, null];
            if (v !== v0) {
              miss('value', `sample ${id} ${k}: value ${v} was ${v0}`);
            }
            if (t !== t0 && id !== oldest) {
              miss('total', `sample ${id} ${k}: running total ${t} was ${t0}`);
            }
          }
        }
        const lastNow = store.lastSample('t', 'x');
        if (lastBefore && now.has(lastBefore.id) && JSON.stringify(lastNow) !== JSON.stringify(lastBefore)) {
          miss('last', `lastSample ${JSON.stringify(lastNow)} was ${JSON.stringify(lastBefore)}`);
        }
      }
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  assert.ok(setbackHistories >= 50, `histories with a set-back: ${setbackHistories}`);
  assert.ok(removedAll > 0, 'samples were thinned');
  assert.deepEqual(wrong, { threw: 0, epoch: 0, ok: 0, value: 0, total: 0, last: 0 }, examples.join('\n'));
});
