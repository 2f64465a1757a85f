/**
 * What a chunked point's sample id would cost under other encodings (docs/benchmarks.md §9.4).
 * A store copy (e.g. one kept by `BENCH_KEEP_COPIES` of bench/fleet-scale.ts) is copied, packed as
 * fleet-scale packs its copies (every point but each series' newest into chunks), and for every
 * chunk the sample-id column is written again under each candidate and its bytes counted, together
 * with format 2's bit "the tag changed" (in the id's varint, or as positions where a candidate takes
 * the id out of the varints), so the figures compare with format 2's head varint. Twice: over the
 * chunks as packed (a 12-minute run's ≈13 points a series), and over chunks of 128 points assembled
 * from the deltas of each stream's series laid end to end (what steady state packs: a width or a
 * base fitted to 13 points flatters a per-chunk parameter).
 *
 *   node --import tsx bench/sample-id-coding.ts /tmp/growth6-copies/on-third.db /tmp/growth6-copies/on-end.db
 *
 * BENCH_PACKED=1: the files are packed already (read as they are). Writes bench/results/sample-id-coding.md.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { chunkLayout, decodeColumns } from '../src/sidecar/store/chunk-codec';
import { packCopy } from './fleet-scale';
import { fmt, writeResult } from './lib';

/** bytes of x as a varint */
const vb = (x: number): number => (x < 128 ? 1 : x < 16384 ? 2 : x < 2097152 ? 3 : Math.ceil(Math.log2(x + 1) / 7));
const zz = (x: number): number => (x < 0 ? -2 * x - 1 : 2 * x);
const bits = (x: number): number => (x === 0 ? 0 : Math.floor(Math.log2(x)) + 1);

/** one chunk: its ids, which points write their tag, and each id's ordinal in its sample stream (or −1) */
interface Chunk {
  /** the ids as a writer numbering each cycle's samples in stream order would have given them */
  regular: number[];
  series: number;
  /** the series' sample stream (target and collector) */
  stream: number;
  /** the series' target, collector and labels: the fields of one statement, table, … */
  group: string;
  ids: number[];
  changed: Uint8Array;
  ordinals: number[];
}

interface Candidate {
  name: string;
  /** what a decoder needs besides the blob */
  needs: string;
  /**
   * a chunk's bytes for the ids and tag bits of its points after the first (the first point is
   * written whole by all) and, apart, any header the encoding adds per chunk
   */
  cost(c: Chunk): { points: number; header: number };
}

const deltas = (c: Chunk): number[] => c.ids.slice(1).map((id, i) => id - c.ids[i]);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const mostFrequent = (xs: number[]): number => {
  const m = new Map<number, number>();
  let best = 0;
  let count = 0;
  for (const x of xs) {
    const k = (m.get(x) ?? 0) + 1;
    m.set(x, k);
    if (k > count || (k === count && x < best)) {
      best = x;
      count = k;
    }
  }
  return best;
};

/** the base that puts the most deltas within [base − 32, base + 31] (a one-byte head with its tag bit) */
function bestWindow(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  let best = s[0] ?? 0;
  let most = 0;
  let j = 0;
  for (let i = 0; i < s.length; i++) {
    while (s[i] - s[j] > 63) {
      j++;
    }
    if (i - j + 1 > most) {
      most = i - j + 1;
      best = s[j] + 32;
    }
  }
  return best;
}

/** each delta as varint(f(delta, i)·2 + tag bit) after a per-chunk header */
function perPoint(c: Chunk, header: (d: number[]) => number, f: (d: number, i: number, all: number[]) => number) {
  const d = deltas(c);
  if (d.length === 0) {
    return { points: 0, header: 0 };
  }
  return { points: d.reduce((a, x, i) => a + vb(f(x, i, d) * 2 + c.changed[i + 1]), 0), header: header(d) };
}

/**
 * per-chunk period p (the median delta) and each delta as k·p + r with k = round(delta / p):
 * one varint of (zigzag(r)·2 + [k ≠ 1])·2 + tag bit, and k itself only when it is not 1
 */
function multiples(c: Chunk) {
  const d = deltas(c);
  if (d.length === 0) {
    return { points: 0, header: 0 };
  }
  const p = median(d);
  let n = 0;
  d.forEach((x, i) => {
    const k = p > 0 ? Math.max(1, Math.round(x / p)) : 1;
    const r = x - k * p;
    n += vb((zz(r) * 2 + (k === 1 ? 0 : 1)) * 2 + c.changed[i + 1]) + (k === 1 ? 0 : vb(k));
  });
  return { points: n, header: vb(p) };
}

