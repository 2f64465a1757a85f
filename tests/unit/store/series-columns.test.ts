/**
 * The store's per-series columns stand in for Maps: after any sequence of sets (numbers, nulls,
 * undefined groups, series ids in any order, across columns sharing one index) they answer get,
 * has, size and iteration exactly as a Map fed the same operations.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CarryColumn, LabelColumn, NumberColumn, SeriesIndex } from '../../../src/sidecar/store/series-columns';

function rng(seed: number) {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

test('series columns answer as the Maps they replace, on random operations over a shared index', () => {
  for (let seed = 1; seed <= 5; seed++) {
    const r = rng(seed);
    const index = new SeriesIndex();
    const last = new NumberColumn(index);
    const carry = new CarryColumn(index);
    const group = new LabelColumn(index);
    const lastRef = new Map<number, number | null>();
    const carryRef = new Map<number, { field: string; v: number | null; total: number | null }>();
    const groupRef = new Map<number, string | undefined>();
    const value = () => (r() < 0.2 ? null : r() < 0.1 ? -0.5 : Math.floor(r() * 1e9) / 7);
    for (let i = 0; i < 3000; i++) {
      const id = 1 + Math.floor(r() * 500) * 3;
      const op = r();
      if (op < 0.4) {
        const v = value();
        last.set(id, v);
        lastRef.set(id, v);
      } else if (op < 0.8) {
        const c = { field: ['calls', 'rows', 'total_exec_time'][Math.floor(r() * 3)], v: value(), total: value() };
        carry.set(id, c);
        carryRef.set(id, c);
      } else {
        const g = r() < 0.3 ? undefined : `db${Math.floor(r() * 4)}`;
        group.set(id, g);
        groupRef.set(id, g);
      }
    }
    assert.equal(last.size, lastRef.size);
    assert.equal(carry.size, carryRef.size);
    for (let id = 0; id < 1600; id++) {
      assert.equal(last.get(id), lastRef.get(id), `seed ${seed}, last ${id}`);
      assert.equal(last.has(id), lastRef.has(id));
      assert.deepEqual(carry.get(id), carryRef.get(id), `seed ${seed}, carry ${id}`);
      assert.equal(group.get(id), groupRef.get(id), `seed ${seed}, group ${id}`);
    }
    // iteration: the same entries (order: first appearance in any column of the stream)
    const sortById = <T>(xs: Array<[number, T]>) => xs.sort((a, b) => a[0] - b[0]);
    assert.deepEqual(sortById([...last]), sortById([...lastRef]));
    assert.deepEqual(sortById([...carry]), sortById([...carryRef]));
    assert.deepEqual(
      [...last.keys()].sort((a, b) => a - b),
      [...lastRef.keys()].sort((a, b) => a - b)
    );
  }
});
