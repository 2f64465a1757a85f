/**
 * Random histories for the store's equality tests (running totals, compaction): rows that reset,
 * vanish and come back, failures, epochs, row epochs, writer restarts, compaction in between.
 */
import { Store } from '../../../src/sidecar/store/store';

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
 * false writes it as a sidecar before running totals did.
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
  for (let i = 0; i < 360; i++) {
    ts += 1000;
    if (r() < 0.015 * q) {
      store.close();
      store = Store.open(dir); // the sidecar restarts: cold caches, a keyframe
    }
    if (opts.compact && r() < 0.01) {
      // downsample everything older than 40 s to one sample per 7 s; sometimes retention cuts too
      store.compact(ts, { retentionMs: r() < 0.3 ? 200_000 : 1e12, downsampleAfterMs: 40_000, downsampleStepMs: 7000 });
    }
    if (r() < 0.06 * q) {
      store.writeSample({ target: 't', collector: opts.collector, ts, ok: false, rows: [], error: 'down', counters });
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
    store.writeSample({ target: 't', collector: opts.collector, ts, ok: true, epoch, rows, counters });
    opts.check?.(store, ts);
  }
  return { store, end: ts };
}
