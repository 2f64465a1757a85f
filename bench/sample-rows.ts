/**
 * Bytes of a `sample` row and of each of its index entries, by column: the fleet's sample streams
 * (bench/fleet-scale.ts: 70 targets on 21 servers, ≈10 samples per target every 15 s — per target
 * server, database, vacuum_progress and the 1 s sampler's load / load_ticks every interval,
 * statements, tables and indexes every other, sequences every 8th; the server-wide collectors once
 * per server at their cadence) written through Store.writeSample, then SQLite's dbstat per table
 * and index and each column's bytes in the record (its serial type's body and header byte).
 * BENCH_SRC names another checkout's src/ to measure its Store on the same streams in the same run
 * (before/after a change to the sample table). Writes bench/results/sample-rows.md.
 *
 *   BENCH_SRC=/tmp/old/src BENCH_SRC_LABEL=main node --import tsx bench/sample-rows.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { fmt, writeResult } from './lib';

const CYCLES = Number(process.env.BENCH_CYCLES ?? 240);
const TARGETS = 70;
const SERVERS = 21;
const INTERVAL_MS = 15_000;
/** per target: collector and every how many intervals it writes */
const PER_TARGET: Array<[string, number]> = [
  ['server', 1],
  ['database', 1],
  ['vacuum_progress', 1],
  ['load', 1],
  ['load_ticks', 1],
  ['statements', 2],
  ['tables', 2],
  ['indexes', 2],
  ['sequences', 8],
];
/** per server (its shared history), the server-wide collectors that wrote a sample per cycle */
const PER_SERVER: Array<[string, number]> = [
  ['activity', 1],
  ['locks', 1],
  ['replication', 1],
  ['replica', 1],
  ['wal', 1],
  ['wal_lsn', 1],
  ['capacity', 1],
  ['clients', 1],
  ['xact_ages', 1],
  ['oldest_sessions', 1],
  ['slots', 2],
  ['io', 2],
  ['bgwriter', 4],
  ['wraparound', 4],
  ['settings', 20],
];

interface StoreLike {
  writeSample(s: unknown): unknown;
  close(): void;
}

interface Measured {
  rows: number;
  objects: Array<{ name: string; bytes: number }>;
  columns: Array<{ column: string; bytes: number }>;
  file: number;
  /** the same rows in a WITHOUT ROWID table keyed (stream, ts, id) with an index by id (weighed, not used) */
  clustered?: Array<{ name: string; bytes: number }>;
}

/** bytes of one value in a record body (SQLite's serial types; a REAL column stores integral values as integers) */
function valueBytes(v: unknown): number {
  if (v === null || v === undefined) {
    return 0;
  }
  if (typeof v === 'string') {
    return Buffer.byteLength(v);
  }
  if (Buffer.isBuffer(v)) {
    return v.length;
  }
  const n = Number(v);
  if (!Number.isInteger(n)) {
    return 8;
  }
  const a = n < 0 ? -n - 1 : n;
  if (n === 0 || n === 1) {
    return 0;
  }
  return a <= 0x7f ? 1 : a <= 0x7fff ? 2 : a <= 0x7fffff ? 3 : a <= 0x7fffffff ? 4 : a <= 0x7fffffffffff ? 6 : 8;
}

