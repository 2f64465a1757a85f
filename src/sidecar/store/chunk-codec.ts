/**
 * The byte format of a cold chunk (store/chunks.ts): one series' points over a span of samples,
 * lossless. A format byte, the point count, then per point:
 *
 * - format 2 (written since 2026-12-01): a varint holding the sample id's delta from the previous
 *   point times two plus one bit "the tag changed"; the tag byte only when it did (a counter's
 *   points share one tag, so most points carry none); then what the tag says;
 * - format 1 (still read): the tag byte, then the sample id as a varint delta, then what the tag says.
 *
 * The tag: low nibble how the value is written, high nibble the running total.
 *
 * - a value as a decimal delta: at scale 10^d (d = 0…9) the zigzag varint of
 *   round(v·10^d) − round(prev·10^d), prev being the last non-null value (0 at first); taken only
 *   where decoding gives back exactly v, so counters (integers) and values with few decimals cost
 *   a byte or two; else as prev plus a decimal (at scale 10^3 or 10^6 in format 2) that adds up to
 *   exactly v (a float counter: the sum of its increments); else (format 2) prev plus a decimal at
 *   10^6 or 10^9 and a correction of a few units in the last place: PostgreSQL sums a statement's
 *   times in doubles of nanoseconds ÷ 10^6 (rounded twice), and the increment read back is that
 *   decimal off by a rounding or two; anything else its 8 bytes;
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
/** format 1 value tags 11…14: the previous value plus a decimal at these scales */
const ADDITIVE = 11;
const ADDITIVE_SCALES = [2, 3, 6, 9];
/** format 2 value tags: the previous value plus a decimal (tag − ADD_3: scale 10^3, 10^6) */
const ADD_3 = 11;
const ADD_6 = 12;
/** format 2 value tags: the previous value plus a decimal at 10^6 / 10^9, then a correction in units in the last place */
const ULP_6 = 13;
const ULP_9 = 14;
/** total tag: value minus the running offset */
const OFFSET = 11;
/** total tag: the previous total plus the value's move (how the writer sums a float counter) */
const SAME_MOVE = 12;
const RAW = 15;
const FORMAT_1 = 1;
const FORMAT = 2;
/** |scaled| past this loses integer precision in a double */
const SAFE = 2 ** 53;
/** corrections past this many units in the last place are not a rounding: the value is written whole */
const MAX_ULPS = 2 ** 20;
/** a decimal and a correction are written only in up to this many bytes, else the double whole */
const MAX_ULP_BYTES = 6;
/** a delta between sample ids, doubled for the tag bit, stays an exact integer below this */
const MAX_ID_DELTA = 2 ** 52;

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

/** bytes of x as a varint */
const varintBytes = (x: number): number =>
  x < 128 ? 1 : x < 16384 ? 2 : x < 2097152 ? 3 : Math.ceil(Math.log2(x + 1) / 7);

/**
 * A position in a chunk's bytes and the one varint reader of this module. Decoders allocate one per
 * chunk; its methods are inlined and the object does not escape, so the position can stay in a
 * register (a shared function leaving its end in a module variable measured ≈25 % slower on the
 * decode loop than the loop written out in place; this ≈10–15 %, docs/benchmarks.md §9.2).
 */
class Reader {
  constructor(
    readonly data: Buffer,
    public at: number
  ) {}

  /** the unsigned varint here, up to 2^53 */
  varint(): number {
    let x = 0;
    for (let mul = 1; ; mul *= 128) {
      const b = this.data[this.at++];
      x += (b & 127) * mul;
      if (b < 128) {
        return x;
      }
    }
  }

  byte(): number {
    return this.data[this.at++];
  }

  double(): number {
    const x = this.data.readDoubleLE(this.at);
    this.at += 8;
    return x;
  }
}

const zigzag = (x: number): number => (x < 0 ? -2 * x - 1 : 2 * x);
/** x % 2 === 1 of a non-negative integer: a bit test where it fits (% of a double is a call, slow in the decode loop) */
const odd = (x: number): boolean => (x < 1073741824 ? (x & 1) === 1 : x % 2 === 1);
const unzigzag = (z: number): number => (odd(z) ? -(z + 1) / 2 : z / 2);
const POW10 = Array.from({ length: MAX_SCALE + 1 }, (_, d) => 10 ** d);

