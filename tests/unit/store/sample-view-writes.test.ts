/**
 * The `sample` view (migrations 10–11) takes an older tool's UPDATE and DELETE as the sample table
 * did: the rows named change as asked and no other sample's epoch, stream or values move — though
 * since migration 11 an ok sample between keyframes reads its epoch from its keyframe.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Store } from '../../../src/sidecar/store/store';

type Row = [
  id: number,
  targetId: number,
  collector: string,
  ts: number,
  ok: number,
  epoch: number | null,
  keyframe: number,
];

function rows(store: Store): Row[] {
  return store.db
    .prepare('SELECT id, target_id, collector, ts, ok, epoch, keyframe FROM sample ORDER BY id')
    .raw()
    .all() as Row[];
}

/**
 * Two streams written in turn, 40 samples each: the epoch changes at samples 12 and 27 (a keyframe
 * each), a failed sample every 9th; a keyframe every 120th is the first only.
 */
function withStore(fn: (store: Store) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-view-writes-'));
  const store = Store.open(dir);
  try {
    for (let i = 0; i < 40; i++) {
      for (const collector of ['database', 'locks']) {
        store.writeSample({
          target: 't',
          collector,
          ts: 1000 * (i + 1),
          ok: i % 9 !== 4,
          epoch: i < 12 ? 100 : i < 27 ? 200 : 300,
          rows: [{ key: { k: 'x' }, values: { n: i } }],
          counters: ['n'],
        });
      }
    }
    fn(store);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** the rows as the sample table would hold them after the statement: `change` applied to each row it names */
function expected(before: Row[], change: (r: Row) => Row | undefined): Row[] {
  return before.map((r) => change([...r] as Row)).filter((r): r is Row => r !== undefined);
}

const keyframes = (store: Store, collector: string) =>
  store.db
    .prepare('SELECT id FROM sample WHERE collector = ? AND keyframe = 1 AND ok = 1 ORDER BY id')
    .pluck()
    .all(collector) as number[];

test('sample view: deleting keyframes leaves every other sample its epoch', () => {
  withStore((store) => {
    const before = rows(store);
    const [, second] = keyframes(store, 'database');
    store.db.prepare('DELETE FROM sample WHERE id = ?').run(second);
    assert.deepEqual(
      rows(store),
      expected(before, (r) => (r[0] === second ? undefined : r))
    );
    // as retention written by hand: everything before a time, keyframes with it
    const cut = 18_500;
    const now = rows(store);
    store.db.prepare('DELETE FROM sample WHERE ts < ?').run(cut);
    assert.deepEqual(
      rows(store),
      expected(now, (r) => (r[3] < cut ? undefined : r))
    );
    // the store's own reads agree
    assert.deepEqual(
      store.samples('t', 'locks', cut, 1e9).map((s) => s.epoch),
      rows(store)
        .filter((r) => r[2] === 'locks')
        .map((r) => r[5])
    );
  });
});

test('sample view: updating a keyframe (its flag, its epoch) changes that sample only', () => {
  withStore((store) => {
    const before = rows(store);
    const [first, second, third] = keyframes(store, 'database');
    store.db.prepare('UPDATE sample SET keyframe = 0 WHERE id = ?').run(second);
    store.db.prepare('UPDATE sample SET epoch = 999 WHERE id = ?').run(third);
    store.db.prepare('UPDATE sample SET keyframe = 0, epoch = 5 WHERE id = ?').run(first);
    assert.deepEqual(
      rows(store),
      expected(before, (r) => {
        if (r[0] === second) {
          r[6] = 0;
        } else if (r[0] === third) {
          r[5] = 999;
        } else if (r[0] === first) {
          r[6] = 0;
          r[5] = 5;
        }
        return r;
      })
    );
  });
});

test('sample view: a sample made a keyframe with another epoch changes that sample only', () => {
  withStore((store) => {
    const before = rows(store);
    const id = before.find((r) => r[2] === 'locks' && r[3] === 20_000)?.[0] as number;
    store.db.prepare('UPDATE sample SET keyframe = 1, epoch = 7 WHERE id = ?').run(id);
    assert.deepEqual(
      rows(store),
      expected(before, (r) => {
        if (r[0] === id) {
          r[6] = 1;
          r[5] = 7;
        }
        return r;
      })
    );
  });
});

test('sample view: a sample moved to another target or collector moves, and the others keep their epochs', () => {
  withStore((store) => {
    const other = store.targetId('u');
    const before = rows(store);
    const [, second] = keyframes(store, 'database');
    const plain = before.find((r) => r[2] === 'database' && r[3] === 30_000 && r[6] === 0)?.[0] as number;
    // lands among the locks samples of epoch 100 as a keyframe of another epoch
    const early = before.find((r) => r[2] === 'database' && r[3] === 3000)?.[0] as number;
    store.db.prepare("UPDATE sample SET collector = 'locks' WHERE id = ?").run(second);
    store.db.prepare('UPDATE sample SET target_id = ? WHERE id = ?').run(other, plain);
    store.db.prepare("UPDATE sample SET collector = 'locks', keyframe = 1, epoch = 555 WHERE id = ?").run(early);
    assert.deepEqual(
      rows(store),
      expected(before, (r) => {
        if (r[0] === second) {
          r[2] = 'locks';
        } else if (r[0] === plain) {
          r[1] = other;
        } else if (r[0] === early) {
          r[2] = 'locks';
          r[5] = 555;
          r[6] = 1;
        }
        return r;
      })
    );
    assert.deepEqual(
      store.samples('u', 'database', 0, 1e9).map((s) => [s.id, s.epoch]),
      [[plain, 300]]
    );
  });
});

test("sample view: a sample's id cannot be changed through it — refused naming why", () => {
  withStore((store) => {
    const before = rows(store);
    assert.throws(
      () => store.db.prepare('UPDATE sample SET id = 100000 WHERE id = ?').run(before[3][0]),
      /sample ids cannot be changed/
    );
    assert.deepEqual(rows(store), before);
  });
});
