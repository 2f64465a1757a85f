/**
 * Benchmark 3: which SQLite driver the store should use on Node 24 — better-sqlite3 (the current
 * one) or Node's built-in node:sqlite (DatabaseSync). It decided issue 18 and can be re-run when
 * either moves.
 *
 * Both drivers run the store's own schema (the real migrations) and its two hot paths with the
 * store's SQL: writing one collector cycle per transaction (a sample row, then the points that
 * changed, a full keyframe every 120 samples, as Store.writeSample does) and reading a 24 h range
 * back the way Store.loadPoints does (series lookup, then iterating the point join). History shape:
 * BENCH_STATEMENTS statements (500) × 7 counters, one sample per minute for 24 h, 10 % of the
 * statements moving per sample. Each driver writes its own fresh file; reads repeat BENCH_RUNS
 * times (9), alternating drivers. Writes bench/results/sqlite-driver.md.
 */
import Database from 'better-sqlite3';
import { DatabaseSync } from 'node:sqlite';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { migrations } from '../src/sidecar/store/migrations';
import { WORK, fmt, median, ratio, writeResult } from './lib';

const STATEMENTS = Number(process.env.BENCH_STATEMENTS ?? 500);
const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const FIELDS = [
  'calls',
  'total_exec_time',
  'rows',
  'shared_blks_hit',
  'shared_blks_read',
  'temp_blks_written',
  'total_plan_time',
];
const SAMPLES = 1440;
const KEYFRAME_EVERY = 120;

/** the driver surface the store uses: prepared statements, a transaction, pragmas */
interface Stmt {
  run(...args: Array<number | string | null>): { lastInsertRowid: number | bigint };
  get(...args: Array<number | string | null>): unknown;
  all(...args: Array<number | string | null>): unknown[];
  iterate(...args: Array<number | string | null>): Iterable<unknown>;
}
interface Driver {
  name: string;
  exec(sql: string): void;
  prepare(sql: string): Stmt;
  tx(fn: () => void): void;
  close(): void;
}

function betterSqlite(file: string): Driver {
  const db = new Database(file);
  return {
    name: `better-sqlite3 ${require('better-sqlite3/package.json').version}`,
    exec: (sql) => db.exec(sql),
    prepare: (sql) => db.prepare(sql) as unknown as Stmt,
    tx: (fn) => db.transaction(fn)(),
    close: () => db.close(),
  };
}

function nodeSqlite(file: string): Driver {
  const db = new DatabaseSync(file);
  return {
    name: `node:sqlite (Node ${process.version})`,
    exec: (sql) => db.exec(sql),
    prepare: (sql) => db.prepare(sql) as unknown as Stmt,
    // node:sqlite has no transaction helper: BEGIN/COMMIT by hand, as the store would have to
    tx: (fn) => {
      db.exec('BEGIN');
      try {
        fn();
        db.exec('COMMIT');
      } catch (e) {
        db.exec('ROLLBACK');
        throw e;
      }
    },
    close: () => db.close(),
  };
}