/** a double's 64 bits as two 32-bit halves, for corrections in units in the last place */
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
/** which half holds the low bits (the host's byte order) */
const LO = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 0 : 1;
const HI = 1 - LO;

/** x − base in units in the last place (doubles of one sign are ordered as their bits), or undefined */
function ulpsBetween(x: number, base: number): number | undefined {
  if (!Number.isFinite(base)) {
    return undefined;
  }
  f64[0] = x;
  const xlo = u32[LO];
  const xhi = u32[HI];
  f64[0] = base;
  const blo = u32[LO];
  const bhi = u32[HI];
  if (xhi >>> 31 !== bhi >>> 31) {
    return undefined;
  }
  const c = (xhi - bhi) * 4294967296 + (xlo - blo);
  return Math.abs(c) < MAX_ULPS ? c : undefined;
}

/** base moved by c units in the last place (c from ulpsBetween) */
function addUlps(base: number, c: number): number {
  f64[0] = base;
  const lo = u32[LO] + c;
  if (lo >= 0 && lo < 4294967296) {
    u32[LO] = lo;
  } else {
    const carry = Math.floor(lo / 4294967296);
    u32[HI] += carry;
    u32[LO] = lo - carry * 4294967296;
  }
  return f64[0];
}

/** x as prev plus a decimal at 10^scale that adds up to exactly x: its zigzag, or undefined */
function additive(x: number, prev: number, scale: number): number | undefined {
  const p = POW10[scale];
  const scaled = Math.round((x - prev) * p);
  return Math.abs(scaled) < SAFE / 2 && Object.is(prev + scaled / p, x) ? zigzag(scaled) : undefined;
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

/** x as prev plus a decimal at 10^scale and a correction in units in the last place: [zigzag, zigzag] */
function corrected(x: number, prev: number, scale: number): [number, number] | undefined {
  const p = POW10[scale];
  const scaled = Math.round((x - prev) * p);
  if (!(Math.abs(scaled) < SAFE / 2)) {
    return undefined;
  }
  const c = ulpsBetween(x, prev + scaled / p);
  return c === undefined ? undefined : [zigzag(scaled), zigzag(c)];
}

function formatError(data: Uint8Array): Error {
  return new Error(
    `pgpulse store: a point chunk in an unknown format (${data[0]}): the history file was written by a newer pgpulse; run that version or restore a backup`
  );
}

/**
 * How a value is written (format 2): its tag, with one or two varints in `out`, or RAW. Of the ways
 * that give back exactly v the fewest bytes, counting a byte for a tag that differs from `prevTag`'s
 * (a float sum that alternates between two ways by a byte would pay a tag byte for every switch).
 * A decimal delta in one byte, or in the tag already in use, is taken without trying the rest (a
 * counter's every point: encoding is compaction's hot loop).
 */
function valueCode(v: number, prev: number, prevTag: number, out: number[]): number {
  let best = RAW;
  let cost = 8 + (prevTag === RAW ? 0 : 1);
  const dec = decimal(v, prev);
  if (dec) {
    const tag = DECIMAL + dec[0];
    out[0] = dec[1];
    if (tag === prevTag || dec[1] < 128) {
      return tag;
    }
    best = tag;
    cost = varintBytes(dec[1]) + 1;
  }
  for (let k = 0; k < 4; k++) {
    const tag = k < 2 ? (k === 0 ? ADD_3 : ADD_6) : k === 2 ? ULP_6 : ULP_9;
    let a = 0;
    let b = 0;
    let size = 0;
    if (k < 2) {
      const z = additive(v, prev, k === 0 ? 3 : 6);
      if (z === undefined) {
        continue;
      }
      a = z;
      size = varintBytes(z);
    } else {
      const c = corrected(v, prev, k === 2 ? 6 : 9);
      // only where it saves a good part of the 8 bytes: it costs decoding more than a raw double
      if (!c || varintBytes(c[0]) + varintBytes(c[1]) > MAX_ULP_BYTES) {
        continue;
      }
      a = c[0];
      b = c[1];
      size = varintBytes(a) + varintBytes(b);
    }
    const total = size + (tag === prevTag ? 0 : 1);
    if (total < cost) {
      best = tag;
      cost = total;
      out[0] = a;
      out[1] = b;
      if (tag === prevTag) {
        break;
      }
    }
  }
  return best;
}

export function encodeChunk(points: ChunkPoint[]): Buffer {
  const w = new Writer();
  w.byte(FORMAT);
  w.varint(points.length);
  let prevId = 0;
  let prevV = 0;
  let prevT = 0;
  let prevTag = -1;
  let offset: number | undefined;
  const vcode = [0, 0];
  let tcode = 0;
  for (const [id, v, t] of points) {
    const delta = id - prevId;
    if (!(delta >= 0 && delta < MAX_ID_DELTA)) {
      throw new RangeError(`pgpulse store: chunk points out of order or too far apart (${prevId} → ${id})`);
    }
    prevId = id;
    let vt = NULL;
    if (v !== null) {
      vt = valueCode(v, prevV, prevTag & 15, vcode);
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
          tcode = dec[1];
        } else {
          tt = RAW;
        }
      }
    }
    const tag = vt | (tt << 4);
    w.varint(delta * 2 + (tag === prevTag ? 0 : 1));
    if (tag !== prevTag) {
      w.byte(tag);
      prevTag = tag;
    }
    if (vt === RAW) {
      w.double(v as number);
    } else if (vt !== NULL) {
      w.varint(vcode[0]);
      if (vt === ULP_6 || vt === ULP_9) {
        w.varint(vcode[1]);
      }
    }
    if (tt === RAW) {
      w.double(t as number);
    } else if (tt !== NULL && tt !== OFFSET && tt !== SAME_MOVE) {
      w.varint(tcode);
    }
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

export function decodeChunk(data: Uint8Array): ChunkPoint[] {
  const c = decodeColumns(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  const out: ChunkPoint[] = new Array(c.n);
  for (let i = 0; i < c.n; i++) {
    const v = c.v[i];
    const t = c.t[i];
    out[i] = [c.ids[i], v === v ? v : null, t === t ? t : null];
  }
  return out;
}

/**
 * decodeChunk without an array per point, for reads that walk many chunks (step edges over days):
 * the columns returned are overwritten by the next call. `stopAfter`: decode up to the first point
 * with an id past it.
 */
export function decodeColumns(data: Buffer, stopAfter = Infinity): ChunkColumns {
  if (data[0] === FORMAT) {
    return decodeV2(data, stopAfter);
  }
  if (data[0] === FORMAT_1) {
    return decodeV1(data, stopAfter);
  }
  throw formatError(data);
}

/** room in the scratch columns for n points */
function columnsFor(n: number): ChunkColumns {
  if (scratch.ids.length < n) {
    scratch.ids = new Float64Array(n);
    scratch.v = new Float64Array(n);
    scratch.t = new Float64Array(n);
  }
  return scratch;
}

/** A point's running total (tag high nibble `tt`, the same in both formats), its value `v` read already. */
function readTotal(r: Reader, tt: number, v: number, prevV: number, prevT: number, offset: number): number {
  if (tt === OFFSET) {
    return v - offset;
  }
  if (tt === SAME_MOVE) {
    return prevT + (v - prevV);
  }
  if (tt === RAW) {
    return r.double();
  }
  if (tt === NULL) {
    return NaN;
  }
  const p = POW10[tt - DECIMAL];
  return (Math.round(prevT * p) + unzigzag(r.varint())) / p;
}

function decodeV2(data: Buffer, stopAfter: number): ChunkColumns {
  const r = new Reader(data, 1);
  let n = r.varint();
  const { ids, v: vs, t: ts } = columnsFor(n);
  let prevId = 0;
  let prevV = 0;
  let prevT = 0;
  let offset = 0;
  let tag = 0;
  for (let i = 0; i < n; i++) {
    const head = r.varint();
    if (head < 2147483648) {
      // the common case in 31-bit integer operations
      if ((head & 1) === 1) {
        tag = r.byte();
      }
      prevId += head >>> 1;
    } else {
      if (head % 2 === 1) {
        tag = r.byte();
      }
      prevId += Math.floor(head / 2);
    }
    ids[i] = prevId;
    const vt = tag & 15;
    const tt = tag >> 4;
    let v = NaN;
    if (vt === RAW) {
      v = r.double();
    } else if (vt !== NULL) {
      const z = r.varint();
      if (vt < ADD_3) {
        const p = POW10[vt - DECIMAL];
        v = (Math.round(prevV * p) + unzigzag(z)) / p;
      } else if (vt <= ADD_6) {
        v = prevV + unzigzag(z) / (vt === ADD_3 ? 1e3 : 1e6);
      } else {
        v = prevV + unzigzag(z) / (vt === ULP_6 ? 1e6 : 1e9);
        const c = r.varint();
        if (c !== 0) {
          v = addUlps(v, unzigzag(c));
        }
      }
    }
    const t = readTotal(r, tt, v, prevV, prevT, offset);
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

function decodeV1(data: Buffer, stopAfter: number): ChunkColumns {
  const r = new Reader(data, 1);
  let n = r.varint();
  const { ids, v: vs, t: ts } = columnsFor(n);
  let prevId = 0;
  let prevV = 0;
  let prevT = 0;
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const tag = r.byte();
    prevId += r.varint();
    ids[i] = prevId;
    const vt = tag & 15;
    const tt = tag >> 4;
    let v = NaN;
    if (vt === RAW) {
      v = r.double();
    } else if (vt !== NULL) {
      const z = r.varint();
      v =
        vt >= ADDITIVE
          ? prevV + unzigzag(z) / POW10[ADDITIVE_SCALES[vt - ADDITIVE]]
          : (Math.round(prevV * POW10[vt - DECIMAL]) + unzigzag(z)) / POW10[vt - DECIMAL];
    }
    const t = readTotal(r, tt, v, prevV, prevT, offset);
    vs[i] = v;
    ts[i] = t;
    if (prevId > stopAfter) {
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

/** Where a chunk's bytes go (benches: store growth by part), from the same walk as decoding. */
export interface ChunkLayout {
  points: number;
  /** format byte, point count */
  header: number;
  /** tag bytes, and in format 2 the tag bits of the id varints that carry no more id than without */
  tags: number;
  ids: number;
  values: number;
  totals: number;
  /** the first point's bytes (tag, id, value, total): written whole, from nothing before it */
  first: number;
}

/** `changes`: when given, the index of every point whose tag byte is written (benches weighing other encodings) */
export function chunkLayout(data: Buffer, changes?: number[]): ChunkLayout {
  const format = data[0];
  if (format !== FORMAT && format !== FORMAT_1) {
    throw formatError(data);
  }
  const r = new Reader(data, 1);
  const n = r.varint();
  const out: ChunkLayout = { points: n, header: r.at, tags: 0, ids: 0, values: 0, totals: 0, first: 0 };
  const skip = (): number => {
    const from = r.at;
    r.varint();
    return r.at - from;
  };
  let tag = 0;
  for (let i = 0; i < n; i++) {
    const from = r.at;
    if (format === FORMAT_1) {
      tag = r.byte();
      out.tags++;
      out.ids += skip();
      changes?.push(i);
    } else {
      const at = r.at;
      const head = r.varint();
      // the id alone would take varintBytes(delta) bytes: the rest is the tag bit's
      const idLen = varintBytes(Math.floor(head / 2));
      out.ids += idLen;
      out.tags += r.at - at - idLen;
      if (head % 2 === 1) {
        tag = r.byte();
        out.tags++;
        changes?.push(i);
      }
    }
    const vt = tag & 15;
    const tt = tag >> 4;
    if (vt === RAW) {
      r.at += 8;
      out.values += 8;
    } else if (vt !== NULL) {
      out.values += skip();
      if (format === FORMAT && (vt === ULP_6 || vt === ULP_9)) {
        out.values += skip();
      }
    }
    if (tt === RAW) {
      r.at += 8;
      out.totals += 8;
    } else if (tt !== NULL && tt !== OFFSET && tt !== SAME_MOVE) {
      out.totals += skip();
    }
    if (i === 0) {
      out.first = r.at - from;
    }
  }
  return out;
}