/**
 * bit-packed frame of reference: a base, a width byte, every (delta − base) in that many bits; the
 * tag changes as a count and the positions' deltas (no tag bit per point)
 */
function bitPacked(c: Chunk, f: (d: number[]) => { base: number; xs: number[] }) {
  const d = deltas(c);
  if (d.length === 0) {
    return { points: 0, header: 0 };
  }
  const { base, xs } = f(d);
  const w = Math.max(0, ...xs.map((x) => bits(x)));
  const changes: number[] = [];
  for (let i = 1; i < c.changed.length; i++) {
    if (c.changed[i]) {
      changes.push(i);
    }
  }
  return {
    points: Math.ceil((xs.length * w) / 8) + changes.reduce((a, x, k) => a + vb(x - (k ? changes[k - 1] : 0)), 0),
    header: vb(base) + 1 + vb(changes.length),
  };
}

/** bits of Elias gamma of x ≥ 1 */
const gamma = (x: number): number => 2 * Math.floor(Math.log2(x)) + 1;

/**
 * the stream's period in a chunk: the median of the deltas no more than 1.5× the smallest one
 * above zero (a series that moves at every other sample of its stream has deltas of 2 periods)
 */
function period(d: number[]): number {
  const pos = d.filter((x) => x > 0);
  if (pos.length === 0) {
    return 1;
  }
  const lo = Math.min(...pos);
  return median(pos.filter((x) => x <= 1.5 * lo));
}

/**
 * bits of a chunk's deltas as k·P + r: per point a tag-change bit (when \`flag\`), k (1: one bit
 * "0"; else "1" and Elias gamma of k + 1) and zigzag(r) in a width w fitting every r of the chunk;
 * a header of varint P, the width byte and the bit section's length
 */
function periodBits(c: Chunk, p: number, flag: boolean) {
  const d = deltas(c);
  if (d.length === 0) {
    return { points: 0, header: 0 };
  }
  let w = 0;
  let b = 0;
  const rs: number[] = [];
  for (const x of d) {
    const k = Math.round(x / p);
    rs.push(zz(x - k * p));
    b += (flag ? 1 : 0) + (k === 1 ? 1 : 1 + gamma(k + 1));
  }
  w = Math.max(0, ...rs.map(bits));
  b += w * d.length;
  let changes = 0;
  if (!flag) {
    const at: number[] = [];
    c.changed.forEach((x, i) => i > 0 && x && at.push(i));
    changes = at.reduce((a, x, k) => a + vb(x - (k ? at[k - 1] : 0)), 0) + vb(at.length);
  }
  const bytes = Math.ceil(b / 8);
  return { points: bytes + changes, header: vb(p) + 1 + vb(bytes) };
}

/**
 * patched frame of reference: (delta − min) in the width w that makes the chunk smallest, the deltas
 * that do not fit as exceptions (position gap and value, varints) after the bit section
 */
function patched(c: Chunk) {
  const d = deltas(c);
  if (d.length === 0) {
    return { points: 0, header: 0 };
  }
  const lo = Math.min(...d);
  const xs = d.map((x) => x - lo);
  const changes: number[] = [];
  for (let i = 1; i < c.changed.length; i++) {
    if (c.changed[i]) {
      changes.push(i);
    }
  }
  const tagBytes = changes.reduce((a, x, k) => a + vb(x - (k ? changes[k - 1] : 0)), 0);
  let best = Infinity;
  for (let w = 0; w <= 24; w++) {
    let ex = 0;
    let count = 0;
    let prev = 0;
    xs.forEach((x, i) => {
      if (x >= 2 ** w) {
        ex += vb(i - prev) + vb(x);
        prev = i;
        count++;
      }
    });
    best = Math.min(best, Math.ceil((xs.length * w) / 8) + ex + vb(count));
  }
  return { points: best + tagBytes, header: vb(lo) + 1 + vb(changes.length) };
}

