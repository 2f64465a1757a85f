/**
 * Prepares a copy of a bench store for timing reads over cold chunks: opens it with this
 * checkout's Store (running its migrations) and, with `pack`, packs every point older than the
 * default head window before the newest sample, thinning nothing; then checkpoints and VACUUMs.
 * Without `pack` it only migrates (the same history as rows, for a same-run comparison).
 *
 *   cp -a bench/.work/query-latency/pgpulse /tmp/packed && node --import tsx bench/pack-store.ts /tmp/packed pack
 */
import { DEFAULT_HEAD_WINDOW_MS } from '../src/sidecar/config';
import { Store } from '../src/sidecar/store/store';

const [dir, mode] = process.argv.slice(2);
if (!dir) {
  throw new Error('usage: node --import tsx bench/pack-store.ts <data dir> [pack]');
}
const store = Store.open(dir);
try {
  const end = store.db.prepare('SELECT max(ts) FROM sample').pluck().get() as number;
  const t = performance.now();
  if (mode === 'pack') {
    store.compact(end, {
      retentionMs: 1e12,
      downsampleAfterMs: 1e12,
      downsampleStepMs: 300_000,
      headMs: DEFAULT_HEAD_WINDOW_MS,
    });
  }
  const [chunks, packed] = store.db.prepare('SELECT count(*), coalesce(sum(n), 0) FROM point_chunk').raw().get() as [
    number,
    number,
  ];
  const rows = store.db.prepare('SELECT count(*) FROM point').pluck().get() as number;
  console.log(
    `${mode === 'pack' ? 'packed' : 'migrated'} in ${((performance.now() - t) / 1000).toFixed(1)} s: ${rows} rows, ${packed} points in ${chunks} chunks`
  );
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  store.db.exec('VACUUM');
} finally {
  store.close();
}
