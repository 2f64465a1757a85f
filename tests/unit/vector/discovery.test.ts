/**
 * Parts of discovery no test server can show: an HNSW build in progress (PGlite has one backend,
 * so nothing can watch its CREATE INDEX; Debian's PostgreSQL has no pgvector) and a Neon local
 * file cache. The catalog rows below have the shapes PostgreSQL returns for these views.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { accessMethodOf, loadParser } from '../../../src/sidecar/vector/classify';
import { discover } from '../../../src/sidecar/vector/discovery';

before(loadParser);

function client(answers: Array<[RegExp, Array<Record<string, unknown>>]>) {
  return {
    query: async (sql: string) => ({ rows: answers.find(([re]) => re.test(sql))?.[1] ?? [] }),
  } as never;
}

test('HNSW builds from pg_stat_progress_create_index (btree builds left out), Neon LFC and settings in bytes', async () => {
  const d = await discover(
    client([
      [
        /FROM pg_catalog\.pg_settings/,
        [
          { name: 'shared_buffers', setting: '16384', unit: '8kB' },
          { name: 'neon.file_cache_size_limit', setting: '1024', unit: 'MB' },
          { name: 'hnsw.ef_search', setting: '100', unit: '' },
          { name: 'hnsw.iterative_scan', setting: 'relaxed_order', unit: '' },
        ],
      ],
      [
        /pg_stat_progress_create_index/,
        [
          {
            pid: 42,
            relname: 'items',
            indexrelname: '',
            phase: 'loading tuples',
            blocks_done: 50,
            blocks_total: 200,
            tuples_done: null,
            tuples_total: null,
            query: 'CREATE INDEX CONCURRENTLY ON items USING hnsw (embedding vector_cosine_ops)',
          },
          {
            pid: 43,
            relname: 'users',
            indexrelname: 'users_email',
            phase: 'building index',
            blocks_done: 1,
            blocks_total: 2,
            tuples_done: 0,
            tuples_total: 0,
            query: 'CREATE INDEX users_email ON users (email)',
          },
        ],
      ],
    ]),
    '0.8.1',
    accessMethodOf
  );
  assert.equal(d.server.sharedBuffersBytes, 16384 * 8192);
  assert.equal(d.server.lfcBytes, 1024 * 1048576);
  assert.equal(d.server.efSearch, 100);
  assert.equal(d.server.iterativeScan, 'relaxed_order');
  assert.deepEqual(
    d.builds.map((b) => [b.pid, b.method, b.phase, b.blocksDone, b.blocksTotal]),
    [[42, 'hnsw', 'loading tuples', 50, 200]]
  );
  assert.ok(d.server.bugs.some((b) => /parallel HNSW/.test(b)));
});