const candidates: Candidate[] = [
  {
    name: 'format 2 (today): varint(delta·2 + tag bit)',
    needs: '—',
    cost: (c) =>
      perPoint(
        c,
        () => 0,
        (d) => d
      ),
  },
  {
    name: 'delta of delta: varint(zigzag(delta − previous delta)·2 + tag bit)',
    needs: '—',
    cost: (c) =>
      perPoint(
        c,
        () => 0,
        (d, i, all) => zz(d - (i ? all[i - 1] : 0))
      ),
  },
  {
    name: 'per-chunk base B (median delta) + residual: varint(B); varint(zigzag(delta − B)·2 + tag bit)',
    needs: '—',
    cost: (c) => {
      const d = deltas(c);
      const b = d.length ? median(d) : 0;
      return perPoint(
        c,
        () => vb(b),
        (x) => zz(x - b)
      );
    },
  },
  {
    name: 'per-chunk base B (most frequent delta) + residual',
    needs: '—',
    cost: (c) => {
      const b = mostFrequent(deltas(c));
      return perPoint(
        c,
        () => vb(b),
        (x) => zz(x - b)
      );
    },
  },
  {
    name: 'per-chunk base B (the most deltas within −32…31 of it) + residual',
    needs: '—',
    cost: (c) => {
      const b = bestWindow(deltas(c));
      return perPoint(
        c,
        () => vb(b),
        (x) => zz(x - b)
      );
    },
  },
  {
    name: 'per-chunk period P (median delta), delta = k·P + r: varint((zigzag(r)·2 + [k≠1])·2 + tag bit), then k when ≠ 1',
    needs: '—',
    cost: multiples,
  },
  {
    name: 'bit-packed period: P, width w; per point a tag-change bit, k (1 bit when 1, else 1 + Elias gamma), zigzag(r) in w bits',
    needs: '—',
    cost: (c) => periodBits(c, period(deltas(c)), true),
  },
  {
    name: 'the same, tag changes as positions instead of a bit per point',
    needs: '—',
    cost: (c) => periodBits(c, period(deltas(c)), false),
  },
  {
    name: 'bit-packed: varint(min delta), width, (delta − min) in width bits; tag changes as positions',
    needs: '—',
    cost: (c) =>
      bitPacked(c, (d) => {
        const lo = Math.min(...d);
        return { base: lo, xs: d.map((x) => x - lo) };
      }),
  },
  {
    name: 'patched bit-packed: the same with the width that makes the chunk smallest, wider deltas as exceptions',
    needs: '—',
    cost: patched,
  },
  {
    name: 'the smaller of format 2 and the bit-packed one, per chunk (a format byte says which)',
    needs: '—',
    cost: (c) => {
      const f2 = perPoint(
        c,
        () => 0,
        (d) => d
      );
      const d = deltas(c);
      const lo = d.length ? Math.min(...d) : 0;
      const bp = bitPacked(c, () => ({ base: lo, xs: d.map((x) => x - lo) }));
      return f2.points + f2.header <= bp.points + bp.header ? f2 : bp;
    },
  },
  {
    name: 'bit-packed delta of delta (zigzag), width; tag changes as positions',
    needs: '—',
    cost: (c) => bitPacked(c, (d) => ({ base: 0, xs: d.map((x, i) => zz(x - (i ? d[i - 1] : 0))) })),
  },
  {
    name: 'ordinal in the stream: varint(samples of the stream since the previous point·2 + tag bit)',
    needs: "the stream's sample ids over the chunk's span (one more read per chunk)",
    cost: (c) =>
      perPoint(
        c,
        () => 0,
        // an id not of the series' stream (an aliased stream) would need an escape: counted as its delta
        (d, i) => (c.ordinals[i + 1] >= 0 && c.ordinals[i] >= 0 ? c.ordinals[i + 1] - c.ordinals[i] : d)
      ),
  },
];

