/**
 * The chunk encoder as pgpulse wrote format 1 (store/chunk-codec.ts before format 2, kept here
 * unchanged): the tests write chunks as a store of that version did, and read them with today's decoders.
 */
import type { ChunkPoint } from '../../../src/sidecar/store/chunk-codec';

const NULL = 0;
/** tags 1…10: decimal delta at scale 10^(tag − 1) */
const DECIMAL = 1;
const MAX_SCALE = 9;
/** value tags 11…14: the previous value plus a decimal at these scales (a float counter's sum) */
const ADDITIVE = 11;
const ADDITIVE_SCALES = [2, 3, 6, 9];
/** total tag: value minus the running offset */
const OFFSET = 11;
/** total tag: the previous total plus the value's move (how the writer sums a float counter) */
const SAME_MOVE = 12;
const RAW = 15;
const FORMAT = 1;
/** |scaled| past this loses integer precision in a double */
const SAFE = 2 ** 53;

class Writer {
  private buf = Buffer.allocUnsafe(256);
  length = 0;

  private room(n: number): void {
    if (this.length + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
  }

  byte(b: number): number {
    this.room(1);
    this.buf[this.length] = b;
    return this.length++;
  }

  setByte(at: number, b: number): void {
    this.buf[at] = b;
  }

  /** unsigned integer up to 2^53, 7 bits a byte */
  varint(x: number): void {
    this.room(8);
    while (x >= 128) {
      this.buf[this.length++] = x % 128 | 128;
      x = Math.floor(x / 128);
    }
    this.buf[this.length++] = x;
  }

  double(x: number): void {
    this.room(8);
    this.buf.writeDoubleLE(x, this.length);
    this.length += 8;
  }

  done(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }
}

const zigzag = (x: number): number => (x < 0 ? -2 * x - 1 : 2 * x);
const POW10 = Array.from({ length: MAX_SCALE + 1 }, (_, d) => 10 ** d);

/** x as prev plus a decimal that adds up to exactly x, as [scale index, zigzag], or undefined */
function additive(x: number, prev: number): [number, number] | undefined {
  for (let k = 0; k < ADDITIVE_SCALES.length; k++) {
    const p = POW10[ADDITIVE_SCALES[k]];
    const scaled = Math.round((x - prev) * p);
    if (Math.abs(scaled) < SAFE / 2 && Object.is(prev + scaled / p, x)) {
      return [k, zigzag(scaled)];
    }
  }
  return undefined;
}

/** the decimal delta of x from prev that decodes exactly, as [scale, zigzag], or undefined */
function decimal(x: number, prev: number): [number, number] | undefined {
  for (let d = 0; d <= MAX_SCALE; d++) {
    const p = POW10[d];
    const base = Math.round(prev * p);
    const scaled = Math.round(x * p);
    if (Math.abs(scaled) >= SAFE || Math.abs(base) >= SAFE) {
      return undefined;
    }
    const delta = scaled - base;
    // its zigzag (twice as large) must stay an exact integer too
    if (Math.abs(delta) < SAFE / 2 && Object.is((base + delta) / p, x)) {
      return [d, zigzag(delta)];
    }
  }
  return undefined;
}

export function encodeChunkV1(points: ChunkPoint[]): Buffer {
  const w = new Writer();
  w.byte(FORMAT);
  w.varint(points.length);
  let prevId = 0;
  let prevV = 0;
  let prevT = 0;
  let offset: number | undefined;
  for (const [id, v, t] of points) {
    const tagAt = w.byte(0);
    w.varint(id - prevId);
    prevId = id;
    let vt = NULL;
    if (v !== null) {
      const dec = decimal(v, prevV);
      const add = dec ? undefined : additive(v, prevV);
      if (dec) {
        vt = DECIMAL + dec[0];
        w.varint(dec[1]);
      } else if (add) {
        vt = ADDITIVE + add[0];
        w.varint(add[1]);
      } else {
        vt = RAW;
        w.double(v);
      }
    }
    let tt = NULL;
    if (t !== null) {
      if (v !== null && offset !== undefined && Object.is(v - offset, t)) {
        tt = OFFSET;
      } else if (v !== null && Object.is(prevT + (v - prevV), t)) {
        tt = SAME_MOVE;
      } else {
        const dec = decimal(t, prevT);
        if (dec) {
          tt = DECIMAL + dec[0];
          w.varint(dec[1]);
        } else {
          tt = RAW;
          w.double(t);
        }
      }
    }
    w.setByte(tagAt, vt | (tt << 4));
    if (v !== null) {
      prevV = v;
    }
    if (t !== null) {
      prevT = t;
      if (v !== null) {
        offset = v - t;
      }
    }
  }
  return w.done();
}