/** deterministic pseudo-random integer in [0, 2^32) */
function hash(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

function open(d: Driver): void {
  d.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000');
  for (const m of migrations) {
    d.tx(() => d.exec(m.sql));
  }
}

interface WriteResult {
  cycleMs: number[];
  keyframeMs: number[];
  points: number;
  totalMs: number;
  bytes: number;
}

/** a writer of one driver: setup done, one call per collector cycle */
function writer(d: Driver): { cycle: (i: number) => void; res: WriteResult } {
  open(d);
  d.prepare('INSERT INTO target (name) VALUES (?)').run('bench');
  const insertSeries = d.prepare('INSERT INTO series (target_id, collector, labels, field) VALUES (1, ?, ?, ?)');
  const ids: number[][] = [];
  d.tx(() => {
    for (let q = 0; q < STATEMENTS; q++) {
      ids.push(
        FIELDS.map((f) =>
          Number(insertSeries.run('statements', JSON.stringify([['queryid', String(q)]]), f).lastInsertRowid)
        )
      );
    }
  });
  const insertSample = d.prepare(
    'INSERT INTO sample (target_id, collector, ts, ok, epoch, keyframe, duration_ms, rows, error) VALUES (1, ?, ?, 1, 1, ?, 5, ?, NULL)'
  );
  const insertPoint = d.prepare('INSERT OR REPLACE INTO point (series_id, sample_id, value) VALUES (?, ?, ?)');
  const values = ids.map((row) => row.map(() => 0));
  const res: WriteResult = { cycleMs: [], keyframeMs: [], points: 0, totalMs: 0, bytes: 0 };
  const cycle = (i: number) => {
    const keyframe = i % KEYFRAME_EVERY === 0;
    const c0 = performance.now();
    d.tx(() => {
      const sampleId = Number(
        insertSample.run('statements', 1_700_000_000_000 + i * 60_000, keyframe ? 1 : 0, STATEMENTS).lastInsertRowid
      );
      for (let q = 0; q < STATEMENTS; q++) {
        const moved = hash(q, i) % 10 === 0;
        for (let f = 0; f < FIELDS.length; f++) {
          if (moved) {
            values[q][f] += 1 + (hash(q * 7 + f, i) % 1000);
          }
          if (moved || keyframe) {
            insertPoint.run(ids[q][f], sampleId, values[q][f]);
            res.points++;
          }
        }
      }
    });
    const ms = performance.now() - c0;
    (keyframe ? res.keyframeMs : res.cycleMs).push(ms);
    res.totalMs += ms;
  };
  return { cycle, res };
}

/** Store.loadPoints' queries over the whole day for every field; returns ms and points read */
function read(d: Driver, mode: 'iterate' | 'all'): { ms: number; points: number } {
  const t0 = performance.now();
  const ph = FIELDS.map(() => '?').join(',');
  const samples = d
    .prepare(
      'SELECT id, ts, ok, epoch FROM sample WHERE target_id = ? AND collector = ? AND ts >= ? AND ts <= ? ORDER BY ts, id'
    )
    .all(1, 'statements', 0, Number.MAX_SAFE_INTEGER) as Array<{ id: number }>;
  const last = samples[samples.length - 1].id;
  const series = d
    .prepare(`SELECT id, labels, field FROM series WHERE target_id = ? AND collector = ? AND field IN (${ph})`)
    .all(1, 'statements', ...FIELDS) as Array<{ id: number; labels: string }>;
  const byId = new Map(
    series.map((s) => [
      s.id,
      {
        parsed: Object.fromEntries(JSON.parse(s.labels) as Array<[string, string]>),
        points: [] as Array<[number, number | null]>,
      },
    ])
  );
  const stmt = d.prepare(
    `SELECT p.series_id AS s, p.sample_id AS k, p.value AS v FROM series s JOIN point p ON p.series_id = s.id AND p.sample_id BETWEEN ? AND ?
     WHERE s.target_id = ? AND s.collector = ? AND s.field IN (${ph})`
  );
  let points = 0;
  const args = [0, last, 1, 'statements', ...FIELDS];
  const rows = (mode === 'iterate' ? stmt.iterate(...args) : stmt.all(...args)) as Iterable<{
    s: number;
    k: number;
    v: number | null;
  }>;
  for (const r of rows) {
    byId.get(r.s)?.points.push([r.k, r.v]);
    points++;
  }
  return { ms: performance.now() - t0, points };
}

function main(): void {
  mkdirSync(WORK, { recursive: true });
  const dir = mkdtempSync(join(WORK, 'sqlite-driver-'));
  const makers = [betterSqlite, nodeSqlite];
  const files = makers.map((_, i) => join(dir, `store-${i}.db`));
  const drivers = makers.map((m, i) => m(files[i]));
  try {
    // cycles in lockstep, alternating which driver goes first, so both see the same machine load
    const writers = drivers.map(writer);
    for (let i = 0; i < SAMPLES; i++) {
      for (let k = 0; k < writers.length; k++) {
        writers[(i + k) % writers.length].cycle(i);
      }
    }
    const writes = writers.map((w, k) => {
      drivers[k].exec('PRAGMA wal_checkpoint(TRUNCATE)');
      return { ...w.res, bytes: statSync(files[k]).size };
    });
    if (writes[0].points !== writes[1].points) {
      throw new Error(`drivers wrote different point counts: ${writes[0].points} vs ${writes[1].points}`);
    }
    const reads: Record<'iterate' | 'all', number[][]> = { iterate: drivers.map(() => []), all: drivers.map(() => []) };
    const readPoints = new Set<number>();
    for (let r = 0; r < RUNS; r++) {
      for (const mode of ['iterate', 'all'] as const) {
        for (let k = 0; k < drivers.length; k++) {
          const j = (r + k) % drivers.length; // alternate which driver reads first
          const x = read(drivers[j], mode);
          reads[mode][j].push(x.ms);
          readPoints.add(x.points);
        }
      }
    }
    if (readPoints.size !== 1) {
      throw new Error(`drivers read different point counts: ${[...readPoints].join(', ')}`);
    }
    const [b, n] = [0, 1];
    const row = (label: string, vb: number, vn: number, unit: string, digits = 2) =>
      `| ${label} | ${fmt(vb, digits)} ${unit} | ${fmt(vn, digits)} ${unit} | ${ratio(vn, vb)} |`;
    const body = `
Store hot paths with the store's schema and SQL: ${STATEMENTS} statements × ${FIELDS.length} counters, ${SAMPLES} samples (24 h at 60 s),
10 % of statements moving per sample, keyframe every ${KEYFRAME_EVERY} samples; ${fmt(writes[0].points, 0)} points written per driver,
cycles in lockstep alternating which driver goes first;
reads: ${RUNS} runs of the 24 h range per read method (${fmt([...readPoints][0], 0)} points), alternating drivers. Machine load: in the header line.

| | ${drivers[b].name} | ${drivers[n].name} | node:sqlite / better-sqlite3 |
|---|---:|---:|---:|
${row('write: one cycle (median, ~350 points)', median(writes[b].cycleMs), median(writes[n].cycleMs), 'ms', 3)}
${row('write: keyframe cycle (median, all points)', median(writes[b].keyframeMs), median(writes[n].keyframeMs), 'ms')}
${row('write: whole day (sum of cycles)', writes[b].totalMs, writes[n].totalMs, 'ms', 0)}
${row('read: 24 h range, all counters, iterate() as the store does (median)', median(reads.iterate[b]), median(reads.iterate[n]), 'ms')}
${row('read: the same with all() (median)', median(reads.all[b]), median(reads.all[n]), 'ms')}
${row('file size after checkpoint', writes[b].bytes / 1e6, writes[n].bytes / 1e6, 'MB')}
`;
    const path = writeResult('sqlite-driver.md', body);
    process.stdout.write(`${body}\nwritten to ${path}\n`);
  } finally {
    for (const d of drivers) {
      d.close();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