function readChunks(file: string): {
  chunks: Chunk[];
  overhead: number;
  firstBytes: number;
  headerBytes: number;
  jitter: { gaps: number[]; dev: number[] };
} {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    // each sample's ordinal in its stream
    // what the ids would be had the writer numbered each cycle's samples in stream order (a target's
    // cycle: 15-s steps from its first sample)
    const regular = new Map<number, number>();
    (
      db
        .prepare(
          `SELECT r.id FROM sample_row r JOIN sample_stream st ON st.id = r.stream
           JOIN (SELECT st2.target_id, min(r2.ts) AS t0 FROM sample_row r2 JOIN sample_stream st2 ON st2.id = r2.stream GROUP BY 1) f
             ON f.target_id = st.target_id
           ORDER BY round((r.ts - f.t0) / 15000.0), r.stream, r.id`
        )
        .pluck()
        .all() as number[]
    ).forEach((id, k) => regular.set(id, k + 1));
    const ordinal = new Map<number, number>();
    const counts = new Map<number, number>();
    for (const [id, stream] of db.prepare('SELECT id, stream FROM sample_row ORDER BY id').raw().iterate() as Iterable<
      [number, number]
    >) {
      const k = counts.get(stream) ?? 0;
      ordinal.set(id, k);
      counts.set(stream, k + 1);
    }
    const streamOf = new Map(
      (
        db
          .prepare('SELECT s.id, st.id FROM series s JOIN sample_stream st USING (target_id, collector)')
          .raw()
          .all() as Array<[number, number]>
      ).map(([s, st]) => [s, st])
    );
    const streamOfSample = new Map(
      db.prepare('SELECT id, stream FROM sample_row').raw().all() as Array<[number, number]>
    );
    const groupOf = new Map(
      (
        db.prepare('SELECT id, target_id, collector, labels FROM series').raw().all() as Array<
          [number, number, string, string]
        >
      ).map(([id, t, c, l]) => [id, `${t}\0${c}\0${l}`])
    );
    const chunks: Chunk[] = [];
    let blob = 0;
    let firstBytes = 0;
    let headerBytes = 0;
    for (const [sid, data] of db.prepare('SELECT series_id, data FROM point_chunk').raw().iterate() as Iterable<
      [number, Buffer]
    >) {
      const changes: number[] = [];
      const l = chunkLayout(data, changes);
      firstBytes += l.first;
      headerBytes += l.header;
      blob += data.length;
      const cols = decodeColumns(data);
      const ids = Array.from(cols.ids.subarray(0, cols.n));
      const changed = new Uint8Array(ids.length);
      for (const i of changes) {
        changed[i] = 1;
      }
      const stream = streamOf.get(sid);
      const ordinals = ids.map((id) => (streamOfSample.get(id) === stream ? (ordinal.get(id) ?? -1) : -1));
      const reg = ids.map((id) => regular.get(id) ?? NaN);
      chunks.push({
        regular: reg,
        series: sid,
        stream: stream ?? -1,
        group: groupOf.get(sid) ?? String(sid),
        ids,
        changed,
        ordinals,
      });
    }
    const pages = db
      .prepare("SELECT sum(pgsize) FROM dbstat WHERE name IN ('point_chunk', 'point_chunk_by_series')")
      .pluck()
      .get() as number;
    // how regular a stream's own sample ids are: the statements streams' gaps, and each gap less its stream's median
    const gaps: number[] = [];
    const dev: number[] = [];
    const byStream = new Map<number, number[]>();
    for (const [id, stream] of db
      .prepare(
        "SELECT r.id, r.stream FROM sample_row r JOIN sample_stream st ON st.id = r.stream WHERE st.collector = 'statements' ORDER BY r.id"
      )
      .raw()
      .iterate() as Iterable<[number, number]>) {
      const xs = byStream.get(stream) ?? [];
      xs.push(id);
      byStream.set(stream, xs);
    }
    for (const xs of byStream.values()) {
      const g = xs.slice(1).map((x, i) => x - xs[i]);
      const m = g.length ? median(g) : 0;
      gaps.push(...g);
      dev.push(...g.map((x) => x - m));
    }
    return {
      chunks,
      overhead: (pages - blob) / Math.max(1, chunks.length),
      firstBytes,
      headerBytes,
      jitter: { gaps, dev },
    };
  } finally {
    db.close();
  }
}

const share = (xs: number[], f: (x: number) => boolean) =>
  `${fmt((xs.filter(f).length / Math.max(1, xs.length)) * 100)} %`;
const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

