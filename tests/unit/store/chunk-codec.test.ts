/**
 * The cold-chunk codec (store/chunk-codec.ts) is lossless, through both decoders: random points (counters with resets,
 * gauges, fractional, negative, huge, tiny, −0, nulls anywhere, ids far apart, float sums as PostgreSQL adds them up)
 * come back bit for bit, in today's format and in format 1 as the previous version wrote it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  chunkLayout,
  decodeChunk,
  decodeColumns,
  encodeChunk,
  type ChunkPoint,
} from '../../../src/sidecar/store/chunk-codec';
import { encodeChunkV1 } from './chunk-codec-v1';

function rng(seed: number) {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

/** a double from one of the shapes stored values take, or an edge case */
function value(r: () => number, prev: number): number {
  const edge = [
    0,
    -0,
    1,
    -1,
    0.1,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    Number.MIN_VALUE,
    Number.EPSILON,
    2 ** 53,
    2 ** 53 + 2,
    -(2 ** 60),
    1e-300,
    123456789.123456789,
  ];
  switch (Math.floor(r() * 10)) {
    case 8:
      return pgTimeSum(r, prev); // ms as pg_stat_statements sums them, rounding and all
    case 9:
      return -pgTimeSum(r, -prev); // the same going down, through zero and below
    case 7:
      return prev + Math.round(r() * 50_000) / 1000; // a float counter: the sum of its increments
    case 0:
      return prev + Math.floor(r() * 100); // a counter
    case 1:
      return Math.round((prev + r() * 50) * 1000) / 1000; // ms with three decimals
    case 2:
      return (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20); // any magnitude, either sign
    case 3:
      return edge[Math.floor(r() * edge.length)];
    case 4:
      return new Float64Array(
        new BigUint64Array([BigInt(Math.floor(r() * 2 ** 32)) * 2n ** 32n + BigInt(Math.floor(r() * 2 ** 32))]).buffer
      )[0];
    case 5:
      return Math.floor(r() * 3); // a reset
    default:
      return prev;
  }
}

/**
 * prev plus 1–5 executions as pg_stat_statements adds them: each one's time taken in nanoseconds,
 * made seconds, then milliseconds (instr_time → double, × 1000), and added to the double sum
 */
function pgTimeSum(r: () => number, prev: number): number {
  let x = prev;
  for (let k = 1 + Math.floor(r() * 5); k > 0; k--) {
    const ns = Math.floor(r() * 10 ** (3 + Math.floor(r() * 6))); // 1 µs … 100 ms
    x += (ns / 1e9) * 1000;
  }
  return x;
}

function randomPoints(seed: number): ChunkPoint[] {
  const r = rng(seed);
  const n = 1 + Math.floor(r() * 200);
  const points: ChunkPoint[] = [];
  let id = Math.floor(r() * 1e6);
  let v = 0;
  let offset = Math.floor(r() * 1000);
  for (let i = 0; i < n; i++) {
    id += 1 + (r() < 0.1 ? Math.floor(r() * 2 ** 40) : Math.floor(r() * 50));
    v = value(r, v);
    if (!Number.isFinite(v)) {
      v = 1; // stored values are finite (the store writes null for the rest)
    }
    if (r() < 0.05) {
      offset = Math.floor(r() * 1e6); // a reset moves the offset between value and total
    }
    const vn = r() < 0.1 ? null : v;
    const t = r() < 0.1 ? null : r() < 0.7 && vn !== null ? vn - offset : value(r, v);
    points.push([id, vn, Number.isFinite(t) ? t : null]);
  }
  return points;
}

function assertDecodes(data: Buffer, points: ChunkPoint[], seed: number | string): void {
  const back = decodeChunk(data);
  // the column decoder (reads over many chunks) gives the same, nulls as NaN
  const cols = decodeColumns(data);
  assert.equal(cols.n, points.length, `seed ${seed}: column count`);
  points.forEach(([i, pv, pt], k) => {
    assert.equal(cols.ids[k], i, `seed ${seed} point ${k}: column id`);
    assert.ok(Object.is(cols.v[k], pv ?? NaN), `seed ${seed} point ${k}: column value ${cols.v[k]} vs ${pv}`);
    assert.ok(Object.is(cols.t[k], pt ?? NaN), `seed ${seed} point ${k}: column total ${cols.t[k]} vs ${pt}`);
  });
  assert.equal(back.length, points.length, `seed ${seed}: count`);
  points.forEach(([i, pv, pt], k) => {
    const [bi, bv, bt] = back[k];
    assert.equal(bi, i, `seed ${seed} point ${k}: id`);
    assert.ok(Object.is(bv, pv), `seed ${seed} point ${k}: value ${bv} vs ${pv}`);
    assert.ok(Object.is(bt, pt), `seed ${seed} point ${k}: total ${bt} vs ${pt}`);
  });
  const l = chunkLayout(data);
  assert.equal(l.points, points.length, `seed ${seed}: layout points`);
  assert.equal(l.header + l.tags + l.ids + l.values + l.totals, data.length, `seed ${seed}: layout adds up`);
}

test('chunks decode to exactly the points encoded (random values, nulls, edge doubles)', () => {
  for (let seed = 1; seed <= 400; seed++) {
    const points = randomPoints(seed);
    const data = encodeChunk(points);
    assert.equal(data[0], 2, 'written in format 2');
    assertDecodes(data, points, seed);
  }
});

test('chunks written by the previous version (format 1) decode to exactly their points', () => {
  for (let seed = 401; seed <= 700; seed++) {
    const points = randomPoints(seed);
    const data = encodeChunkV1(points);
    assert.equal(data[0], 1, 'written in format 1');
    assertDecodes(data, points, `v1 ${seed}`);
  }
});

test('an unknown chunk format is refused, naming the cause', () => {
  const data = encodeChunk([[1, 1, 1]]);
  data[0] = 3;
  assert.throws(() => decodeChunk(data), /unknown format \(3\).*newer pgpulse/);
  assert.throws(() => decodeColumns(data), /unknown format \(3\)/);
});

test('execution times as PostgreSQL sums them cost a few bytes a point, not 8', () => {
  const r = rng(7);
  const points: ChunkPoint[] = [];
  let v = 0;
  for (let i = 0; i < 128; i++) {
    v = pgTimeSum(r, v);
    points.push([100_000 + i * 2000 + Math.floor(r() * 50), v, v]);
  }
  const data = encodeChunk(points);
  assertDecodes(data, points, 'pg times');
  const l = chunkLayout(data);
  // format 1 wrote a move that was not exactly prev + a decimal whole (8 bytes); today a decimal and a correction
  // in the last place, and the tag once for the chunk instead of a byte a point
  const v1 = chunkLayout(encodeChunkV1(points));
  assert.ok(l.values / l.points <= 5, `${l.values / l.points} value bytes a point`);
  assert.ok(l.values < v1.values, `${l.values} value bytes vs ${v1.values} in format 1`);
  assert.ok(l.tags <= l.points / 2, `${l.tags} tag bytes for ${l.points} points`);
});

test('a counter chunk costs a few bytes per point', () => {
  const points: ChunkPoint[] = [];
  let v = 1000;
  for (let i = 0; i < 120; i++) {
    v += 1 + (i % 7);
    points.push([5000 + i * 3, v, v - 1000]);
  }
  const bytes = encodeChunk(points).length;
  // one tag for all (the first point's differs), a byte of id delta and one of value each, totals free
  assert.ok(bytes <= 2 * points.length + 8, `${bytes} bytes for ${points.length} points`);
});
