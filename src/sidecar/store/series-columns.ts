/**
 * What writeSample keeps per series of a stream between cycles (last value written, running-total
 * carry, database group, row epoch), as typed-array columns over one shared series-id → slot index.
 * Maps of objects cost ~215 bytes per series (13 MB for 5,000 statements, 500 tables and 2,000
 * indexes; bench/store-cache-memory.ts); these ~70. Each column answers get / set / has like the
 * Map it replaced, so the write path reads as before. Iteration is in slot order (when the series
 * first got a slot in the stream's index, through any column), not the column's own insertion order
 * a Map kept: where that order feeds a float sum (writeSample's per-database sums over vanished
 * rows) the sum may differ from the Map's in the last bits.
 */
import type { CounterCarry } from './running-totals';

/** series id → slot, shared by the columns of one stream; slots are never reused (series are never deleted) */
export class SeriesIndex {
  readonly slots = new Map<number, number>();

  slotOf(id: number): number | undefined {
    return this.slots.get(id);
  }

  add(id: number): number {
    let s = this.slots.get(id);
    if (s === undefined) {
      s = this.slots.size;
      this.slots.set(id, s);
    }
    return s;
  }
}

const ABSENT = 0;
const NULL = 1;
const NUMBER = 2;

function grown<T extends Float64Array | Uint8Array | Int32Array>(a: T, need: number, make: (n: number) => T): T {
  if (need < a.length) {
    return a;
  }
  const b = make(Math.max(64, a.length * 2, need + 1));
  b.set(a);
  return b;
}

/** Map<series id, number | null> */
export class NumberColumn implements Iterable<[number, number | null]> {
  private values = new Float64Array(0);
  private state = new Uint8Array(0);
  private count = 0;

  constructor(private readonly index: SeriesIndex) {}

  get size(): number {
    return this.count;
  }

  has(id: number): boolean {
    const s = this.index.slotOf(id);
    return s !== undefined && s < this.state.length && this.state[s] !== ABSENT;
  }

  get(id: number): number | null | undefined {
    const s = this.index.slotOf(id);
    if (s === undefined || s >= this.state.length) {
      return undefined;
    }
    const st = this.state[s];
    return st === NUMBER ? this.values[s] : st === NULL ? null : undefined;
  }

  set(id: number, v: number | null): this {
    const s = this.index.add(id);
    this.state = grown(this.state, s, (n) => new Uint8Array(n));
    this.values = grown(this.values, s, (n) => new Float64Array(n));
    if (this.state[s] === ABSENT) {
      this.count++;
    }
    this.state[s] = v === null ? NULL : NUMBER;
    this.values[s] = v ?? 0;
    return this;
  }

  *keys(): IterableIterator<number> {
    for (const [id, s] of this.index.slots) {
      if (s < this.state.length && this.state[s] !== ABSENT) {
        yield id;
      }
    }
  }

  *[Symbol.iterator](): IterableIterator<[number, number | null]> {
    for (const [id, s] of this.index.slots) {
      if (s < this.state.length && this.state[s] !== ABSENT) {
        yield [id, this.state[s] === NUMBER ? this.values[s] : null];
      }
    }
  }
}

/** Map<series id, string | undefined> for a few distinct strings (each held once) */
export class LabelColumn {
  private readonly names: string[] = [];
  private readonly byName = new Map<string, number>();
  /** 0: no entry, 1: undefined, n + 2: names[n] */
  private codes = new Int32Array(0);

  constructor(private readonly index: SeriesIndex) {}

  get(id: number): string | undefined {
    const s = this.index.slotOf(id);
    const c = s === undefined || s >= this.codes.length ? 0 : this.codes[s];
    return c >= 2 ? this.names[c - 2] : undefined;
  }

  set(id: number, v: string | undefined): this {
    const s = this.index.add(id);
    this.codes = grown(this.codes, s, (n) => new Int32Array(n));
    if (v === undefined) {
      this.codes[s] = 1;
      return this;
    }
    let n = this.byName.get(v);
    if (n === undefined) {
      n = this.names.length;
      this.names.push(v);
      this.byName.set(v, n);
    }
    this.codes[s] = n + 2;
    return this;
  }
}

/** Map<series id, CounterCarry & { field }>: get() hands out a fresh object, set() copies it in */
export class CarryColumn implements Iterable<[number, CounterCarry & { field: string }]> {
  private readonly v: NumberColumn;
  private readonly total: NumberColumn;
  private readonly field: LabelColumn;

  constructor(private readonly index: SeriesIndex) {
    this.v = new NumberColumn(index);
    this.total = new NumberColumn(index);
    this.field = new LabelColumn(index);
  }

  get size(): number {
    return this.v.size;
  }

  get(id: number): (CounterCarry & { field: string }) | undefined {
    const v = this.v.get(id);
    return v === undefined ? undefined : { field: this.field.get(id)!, v, total: this.total.get(id) ?? null };
  }

  set(id: number, c: CounterCarry & { field: string }): this {
    this.v.set(id, c.v);
    this.total.set(id, c.total);
    this.field.set(id, c.field);
    return this;
  }

  *[Symbol.iterator](): IterableIterator<[number, CounterCarry & { field: string }]> {
    for (const id of this.v.keys()) {
      yield [id, this.get(id)!];
    }
  }
}
