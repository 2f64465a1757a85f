/**
 * `pgpulse doctor` lists the collectors that sampled from the store's streams (sample_stream), an
 * index seek per stream, not a scan of every sample through the sample view: the same collectors
 * as the view gives, a stream whose samples are all gone left out as before.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SAMPLED_COLLECTORS_SQL, sampledCollectors } from '../../../src/sidecar/cli/doctor';
import { Store } from '../../../src/sidecar/store/store';

test('doctor: the collectors that sampled, read from the streams with a sample — no scan of the samples', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-doctor-collectors-'));
  const store = Store.open(dir);
  try {
    for (let i = 0; i < 20; i++) {
      for (const [target, collector] of [
        ['t', 'database'],
        ['t', 'locks'],
        ['t', 'gone'],
        ['u', 'tables'],
      ]) {
        store.writeSample({
          target,
          collector,
          ts: 1000 * (i + 1),
          ok: i % 7 !== 3,
          epoch: 1,
          rows: [{ key: { k: 'x' }, values: { n: i } }],
        });
      }
    }
    // every sample of one stream deleted (as retention does): its sample_stream row stays
    store.db.prepare("DELETE FROM sample WHERE collector = 'gone'").run();
    assert.equal(store.db.prepare("SELECT count(*) FROM sample_stream WHERE collector = 'gone'").pluck().get(), 1);

    const truth = new Set(store.db.prepare('SELECT DISTINCT collector FROM sample').pluck().all() as string[]);
    assert.deepEqual([...truth].sort(), ['database', 'locks', 'tables']);
    assert.deepEqual([...sampledCollectors(store.db)].sort(), [...truth].sort());

    // the plan: sample_stream is scanned (a row per stream), sample_row only searched by stream
    const plan = (store.db.prepare(`EXPLAIN QUERY PLAN ${SAMPLED_COLLECTORS_SQL}`).all() as Array<{ detail: string }>)
      .map((r) => r.detail)
      .join('\n');
    assert.doesNotMatch(plan, /\bSCAN (r|sample_row)\b/, plan);
    assert.match(plan, /SEARCH sample_row .*\(stream=\?\)/, plan);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
