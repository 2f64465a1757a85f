/**
 * The vector_indexes table over a crafted history in an in-memory store (no PostgreSQL): every
 * value is the latest non-null one inside the range, whichever sample carried it; builds in
 * progress and vector columns without an ANN index get rows of their own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Frame } from '../../../src/model/frames';
import type { ResolvedQuery } from '../../../src/sidecar/engine/context';
import { Engine } from '../../../src/sidecar/engine/engine';
import { assemble } from '../../../src/sidecar/feature';
import type { SampleRow } from '../../../src/sidecar/store/types';
import { Store } from '../../../src/sidecar/store/store';
import { vectorFeature } from '../../../src/sidecar/vector';

const T0 = 1_700_000_000_000;
const idxKey = { object: 'index', datname: 'app', schemaname: 'public', relname: 'items', indexrelname: 'items_hnsw' };
const idxInfo = { amname: 'hnsw', opclass: 'vector_l2_ops', operator: '<->', column: 'embedding', key_type: 'vector' };

function index(values: Record<string, number | null>): SampleRow {
  return { key: idxKey, values, info: idxInfo };
}

/** two discoveries: the second one lost some values (NULL), which the table must take from the first */
function crafted(): Store {
  const store = new Store(':memory:');
  const write = (at: number, rows: SampleRow[]) =>
    store.writeSample({ target: 't', collector: 'vector', ts: T0 + at * 1000, ok: true, rows, counters: ['idx_scan'] });
  write(0, [
    {
      key: { object: 'server' },
      values: { shared_buffers_bytes: 8000, lfc_bytes: 40_000 },
      info: { version: '0.8.0', bugs: [] },
    },
    index({
      size_bytes: 1000,
      table_rows: 500,
      dead_tuples: 7,
      dims: 3,
      m: 16,
      ef_construction: 64,
      lists: null,
      idx_scan: 10,
    }),
    {
      key: { object: 'column', datname: 'app', schemaname: 'public', relname: 'docs', column: 'vec' },
      values: { dims: 384, ann_indexes: 0 },
    },
    {
      key: { object: 'column', datname: 'app', schemaname: 'public', relname: 'items', column: 'embedding' },
      values: { dims: 3, ann_indexes: 1 },
    },
    {
      key: { object: 'build', pid: '4242' },
      values: { blocks_done: 30, blocks_total: 100, tuples_done: 0, tuples_total: 0 },
      info: { relname: 'docs', indexrelname: 'docs_hnsw', method: 'hnsw', phase: 'building index: loading tuples' },
    },
  ]);
  write(60, [
    {
      key: { object: 'server' },
      values: { shared_buffers_bytes: 16_000, lfc_bytes: null },
      info: { version: '0.8.0', bugs: [] },
    },
    index({
      size_bytes: 4000,
      table_rows: 2000,
      dead_tuples: null,
      dims: null,
      m: 16,
      ef_construction: 64,
      lists: null,
      idx_scan: 25,
    }),
    {
      key: { object: 'column', datname: 'app', schemaname: 'public', relname: 'docs', column: 'vec' },
      values: { dims: null, ann_indexes: 0 },
    },
    {
      key: { object: 'column', datname: 'app', schemaname: 'public', relname: 'items', column: 'embedding' },
      values: { dims: 3, ann_indexes: 1 },
    },
    {
      key: { object: 'build', pid: '4242' },
      values: { blocks_done: null, blocks_total: 120, tuples_done: 0, tuples_total: 0 },
      info: { relname: 'docs', indexrelname: 'docs_hnsw', method: 'hnsw', phase: 'building index: loading tuples' },
    },
  ]);
  return store;
}

function table(store: Store, query: Partial<ResolvedQuery> = {}): Array<Record<string, unknown>> {
  const res = new Engine(store, assemble([vectorFeature])).run({
    query: { refId: 'A', metric: 'vector_indexes', target: 't', ...query } as ResolvedQuery,
    range: { from: T0 - 1000, to: T0 + 120_000 },
    intervalMs: 1000,
    targetIntervalMs: 60_000,
  });
  assert.equal(res.error, undefined, res.error);
  const f = res.frames[0] as Frame;
  const n = f.fields[0].values.length;
  return Array.from({ length: n }, (_, i) => Object.fromEntries(f.fields.map((x) => [x.name, x.values[i]])));
}

test('an index row carries the latest non-null value of each field, from whichever discovery had it', () => {
  const rows = table(crafted());
  const idx = rows.find((r) => r.kind === 'index');
  assert.ok(idx, JSON.stringify(rows));
  assert.equal(idx.index, 'items_hnsw');
  assert.equal(idx.method, 'hnsw');
  assert.equal(idx.key, 'embedding');
  assert.equal(idx.size_bytes, 4000, 'the newest size');
  assert.equal(idx.rows, 2000);
  assert.equal(idx.dims, 3, 'dims NULL in the newest discovery: the one before it');
  assert.equal(idx.dead_tuples, 7, 'dead tuples likewise');
  assert.equal(idx.m, 16);
  assert.equal(idx.lists, null, 'never known: null, not 0');
  assert.equal(idx.shared_buffers_share, 4000 / 16_000, 'size against the newest shared_buffers');
  assert.equal(idx.lfc_share, 4000 / 40_000, 'the LFC size NULL in the newest sample: the one before it');
  assert.equal(idx.idx_scan, 25 - 10, 'index scans inside the range');
});

test('a build in progress and an unindexed vector column get rows; an indexed column does not', () => {
  const rows = table(crafted());
  const build = rows.find((r) => r.kind === 'build in progress');
  assert.ok(build, JSON.stringify(rows));
  assert.equal(build.index, 'docs_hnsw');
  // blocks_total from the newest sample (120); blocks_done NULL there: the one before it (30)
  assert.match(String(build.advice), /building \(pid 4242\): building index: loading tuples, 25% of 120 blocks/);
  const cols = rows.filter((r) => r.kind === 'column without ANN index');
  assert.equal(cols.length, 1, JSON.stringify(cols));
  assert.equal(cols[0].table, 'docs');
  assert.equal(cols[0].key, 'vec');
  assert.equal(cols[0].dims, 384, 'dims NULL in the newest discovery: the one before it');
  assert.equal(rows.length, 3);
});

test('an index filter keeps its index and drops the column rows', () => {
  const rows = table(crafted(), { index: 'items_hnsw', table: 'items' });
  assert.deepEqual(
    rows.map((r) => r.kind),
    ['index', 'build in progress']
  );
});