/** the candidates over these chunks: bytes per point after each chunk's first, the per-chunk header apart */
function table(chunks: Chunk[]): string {
  const points = chunks.reduce((a, c) => a + c.ids.length, 0);
  const later = points - chunks.length;
  const d = chunks.flatMap(deltas);
  const dod = chunks.flatMap((c) =>
    deltas(c)
      .map((x, i, all) => (i ? x - all[i - 1] : NaN))
      .filter((x) => x === x)
  );
  const ord = chunks.flatMap((c) =>
    c.ordinals.slice(1).map((o, i) => (o >= 0 && c.ordinals[i] >= 0 ? o - c.ordinals[i] : -1))
  );
  const rows = candidates.map((k) => {
    let body = 0;
    let header = 0;
    for (const c of chunks) {
      const x = k.cost(c);
      body += x.points;
      header += x.header;
    }
    // the per-chunk header amortized over 128 points, as in steady state
    const each = body / Math.max(1, later);
    const headerPerChunk = header / Math.max(1, chunks.filter((c) => c.ids.length > 1).length);
    return `| ${k.name} | ${fmt(each, 3)} | ${fmt(headerPerChunk, 2)} | **${fmt(each + headerPerChunk / 128, 3)}** | ${k.needs} |`;
  });
  // the same two encodings over ids a writer would give in stream order per cycle (not a codec change)
  const renumbered = chunks.map((c) => ({ ...c, ids: c.regular }));
  const ordered = renumbered.every((c) => c.ids.every((x, i) => i === 0 || x > c.ids[i - 1]));
  for (const [name, k] of [
    ['format 2, ids numbered per 15-s cycle in stream order (a writer change, not a codec one)', candidates[0]],
    ['delta of delta, the same ids', candidates[1]],
    [
      'per-chunk period P + residual (varint((zigzag(r)·2 + [k≠1])·2 + tag bit), k when ≠ 1), the same ids',
      candidates.find((x) => x.cost === multiples) as Candidate,
    ],
  ] as Array<[string, Candidate]>) {
    let body = 0;
    for (const c of renumbered) {
      const x = k.cost(c);
      body += x.points + x.header / 128;
    }
    rows.push(
      `| ${name}${ordered ? '' : ' (ids out of order: not valid)'} | ${fmt(body / Math.max(1, later), 3)} | 0.00 | **${fmt(body / Math.max(1, later), 3)}** | a writer that numbers samples so |`
    );
  }
  return `${points.toLocaleString('en-US')} points in ${chunks.length.toLocaleString('en-US')} chunks (${fmt(points / Math.max(1, chunks.length))} a chunk), ${later.toLocaleString('en-US')} after a chunk's first.
Id deltas: median ${q(d, 0.5)}, p10 ${q(d, 0.1)}, p90 ${q(d, 0.9)}, p99 ${q(d, 0.99)}; below 64 ${share(d, (x) => x < 64)}, below 8,192 ${share(d, (x) => x < 8192)}.
Delta of delta: |x| < 32 ${share(dod, (x) => Math.abs(x) < 32)}, < 4,096 ${share(dod, (x) => Math.abs(x) < 4096)}; p10 ${q(dod, 0.1)}, p50 ${q(dod, 0.5)}, p90 ${q(dod, 0.9)}.
Ordinal deltas (samples of the series' stream since its previous point): 1 ${share(ord, (x) => x === 1)}, 2 ${share(ord, (x) => x === 2)}, ≤ 63 ${share(ord, (x) => x >= 0 && x < 64)}, not of its stream ${share(ord, (x) => x < 0)}.

| encoding of the sample id (and the tag bit) | B / point after the first | header B / chunk | **B / point, header over 128 points** | the decoder needs besides the blob |
|---|---:|---:|---:|---|
${rows.join('\n')}`;
}

