/**
 * The byte format of a cold chunk (store/chunks.ts): one series' points over a span of samples,
 * lossless. Per point one tag byte (low nibble: how the value is written, high nibble: the total),
 * then the sample id as a varint delta from the previous one, then what the tags say:
 *
 * - a value as a decimal delta: at scale 10^d (d = 0…9) the zigzag varint of
 *   round(v·10^d) − round(prev·10^d), prev being the last non-null value (0 at first); taken only
 *   where decoding gives back exactly v, so counters (integers) and values with few decimals cost
 *   a byte or two; else as prev plus a decimal at scale 10^2, 10^3, 10^6 or 10^9 that adds up to
 *   exactly v (a float counter: the sum of its increments); anything else its 8 bytes;
 * - a total as the value minus the offset of the previous point that had both (a counter's total
 *   and value differ by a constant between resets: no bytes), else as the previous total plus the
 *   value's move (the writer's own float sum: no bytes either), else as a decimal delta from the
 *   previous total, else its 8 bytes.
 *
 * Doubles are compared with Object.is, so −0 and every finite double come back bit for bit.
 */

export type ChunkPoint = [id: number, value: number | null, total: number | null];

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
const unzigzag = (z: number): number => (z % 2 === 1 ? -(z + 1) / 2 : z / 2);
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

function formatError(data: Uint8Array): Error {
  return new Error(
    `pgpulse store: a point chunk in an unknown format (${data[0]}): the history file was written by a newer pgpulse; run that version or restore a backup`
  );
}

export function encodeChunk(points: ChunkPoint[]): Buffer {
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

export function decodeChunk(data: Uint8Array): ChunkPoint[] {
  let at = 0;
  const varint = (): number => {
    let x = 0;
    let mul = 1;
    for (;;) {
      const b = data[at++];
      x += (b & 127) * mul;
      if (b < 128) {
        return x;
      }
      mul *= 128;
    }
  };
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const double = (): number => {
    const x = view.getFloat64(at, true);
    at += 8;
    return x;
  };
  if (data[at++] !== FORMAT) {
    throw formatError(data);
  }
  const n = varint();
  const out: ChunkPoint[] = new Array(n);
  let prevId = 0;
  let prevV = 0;
  let prevT = 0;
  let offset: number | undefined;
  const read = (tag: number, prev: number): number => {
    if (tag === RAW) {
      return double();
    }
    const p = POW10[tag - DECIMAL];
    return (Math.round(prev * p) + unzigzag(varint())) / p;
  };
  for (let i = 0; i < n; i++) {
    const tag = data[at++];
    const id = prevId + varint();
    prevId = id;
    const vt = tag & 15;
    const tt = tag >> 4;
    const v =
      vt === NULL
        ? null
        : vt >= ADDITIVE && vt < RAW
          ? prevV + unzigzag(varint()) / POW10[ADDITIVE_SCALES[vt - ADDITIVE]]
          : read(vt, prevV);
    const t =
      tt === NULL
        ? null
        : tt === OFFSET
          ? (v as number) - (offset as number)
          : tt === SAME_MOVE
            ? prevT + ((v as number) - prevV)
            : read(tt, prevT);
    if (v !== null) {
      prevV = v;
    }
    if (t !== null) {
      prevT = t;
      if (v !== null) {
        offset = v - t;
      }
    }
    out[i] = [id, v, t];
  }
  return out;
}

/** A decoded chunk as columns: nulls are NaN (stored values are finite). Reused between calls. */
export interface ChunkColumns {
  n: number;
  ids: Float64Array;
  v: Float64Array;
  t: Float64Array;
}

const scratch: ChunkColumns = {
  n: 0,
  ids: new Float64Array(256),
  v: new Float64Array(256),
  t: new Float64Array(256),
};

/**
 * decodeChunk without an array per point, for reads that walk many chunks (step edges over days):
 * the columns returned are overwritten by the next call. `stopAfter`: decode up to the first point
 * with an id past it.
 */
export function decodeColumns(data: Buffer, stopAfter = Infinity): ChunkColumns {
  if (data[0] !== FORMAT) {
    throw formatError(data);
  }
  let at = 1;
  let n = 0;
  for (let mul = 1; ; mul *= 128) {
    const b = data[at++];
    n += (b & 127) * mul;
    if (b < 128) {
      break;
    }
  }
  if (scratch.ids.length < n) {
    scratch.ids = new Float64Array(n);
    scratch.v = new Float64Array(n);
    scratch.t = new Float64Array(n);
  }
  const { ids, v: vs, t: ts } = scratch;
  let prevId = 0;
  let prevV = 0;
  let prevT = 0;
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const tag = data[at++];
    let x = 0;
    for (let mul = 1; ; mul *= 128) {
      const b = data[at++];
      x += (b & 127) * mul;
      if (b < 128) {
        break;
      }
    }
    prevId += x;
    ids[i] = prevId;
    const vt = tag & 15;
    const tt = tag >> 4;
    let v = NaN;
    if (vt === RAW) {
      v = data.readDoubleLE(at);
      at += 8;
    } else if (vt !== NULL) {
      let z = 0;
      for (let mul = 1; ; mul *= 128) {
        const b = data[at++];
        z += (b & 127) * mul;
        if (b < 128) {
          break;
        }
      }
      v =
        vt >= ADDITIVE
          ? prevV + unzigzag(z) / POW10[ADDITIVE_SCALES[vt - ADDITIVE]]
          : (Math.round(prevV * POW10[vt - DECIMAL]) + unzigzag(z)) / POW10[vt - DECIMAL];
    }
    let t = NaN;
    if (tt === OFFSET) {
      t = v - offset;
    } else if (tt === SAME_MOVE) {
      t = prevT + (v - prevV);
    } else if (tt === RAW) {
      t = data.readDoubleLE(at);
      at += 8;
    } else if (tt !== NULL) {
      let z = 0;
      for (let mul = 1; ; mul *= 128) {
        const b = data[at++];
        z += (b & 127) * mul;
        if (b < 128) {
          break;
        }
      }
      t = (Math.round(prevT * POW10[tt - DECIMAL]) + unzigzag(z)) / POW10[tt - DECIMAL];
    }
    vs[i] = v;
    ts[i] = t;
    if (prevId > stopAfter) {
      // the caller needs nothing past the first point after this id
      n = i + 1;
      break;
    }
    if (vt !== NULL) {
      prevV = v;
    }
    if (tt !== NULL) {
      prevT = t;
      if (vt !== NULL) {
        offset = v - t;
      }
    }
  }
  scratch.n = n;
  return scratch;
}
