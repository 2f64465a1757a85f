/**
 * The cold-chunk codec (store/chunk-codec.ts) is lossless, through both decoders: random points (counters with resets,
 * gauges, fractional, negative, huge, tiny, −0, nulls anywhere, ids far apart) come back bit for bit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeChunk, decodeColumns, encodeChunk, type ChunkPoint } from '../../../src/sidecar/store/chunk-codec';

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
  switch (Math.floor(r() * 8)) {
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

test('chunks decode to exactly the points encoded (random values, nulls, edge doubles)', () => {
  for (let seed = 1; seed <= 400; seed++) {
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
    const data = encodeChunk(points);
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
  }
});

test('a counter chunk costs a few bytes per point', () => {
  const points: ChunkPoint[] = [];
  let v = 1000;
  for (let i = 0; i < 120; i++) {
    v += 1 + (i % 7);
    points.push([5000 + i * 3, v, v - 1000]);
  }
  const bytes = encodeChunk(points).length;
  assert.ok(bytes <= 3 * points.length + 8, `${bytes} bytes for ${points.length} points`);
});