function measure(src: string): Measured {
  const { Store } = require(join(src, 'sidecar', 'store', 'store')) as {
    Store: { open(dir: string): StoreLike };
  };
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-sample-rows-'));
  try {
    const store = Store.open(dir);
    const start = Date.UTC(2026, 11, 1);
    for (let i = 0; i < CYCLES; i++) {
      for (let t = 0; t < TARGETS; t++) {
        // each target's timer drifts a little: timestamps are not multiples of the interval
        const ts = start + i * INTERVAL_MS + ((t * 37 + i * 11) % 900);
        const epoch = 1764547200.123456 + (t % SERVERS) * 3.5;
        for (const [collector, every] of PER_TARGET) {
          if ((i + t) % every === 0) {
            store.writeSample({
              target: `db-${t}`,
              collector,
              ts,
              ok: true,
              epoch,
              durationMs: 3 + (i % 40),
              rows: [],
            });
          }
        }
      }
      for (let s = 0; s < SERVERS; s++) {
        const ts = start + i * INTERVAL_MS + ((s * 53 + i * 7) % 900);
        for (const [collector, every] of PER_SERVER) {
          if ((i + s) % every === 0) {
            store.writeSample({
              target: `server:${s}`,
              collector,
              ts,
              ok: true,
              epoch: 1764547200.123456 + s * 3.5,
              durationMs: 2 + (i % 30),
              rows: [],
            });
          }
        }
      }
    }
    store.close();
    const db = new Database(join(dir, 'pgpulse.db'));
    db.exec('VACUUM');
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sample_row'").get()
      ? 'sample_row'
      : 'sample';
    const objects = db
      .prepare(
        `SELECT name, sum(pgsize) AS bytes FROM dbstat WHERE name IN (SELECT name FROM sqlite_master WHERE tbl_name IN ('${table}', 'sample_stream')) GROUP BY name ORDER BY 2 DESC`
      )
      .all() as Array<{ name: string; bytes: number }>;
    const rows = db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
    const cols = (db.prepare(`SELECT name FROM pragma_table_info('${table}')`).pluck().all() as string[]).filter(
      (c) => c !== 'id'
    );
    const sums = new Map(cols.map((c) => [c, 0]));
    for (const r of db.prepare(`SELECT * FROM ${table}`).raw().iterate() as Iterable<unknown[]>) {
      // column 0 is the rowid alias: its value is the cell's key (counted under the table's overhead)
      cols.forEach((c, k) => sums.set(c, (sums.get(c) ?? 0) + valueBytes(r[k + 1])));
    }
    const file =
      (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
    let clustered: Measured['clustered'];
    if (table === 'sample_row') {
      // the time index is the table itself; reads and writes by id need an index of their own
      db.exec(`
        CREATE TABLE sample_clustered (
          stream INTEGER NOT NULL, ts INTEGER NOT NULL, id INTEGER NOT NULL, ok INTEGER NOT NULL, epoch REAL,
          keyframe INTEGER NOT NULL, resets INTEGER NOT NULL, error TEXT, PRIMARY KEY (stream, ts, id)
        ) WITHOUT ROWID;
        INSERT INTO sample_clustered SELECT stream, ts, id, ok, epoch, keyframe, resets, error FROM sample_row ORDER BY stream, ts, id;
        CREATE UNIQUE INDEX sample_clustered_by_id ON sample_clustered (id);
        CREATE INDEX sample_clustered_keyframes ON sample_clustered (stream, id) WHERE keyframe = 1;
        VACUUM;
      `);
      clustered = db
        .prepare(
          "SELECT name, sum(pgsize) AS bytes FROM dbstat WHERE name IN (SELECT name FROM sqlite_master WHERE tbl_name = 'sample_clustered') GROUP BY name ORDER BY 2 DESC"
        )
        .all() as Array<{ name: string; bytes: number }>;
    }
    db.close();
    return {
      rows,
      objects,
      columns: cols.map((c) => ({ column: c, bytes: (sums.get(c) ?? 0) / rows })),
      file,
      clustered,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  const runs: Array<[string, Measured]> = [];
  if (process.env.BENCH_SRC) {
    runs.push([process.env.BENCH_SRC_LABEL ?? 'BENCH_SRC', measure(resolve(process.env.BENCH_SRC))]);
  }
  runs.push(['this checkout', measure(join(__dirname, '..', 'src'))]);
  const perDay = (bytesPerRow: number, rows: number) =>
    // per target and day: its share of the rows written per interval, 5,760 intervals
    (bytesPerRow * (rows / CYCLES / TARGETS) * 5760) / 1e6;
  const lines: string[] = [
    `${CYCLES} intervals of 15 s, ${TARGETS} targets on ${SERVERS} servers (server-wide collectors once per server): the fleet's sample streams (bench/fleet-scale.ts) written through Store.writeSample, VACUUMed, then SQLite's dbstat.`,
    '',
    `| | ${runs.map(([l]) => l).join(' | ')} |`,
    `|---|${runs.map(() => '---:').join('|')}|`,
    `| sample rows | ${runs.map(([, m]) => m.rows.toLocaleString('en-US')).join(' | ')} |`,
    `| sample rows per target and interval | ${runs.map(([, m]) => fmt(m.rows / CYCLES / TARGETS, 2)).join(' | ')} |`,
  ];
  const names = [...new Set(runs.flatMap(([, m]) => m.objects.map((o) => o.name)))];
  for (const n of names) {
    lines.push(
      `| \`${n}\`, B per sample row (dbstat, pages) | ${runs
        .map(([, m]) => {
          const o = m.objects.find((x) => x.name === n);
          return o ? fmt(o.bytes / m.rows, 1) : '–';
        })
        .join(' | ')} |`
    );
  }
  lines.push(
    `| **all, B per sample row** | ${runs.map(([, m]) => `**${fmt(m.objects.reduce((a, o) => a + o.bytes, 0) / m.rows, 1)}**`).join(' | ')} |`,
    `| MB per target and day | ${runs.map(([, m]) => fmt(perDay(m.objects.reduce((a, o) => a + o.bytes, 0) / m.rows, m.rows), 2)).join(' | ')} |`,
    '',
    'Record body bytes per row by column (serial type body; each column also takes a header byte; the id is the cell key):',
    ''
  );
  for (const [label, m] of runs) {
    lines.push(`- ${label}: ${m.columns.map((c) => `${c.column} ${fmt(c.bytes, 2)}`).join(', ')}`);
  }
  for (const [label, m] of runs) {
    if (m.clustered) {
      lines.push(
        '',
        `Weighed (${label}'s rows copied): a WITHOUT ROWID table keyed (stream, ts, id), which is its own time index, with an index by id for the reads and writes by id — B per sample row: ${m.clustered
          .map((o) => `\`${o.name}\` ${fmt(o.bytes / m.rows, 1)}`)
          .join(
            ', '
          )}; all ${fmt(m.clustered.reduce((a, o) => a + o.bytes, 0) / m.rows, 1)} (stream names not counted).`
      );
    }
  }
  const body = lines.join('\n');
  process.stdout.write(`${body}\n`);
  writeResult('sample-rows.md', `# Sample rows: bytes by table, index and column\n\n${body}`);
}

main();