function analyse(file: string): string {
  let path = file;
  let dir: string | undefined;
  if (!process.env.BENCH_PACKED) {
    dir = mkdtempSync(join(tmpdir(), 'pgpulse-sample-id-'));
    path = join(dir, 'copy.db');
    copyFileSync(file, path);
    packCopy(path);
  }
  try {
    const { chunks, overhead, firstBytes, headerBytes, jitter } = readChunks(path);
    // Chunks of 128 points as steady state has them: a 12-minute run gives a series ≈13 points, so
    // the deltas (and tag changes) of the series of one stream are laid end to end, in series order,
    // and cut every 128 points — the stream's own spacing, over more points than one series has yet
    // (a per-chunk parameter fitted to 13 points flatters it; a width must hold a chunk's widest delta)
    const byStream = new Map<number, Chunk[]>();
    for (const c of [...chunks].sort((x, y) => x.series - y.series)) {
      const xs = byStream.get(c.stream) ?? [];
      xs.push(c);
      byStream.set(c.stream, xs);
    }
    const assembled: Chunk[] = [];
    for (const list of byStream.values()) {
      let cur: Chunk | undefined;
      for (const c of list) {
        for (let i = 0; i < c.ids.length; i++) {
          if (!cur || cur.ids.length === 128) {
            cur = {
              ...c,
              ids: [c.ids[i]],
              regular: [c.regular[i]],
              changed: new Uint8Array(128),
              ordinals: [c.ordinals[i]],
            };
            cur.changed[0] = 1;
            assembled.push(cur);
            continue;
          }
          if (i === 0) {
            // the chunk's first point is written whole: no delta to take from it
            continue;
          }
          const k = cur.ids.length;
          cur.ids.push(cur.ids[k - 1] + c.ids[i] - c.ids[i - 1]);
          cur.ordinals.push(cur.ordinals[k - 1] + c.ordinals[i] - c.ordinals[i - 1]);
          cur.regular.push(cur.regular[k - 1] + c.regular[i] - c.regular[i - 1]);
          cur.changed[k] = c.changed[i];
        }
      }
    }
    for (const c of assembled) {
      c.changed = c.changed.subarray(0, c.ids.length);
    }
    // one id column for all fields of an entity (a statement's calls, times, rows, … move at the same
    // samples): each group's distinct ids as format 2 deltas, and per id a bit per field "moved here"
    const groups = new Map<string, { ids: Set<number>; fields: Set<number> }>();
    for (const c of chunks) {
      const g = groups.get(c.group) ?? { ids: new Set<number>(), fields: new Set<number>() };
      c.ids.forEach((id) => g.ids.add(id));
      g.fields.add(c.series);
      groups.set(c.group, g);
    }
    let shared = 0;
    for (const g of groups.values()) {
      const ids = [...g.ids].sort((x, y) => x - y);
      shared += ids.reduce((a, id, i) => a + vb((id - (i ? ids[i - 1] : 0)) * 2), 0) + (ids.length * g.fields.size) / 8;
    }
    const allPoints = chunks.reduce((a, c) => a + c.ids.length, 0);
    const sharedLine = `**One id column per entity** (all fields of one statement, table, … in one chunk; not a codec change — every read is by series): ${groups.size.toLocaleString('en-US')} entities for ${new Set(chunks.map((c) => c.series)).size.toLocaleString('en-US')} series; their distinct ids as format 2 deltas plus a bit per field and id: ${fmt(shared / Math.max(1, allPoints), 3)} B a point, the first points included (format 2 on the same points: ${fmt(chunks.reduce((a, c) => a + c.ids.reduce((b, id, i) => b + vb((id - (i ? c.ids[i - 1] : 0)) * 2 + 1), 0), 0) / Math.max(1, allPoints), 3)}).`;
    const perChunk = overhead + (firstBytes + headerBytes) / Math.max(1, chunks.length);
    return `### ${file}

A stream's own sample ids (statements streams): gap between consecutive samples median ${q(jitter.gaps, 0.5)}, p10 ${q(jitter.gaps, 0.1)}, p90 ${q(jitter.gaps, 0.9)}; gap minus its stream's median gap p10 ${q(jitter.dev, 0.1)}, p90 ${q(jitter.dev, 0.9)}, |x| < 32 ${share(jitter.dev, (x) => Math.abs(x) < 32)}.

**The chunks as packed:** ${table(chunks)}

**Chunks of up to 128 points, assembled from the deltas of each stream's series laid end to end** (the steady state's chunk length): ${table(assembled)}

${sharedLine}

Per chunk besides its points' ids: ${fmt(overhead, 1)} B of row, index entry and pages, ${fmt(
      (firstBytes + headerBytes) / Math.max(1, chunks.length),
      1
    )} B format byte, count and first point whole: ${fmt(perChunk, 1)} B a chunk, ${fmt(perChunk / 128, 3)} B a point at 128 points a chunk, ${fmt(perChunk / 256, 3)} at 256.
`;
  } finally {
    if (dir) {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

if (require.main === module) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    throw new Error('usage: node --import tsx bench/sample-id-coding.ts path/to/store-copy.db [more …]');
  }
  const path = writeResult('sample-id-coding.md', files.map(analyse).join('\n'));
  process.stderr.write(`wrote ${path}\n`);
}
