/**
 * Chunk decoding, CPU ns per point: every series of a store file cut into chunks as compaction cuts
 * them (up to 128 points, ascending), encoded with today's codec and, with BENCH_SRC = another
 * checkout's src/, with that checkout's; both decoders (decodeColumns: step edges and the read
 * cache; decodeChunk: matrices, compaction) run in turn over the same points, the fastest of the
 * later passes kept (a shared machine disturbs single passes). Bytes per point for both.
 *
 *   BENCH_STORE=path/to/pgpulse.db BENCH_SRC=/tmp/before/src node --import tsx bench/chunk-decode.ts
 *
 * BENCH_WHERE: an SQL condition on `series` (e.g. "field = 'total_exec_time'"). BENCH_CHUNK_POINTS: points
 * a chunk (128, as store/chunks.ts). Also an edge read's decode: each chunk up to its middle point
 * (`decodeColumns(data, stopAfter)`, what a read of the point in force at a sample inside it costs on
 * average), CPU ns per chunk. BENCH_JOIN=1: the series laid end to end, ids shifted to keep ascending,
 * so a short run's store (a fleet copy: ≈25 points a series) fills chunks of BENCH_CHUNK_POINTS; where
 * one series meets the next, its ids go on at the last spacing (the values jump: one point in ≈25 is
 * written larger, alike in every format). Prints a table.
 */
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import * as today from '../src/sidecar/store/chunk-codec';
import { fmt } from './lib';

type Codec = Pick<typeof today, 'encodeChunk' | 'decodeChunk' | 'decodeColumns'>;
type Point = [number, number | null, number | null];

const CHUNK_POINTS = Number(process.env.BENCH_CHUNK_POINTS ?? 128);
const JOIN = process.env.BENCH_JOIN === '1';

async function main(): Promise<void> {
  const file = process.env.BENCH_STORE;
  if (!file) {
    throw new Error('BENCH_STORE=path/to/pgpulse.db is required (a store with rows: every point is re-chunked)');
  }
  const db = new Database(file, { readonly: true, fileMustExist: true });
  const chunks: Point[][] = [];
  let series = -1;
  let cur: Point[] = [];
  const rows = db
    .prepare(
      `SELECT series_id, sample_id, value, total FROM point
       WHERE series_id IN (SELECT id FROM series WHERE ${process.env.BENCH_WHERE ?? '1'}) ORDER BY series_id, sample_id`
    )
    .raw()
    .iterate() as Iterable<[number, number, number | null, number | null]>;
  // BENCH_JOIN: how far the ids of the current series are moved, the last id written and the last
  // delta (where two series meet, the next one starts that far on: its own spacing, no jump)
  let shift = 0;
  let last = 0;
  let gap = 1000;
  for (const [sid, sampleId, v, t] of rows) {
    const next = sid !== series;
    if (JOIN && next && series !== -1) {
      shift = last + gap - sampleId;
    }
    const id = JOIN ? sampleId + shift : sampleId;
    if (!next) {
      gap = id - last;
    }
    last = id;
    if ((!JOIN && next) || cur.length === CHUNK_POINTS) {
      if (cur.length > 0) {
        chunks.push(cur);
      }
      cur = [];
    }
    series = sid;
    cur.push([id, v, t]);
  }
  if (cur.length > 0) {
    chunks.push(cur);
  }
  db.close();
  const points = chunks.reduce((a, c) => a + c.length, 0);
  const codecs: Array<[string, Codec]> = [['today', today]];
  if (process.env.BENCH_SRC) {
    const other = (await import(resolve(process.env.BENCH_SRC, 'sidecar', 'store', 'chunk-codec.ts'))) as Codec;
    codecs.unshift([process.env.BENCH_SRC_LABEL ?? 'BENCH_SRC', other]);
  }
  const blobs = codecs.map(([, c]) => chunks.map((p) => c.encodeChunk(p)));
  const ns: number[][] = codecs.map(() => []);
  const nsPoints: number[][] = codecs.map(() => []);
  const nsEdge: number[][] = codecs.map(() => []);
  const middles = chunks.map((c) => c[Math.floor((c.length - 1) / 2)][0]);
  const pass = (f: () => void): number => {
    const c0 = process.cpuUsage();
    f();
    const c = process.cpuUsage(c0);
    return ((c.user + c.system) * 1000) / points;
  };
  for (let rep = 0; rep < 12; rep++) {
    codecs.forEach(([, c], k) => {
      ns[k].push(pass(() => blobs[k].forEach((b) => c.decodeColumns(b))));
      nsPoints[k].push(pass(() => blobs[k].forEach((b) => c.decodeChunk(b))));
      // per chunk, not per point: pass() divides by the points
      nsEdge[k].push((pass(() => blobs[k].forEach((b, i) => c.decodeColumns(b, middles[i]))) * points) / chunks.length);
    });
  }
  const best = (xs: number[]) => Math.min(...xs.slice(2));
  console.log(`${points.toLocaleString('en-US')} points in ${chunks.length.toLocaleString('en-US')} chunks (${fmt(points / chunks.length)} a chunk) from ${file}${process.env.BENCH_WHERE ? ` where ${process.env.BENCH_WHERE}` : ''}

| codec | blob B/pt | decodeColumns ns/pt | decodeChunk ns/pt | edge read: decodeColumns to the middle, ns/chunk |
|---|---:|---:|---:|---:|
${codecs
  .map(
    ([label], k) =>
      `| ${label} | ${fmt(blobs[k].reduce((a, b) => a + b.length, 0) / points, 2)} | ${fmt(best(ns[k]), 1)} | ${fmt(best(nsPoints[k]), 1)} | ${fmt(best(nsEdge[k]), 0)} |`
  )
  .join('\n')}`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
