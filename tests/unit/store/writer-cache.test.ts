import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Store, WRITER_CACHE_KIB, storeCacheKib } from '../../../src/sidecar/store/store';

const dir = mkdtempSync(join(tmpdir(), 'pgpulse-writer-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** the connection's page cache as SQLite reports it: negative = KiB */
function cacheSize(store: Store): number {
  return store.db.pragma('cache_size', { simple: true }) as number;
}

test("the writer's page cache is 2 MB, not better-sqlite3's 16 MB build default", () => {
  const store = Store.open(join(dir, 'default'));
  try {
    assert.equal(WRITER_CACHE_KIB, 2048);
    assert.equal(cacheSize(store), -2048);
    // a fresh connection of this build starts at 16 MB: what the writer held before
    const reader = new Store(store.file, { reader: true });
    try {
      // the query worker's read connection keeps its own, larger cache
      assert.equal(cacheSize(reader), -32 * 1024);
    } finally {
      reader.close();
    }
  } finally {
    store.close();
  }
});

test('cacheKib sets the writer page cache', () => {
  const store = Store.open(join(dir, 'sized'), { cacheKib: 8192 });
  try {
    assert.equal(cacheSize(store), -8192);
  } finally {
    store.close();
  }
});

test('PGPULSE_STORE_CACHE_KIB: unset or empty is the default, a whole number of KiB in range is taken, anything else is refused naming the variable', () => {
  assert.equal(storeCacheKib({}), 2048);
  assert.equal(storeCacheKib({ PGPULSE_STORE_CACHE_KIB: '' }), 2048);
  assert.equal(storeCacheKib({ PGPULSE_STORE_CACHE_KIB: '16000' }), 16000);
  assert.equal(storeCacheKib({ PGPULSE_STORE_CACHE_KIB: '64' }), 64);
  for (const bad of ['2MB', '1.5', '63', '-2048', '4194305']) {
    assert.throws(
      () => storeCacheKib({ PGPULSE_STORE_CACHE_KIB: bad }),
      /PGPULSE_STORE_CACHE_KIB must be a whole number of KiB from 64 to 4194304/
    );
  }
});
