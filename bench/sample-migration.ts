/**
 * Migrations 10 and 11 rewrite every sample once when a store from before them opens: the time
 * they take and the extra disk they need, per sample, for the estimate the store logs before it
 * starts (store/migrations.ts SAMPLE_REWRITE_COST). A file in the layout before migration 10
 * (tests/support/legacy-sample.ts) with BENCH_SAMPLES samples over 40 streams (a keyframe every
 * 120th, 2 % failed, the legacy duration and row count filled), then Store.open times each
 * migration; the extra disk is the history files' bytes (pgpulse.db, -wal) with the connection
 * still open after each (the file only grows and the WAL keeps its largest size until it closes)
 * less their bytes before. Writes bench/results/sample-migration.md.
 *
 *   BENCH_SAMPLES=1000000 node --import tsx bench/sample-migration.ts
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Store } from '../src/sidecar/store/store';
import type { SampleRewrite } from '../src/sidecar/store/migrations';
import { legacySampleLayout } from '../tests/support/legacy-sample';
import { fmt, writeResult } from './lib';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 1_000_000);
const STREAMS = 40;

function filesBytes(dir: string): number {
  return ['pgpulse.db', 'pgpulse.db-wal'].reduce((a, f) => {
    const p = join(dir, f);
    return a + (existsSync(p) ? statSync(p).size : 0);
  }, 0);
}

function buildLegacy(dir: string): void {
  Store.open(dir).close();
  const db = new Database(join(dir, 'pgpulse.db'));
  db.pragma('journal_mode = WAL');
  legacySampleLayout(db);
  db.exec(`
    INSERT INTO target (id, name) VALUES (1, 't1'), (2, 't2'), (3, 't3'), (4, 't4');
    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${SAMPLES - 1})
    INSERT INTO sample (id, target_id, collector, ts, ok, epoch, keyframe, duration_ms, rows, error, resets)
      SELECT i + 1, 1 + (i % ${STREAMS}) % 4, 'collector_' || (i % ${STREAMS}),
        1700000000000 + (i / ${STREAMS}) * 15000,
        CASE WHEN i % 50 = 7 THEN 0 ELSE 1 END,
        1700000000 + (i % ${STREAMS}),
        CASE WHEN (i / ${STREAMS}) % 120 = 0 THEN 1 ELSE 0 END,
        3.25 + (i % 17), 10 + (i % 300),
        CASE WHEN i % 50 = 7 THEN 'canceling statement due to statement timeout' END,
        0
      FROM n;
  `);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

/** opens the store in dir (migrating it), with each sample rewrite's time and the files' growth over it */
function migrate(dir: string): { rows: Array<SampleRewrite & { bytes: number }>; seconds: number; bytes: number } {
  const before = filesBytes(dir);
  const rows: Array<SampleRewrite & { bytes: number }> = [];
  let last = before;
  const started = performance.now();
  const store = Store.open(dir, {
    onSampleRewrite: (phase, r) => {
      if (phase === 'done') {
        const now = filesBytes(dir);
        rows.push({ ...r, bytes: now - last });
        last = now;
      }
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const bytes = filesBytes(dir) - before;
  store.close();
  return { rows, seconds, bytes };
}

/** the migrated file set back to migration 10's layout: every ok sample stores its epoch again */
function backTo10(dir: string): void {
  const db = new Database(join(dir, 'pgpulse.db'));
  db.exec(`
    DROP TRIGGER read_generation_sample_update;
    UPDATE sample_row SET epoch = (SELECT k.epoch FROM sample_row k
      WHERE k.stream = sample_row.stream AND k.keyframe = 1 AND k.id < sample_row.id ORDER BY k.id DESC LIMIT 1)
      WHERE epoch IS NULL AND ok = 1 AND keyframe = 0;
    DELETE FROM applied_migration WHERE version = 11;
    PRAGMA user_version = 10;
    VACUUM;
  `);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-bench-migration-'));
  try {
    buildLegacy(dir);
    const legacyBytes = filesBytes(dir);
    const both = migrate(dir);
    backTo10(dir);
    const at10Bytes = filesBytes(dir);
    const alone = migrate(dir);
    const table = (runs: Array<SampleRewrite & { bytes: number }>) => [
      '| migration | samples | seconds | µs per sample | extra disk, MB | B per sample |',
      '|---|---|---|---|---|---|',
      ...runs.map(
        (n) =>
          `| ${n.version} | ${fmt(n.samples, 0)} | ${fmt(n.seconds ?? 0, 2)} | ${fmt(((n.seconds ?? 0) * 1e6) / n.samples, 2)} | ${fmt(n.bytes / 1e6, 1)} | ${fmt(n.bytes / n.samples, 1)} |`
      ),
    ];
    const lines = [
      `${fmt(SAMPLES, 0)} samples over ${STREAMS} streams in the layout before migration 10 (${fmt(legacyBytes / 1e6, 1)} MB of files), opened:`,
      '',
      ...table(both.rows),
      '',
      `Store.open in all: ${fmt(both.seconds, 2)} s, files ${fmt(both.bytes / 1e6, 1)} MB larger. ` +
        'Extra disk: the files with the connection open after each migration less before it (the database file only grows, the WAL keeps its largest size until the last connection closes).',
      '',
      `The same file set back to migration 10 (every ok sample storing its epoch again, vacuumed: ${fmt(at10Bytes / 1e6, 1)} MB), opened: migration 11 alone:`,
      '',
      ...table(alone.rows),
    ];
    const body = lines.join('\n');
    process.stdout.write(`${body}\n`);
    writeResult(
      'sample-migration.md',
      `# Migrations 10 and 11 on a store from before them: time and extra disk\n\n${body}`
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
