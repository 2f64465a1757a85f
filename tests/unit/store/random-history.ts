/**
 * Random histories for the store's equality tests (running totals, compaction): rows that reset,
 * vanish and come back, failures, epochs, row epochs, writer restarts, compaction in between.
 */
import assert from 'node:assert/strict';
import { decodeChunk } from '../../../src/sidecar/store/chunk-codec';
import { Store } from '../../../src/sidecar/store/store';
import type { CollectedSample } from '../../../src/sidecar/store/types';

/** the counters of the random histories (a gauge `g` and a row epoch `_epoch` come with them) */
export const FIELDS = ['c', 'd'];

export function rng(seed: number) {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

/**
 * A random history of rows a–e with counters c, d (and a gauge g that goes up and down); `counters`
 * false writes it as a sidecar before running totals did. `setbacks`: the chance at each step that
 * the wall clock is set back by 1–60 s before the sample is written: the writer stamps such samples
 * at the stream's newest time; `legacySetbacks` stores them at the time they came with instead (raw
 * SQL), as pgpulse did before, so ids disagree with times. `written`: every sample handed to the
 * writer, in order, with the time it came with. `failFirst`: that many failed samples open the history.
 */
export function writeHistory(
  dir: string,
  seed: number,
  opts: {
    counters: boolean;
    collector: string;
    compact: boolean;
    startTs?: number;
    check?: (store: Store, ts: number) => void;
    databases?: boolean;
    calm?: boolean;
    setbacks?: number;
    legacySetbacks?: boolean;
    written?: CollectedSample[];
    /** the history's first samples fail (the target was down when sampling began), drawing nothing */
    failFirst?: number;
  }
): { store: Store; end: number } {
  const r = rng(seed);
  let store = Store.open(dir);
  const values = new Map<string, Record<string, number>>();
  const rowEpoch = new Map<string, number>();
  const gone = new Set<string>();
  let epoch = 1;
  let ts = opts.startTs ?? 1000;
  const counters = opts.counters ? FIELDS : undefined;
  /** how often irregular things happen: a calm history leaves most steps ordinary */
  const q = opts.calm ? 0.1 : 1;
  let end = ts;
  const write = (sample: CollectedSample) => {
    opts.written?.push(sample);
    const { sampleId } = store.writeSample(sample);
    if (opts.legacySetbacks) {
      store.db.prepare('UPDATE sample_row SET ts = ? WHERE id = ?').run(sample.ts, sampleId);
    }
  };
  for (let i = 0; i < (opts.failFirst ?? 0); i++) {
    ts += 1000;
    end = ts;
    write({ target: 't', collector: opts.collector, ts, ok: false, rows: [], error: 'down', counters });
  }
  for (let i = 0; i < 360; i++) {
    ts += 1000;
    // drawn only when asked for: the histories of the other tests stay as they were
    if (opts.setbacks !== undefined && r() < opts.setbacks) {
      ts = Math.max(1, ts - 1000 * (1 + Math.floor(r() * 60)));
    }
    end = Math.max(end, ts);
    if (r() < 0.015 * q) {
      store.close();
      store = Store.open(dir); // the sidecar restarts: cold caches, a keyframe
    }
    if (opts.compact && r() < 0.01) {
      // downsample everything older than 40 s to one sample per 7 s; sometimes retention cuts too,
      // and packs what is older than a random head window into chunks (or leaves it as rows)
      store.compact(ts, {
        retentionMs: r() < 0.3 ? 200_000 : 1e12,
        downsampleAfterMs: 40_000,
        downsampleStepMs: 7000,
        headMs: r() < 0.7 ? Math.floor(r() * 60_000) : undefined,
      });
      assertChunkLayout(store);
    }
    if (r() < 0.06 * q) {
      write({ target: 't', collector: opts.collector, ts, ok: false, rows: [], error: 'down', counters });
      continue;
    }
    if (r() < 0.012 * q) {
      epoch++; // statistics discarded: counters start again
      values.clear();
    }
    const rows = [];
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      if (r() < 0.03 * q) {
        gone.has(name) ? gone.delete(name) : gone.add(name); // a row vanishes for a while, or comes back
      }
      if (gone.has(name) || r() < 0.04 * q) {
        continue;
      }
      const v = values.get(name) ?? { c: 0, d: 0, g: 0 };
      for (const f of FIELDS) {
        if (r() < 0.4) {
          v[f] += Math.floor(r() * 10);
        }
        if (r() < 0.02 * q) {
          v[f] = Math.floor(r() * 3); // reset by someone
        }
      }
      v.g = Math.floor(r() * 20);
      if (r() < 0.012 * q) {
        rowEpoch.set(name, (rowEpoch.get(name) ?? 0) + 1); // the row's own stats_reset, value kept or not
      }
      values.set(name, v);
      rows.push({
        key: opts.databases ? { name, datname: name < 'c' ? 'db1' : 'db2' } : { name },
        values: { c: v.c, d: r() < 0.02 * q ? null : v.d, g: v.g, _epoch: rowEpoch.get(name) ?? null },
      });
    }
    write({ target: 't', collector: opts.collector, ts, ok: true, epoch, rows, counters });
    opts.check?.(store, ts);
  }
  return { store, end };
}

/**
 * The rule every read relies on (store/chunks.ts): per series its chunks do not overlap, say what
 * they hold, and all come before its oldest row.
 */
export function assertChunkLayout(store: Store): void {
  const chunksOf = store.db
    .prepare(
      'SELECT first_sample_id, last_sample_id, n, data FROM point_chunk WHERE series_id = ? ORDER BY last_sample_id'
    )
    .raw();
  const oldestRow = store.db.prepare('SELECT min(sample_id) FROM point WHERE series_id = ?').pluck();
  for (const s of store.db.prepare('SELECT id FROM series').pluck().all() as number[]) {
    const minRow = oldestRow.get(s) as number | null;
    let prevLast = -1;
    for (const [first, last, n, data] of chunksOf.all(s) as Array<[number, number, number, Buffer]>) {
      const pts = decodeChunk(data);
      assert.deepEqual([pts[0][0], pts[pts.length - 1][0], pts.length], [first, last, n], `series ${s}: chunk bounds`);
      assert.ok(first > prevLast, `series ${s}: chunk ${first}–${last} overlaps the one before`);
      assert.ok(minRow === null || last < minRow, `series ${s}: chunk ${first}–${last} after the row at ${minRow}`);
      prevLast = last;
    }
  }
}
