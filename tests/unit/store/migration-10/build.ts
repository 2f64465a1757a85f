/**
 * Builds the fixture of the migration-10 test: a store written by pgpulse from before migration 10
 * (random histories with resets, failures, epochs, restarts, compaction and chunks; two targets,
 * interleaved streams), and what it answers then. Run with that version's code, from a tree of it:
 *
 *   git archive <commit before migration 10> | tar -x -C /tmp/old && ln -s "$PWD/node_modules" /tmp/old/
 *   cp tests/unit/store/migration-10/{answers,build}.ts /tmp/old/tests/unit/store/migration-10/
 *   (cd /tmp/old && node --import tsx tests/unit/store/migration-10/build.ts "$OLDPWD/tests/unit/store/migration-10")
 *
 * It was built from ff6e046 (main before migration 10). Two answers were corrected since, by hand:
 * the walked range totals of t/x row e over 50000–140000 (c 62 → 70, d 37 → 41), which missed a row
 * epoch going from null to a stamp; they now equal the running totals recorded beside them.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { Store } from '../../../../src/sidecar/store/store';
import { FIELDS, rng, writeHistory } from '../random-history';
import { storeAnswers } from './answers';

const outDir = process.argv[2];
if (!outDir) {
  throw new Error('usage: build.ts <output directory>');
}
const dir = mkdtempSync(join(tmpdir(), 'pgpulse-m10-'));
try {
  const a = writeHistory(dir, 11, { counters: true, collector: 'x', compact: true, databases: true });
  a.store.close();
  const b = writeHistory(dir, 12, { counters: false, collector: 'y', compact: true });
  b.store.close();
  // a second target whose two streams interleave, with failures (an error text) and epochs
  const store = Store.open(dir);
  const r = rng(13);
  const acc = { n: 0, m: 0 };
  let epoch = 1;
  let ts = 1000;
  for (let i = 0; i < 300; i++) {
    ts += 1000;
    for (const collector of ['p', 'q']) {
      if (r() < 0.05) {
        store.writeSample({ target: 'u', collector, ts, ok: false, rows: [], error: `timeout ${i}`, counters: ['n'] });
        continue;
      }
      if (r() < 0.02) {
        epoch++;
        acc.n = 0;
      }
      acc.n += Math.floor(r() * 5);
      acc.m = Math.floor(r() * 100);
      store.writeSample({
        target: 'u',
        collector,
        ts,
        ok: true,
        epoch,
        durationMs: 12.5,
        rows: [{ key: { k: 'one' }, values: { ...acc } }],
        counters: ['n'],
      });
    }
    if (i === 200) {
      store.compact(ts, { retentionMs: 1e12, downsampleAfterMs: 150_000, downsampleStepMs: 5000, headMs: 20_000 });
    }
  }
  const end = Math.max(a.end, b.end, ts);
  const answers = storeAnswers(store, end);
  const sampleRows = store.db
    .prepare('SELECT id, target_id, collector, ts, ok, epoch, keyframe, resets, error FROM sample ORDER BY id')
    .raw()
    .all();
  store.close();
  const db = new Database(join(dir, 'pgpulse.db'));
  db.exec('VACUUM');
  db.close();
  // gzipped: a quarter of a megabyte of pages and answers each, mostly repetition
  writeFileSync(join(outDir, 'pgpulse.db.gz'), gzipSync(readFileSync(join(dir, 'pgpulse.db')), { level: 9 }));
  writeFileSync(
    join(outDir, 'answers.json.gz'),
    gzipSync(JSON.stringify({ end, fields: FIELDS, answers, sampleRows }), { level: 9 })
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
