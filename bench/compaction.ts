/**
 * How long compaction takes on a week of history: the query-latency bench's 7-day store (500
 * statements, 4 databases, no compaction yet) is copied, opened with the Store of this checkout
 * (its migrations run and are timed), and compacted as the sidecar does with its defaults: a first
 * pass that thins the 5 days older than `downsampleAfter`, then the hourly passes that follow
 * (each thins one more hour). BENCH_SRC names another checkout's src/ to time its Store on the
 * same copy (before/after a store change in the same run; BENCH_SRC_LABEL names it in the table).
 * Writes bench/results/compaction.md.
 *
 *   node --import tsx bench/query-latency.ts            # once, leaves bench/.work/query-latency
 *   BENCH_SRC=/tmp/old/src node --import tsx bench/compaction.ts
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_HEAD_WINDOW_MS } from '../src/sidecar/config';
import { WORK, fmt, ratio, writeResult } from './lib';

const SOURCE = process.env.BENCH_STORE ?? join(WORK, 'query-latency', 'pgpulse');
const HOURLY = Number(process.env.BENCH_HOURLY ?? 3);
const OPTS = {
  retentionMs: 14 * 86_400_000,
  downsampleAfterMs: 2 * 86_400_000,
  downsampleStepMs: 300_000,
  // points older than 2 h packed into chunks (a Store from before chunks ignores it)
  headMs: DEFAULT_HEAD_WINDOW_MS,
};

interface Timing {
  openMs: number;
  firstMs: number;
  hourlyMs: number[];
  removed: number;
  bytes: number;
  /** sha256 of every sample and point after the passes: both checkouts must leave the same history */
  digest: string;
}

async function time(src: string): Promise<Timing> {
  const { Store } = (await import(
    join(src, 'sidecar', 'store', 'store.ts')
  )) as typeof import('../src/sidecar/store/store');
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-compact-'));
  try {
    cpSync(join(SOURCE, 'pgpulse.db'), join(dir, 'pgpulse.db'));
    let t = performance.now();
    const store = Store.open(dir);
    const openMs = performance.now() - t;
    try {
      const end = store.db.prepare('SELECT max(ts) FROM sample').pluck().get() as number;
      t = performance.now();
      const { removed } = store.compact(end, OPTS);
      const firstMs = performance.now() - t;
      const hourlyMs: number[] = [];
      for (let h = 1; h <= HOURLY; h++) {
        t = performance.now();
        store.compact(end + h * 3_600_000, OPTS);
        hourlyMs.push(performance.now() - t);
      }
      const hash = createHash('sha256');
      for (const r of store.db.prepare('SELECT id, ts, ok, keyframe, resets FROM sample ORDER BY id').raw().iterate()) {
        hash.update((r as unknown[]).join(',') + ';');
      }
      // points as the series hold them: packed ones decoded (a Store from before chunks has none)
      const packed = store.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'point_chunk'").get()
        ? ((await import(
            join(src, 'sidecar', 'store', 'chunk-codec.ts')
          )) as typeof import('../src/sidecar/store/chunk-codec'))
        : undefined;
      const chunks =
        packed && store.db.prepare('SELECT data FROM point_chunk WHERE series_id = ? ORDER BY last_sample_id').pluck();
      const rows = store.db
        .prepare('SELECT sample_id, value, total FROM point WHERE series_id = ? ORDER BY sample_id')
        .raw();
      for (const sid of store.db.prepare('SELECT id FROM series ORDER BY id').pluck().all() as number[]) {
        const points = [
          ...(chunks ? (chunks.all(sid) as Buffer[]).flatMap((d) => packed.decodeChunk(d)) : []),
          ...(rows.all(sid) as unknown[][]),
        ];
        for (const p of points) {
          hash.update(`${sid},${p.join(',')};`);
        }
      }
      const digest = hash.digest('hex').slice(0, 16);
      store.db.pragma('wal_checkpoint(TRUNCATE)');
      store.db.exec('VACUUM');
      return { openMs, firstMs, hourlyMs, removed, bytes: statSync(join(dir, 'pgpulse.db')).size, digest };
    } finally {
      store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const here = resolve(__dirname, '..', 'src');
  const other = process.env.BENCH_SRC ? resolve(process.env.BENCH_SRC) : undefined;
  const runs: Array<[string, Timing]> = [];
  if (other) {
    runs.push([`before (${process.env.BENCH_SRC_LABEL ?? other})`, await time(other)]);
  }
  runs.push(['this checkout', await time(here)]);
  const row = (label: string, f: (t: Timing) => string) => `| ${label} | ${runs.map(([, t]) => f(t)).join(' | ')} |`;
  const ms = (x: number) => `${fmt(x / 1000, 2)} s`;
  const last = runs[runs.length - 1][1];
  const body = `# Compaction time on a 7-day store

The query-latency bench's store (${fmt(statSync(join(SOURCE, 'pgpulse.db')).size / 1e6)} MB, 500
statements × 7 counters every 60 s, 4 databases every 15 s, 7 days, nothing compacted yet) copied
and compacted with the sidecar's defaults (downsample after 2 days to 5 min, 14 days retention, points
older than the 2 h head window packed into chunks where the Store has them): the first pass thins 5
days, each hourly pass after it one more hour. The digest of samples and points matches between two
checkouts only when both hold the same history, packed points decoded. Size after VACUUM.

| | ${runs.map(([l]) => l).join(' | ')} |
|---|${runs.map(() => '---:').join('|')}|
${row('open (migrations)', (t) => ms(t.openMs))}
${row('first pass (5 days thinned)', (t) => ms(t.firstMs))}
${row(`hourly passes (${HOURLY})`, (t) => t.hourlyMs.map(ms).join(', '))}
${row('samples removed', (t) => fmt(t.removed))}
${row('digest of samples + points after', (t) => `\`${t.digest}\``)}
${row('file after VACUUM', (t) => `${fmt(t.bytes / 1e6)} MB`)}
${runs.length > 1 ? `\nfirst pass ratio (this / before): ${ratio(last.firstMs, runs[0][1].firstMs)}; hourly (last): ${ratio(last.hourlyMs[HOURLY - 1], runs[0][1].hourlyMs[HOURLY - 1])}` : ''}
`;
  console.log(body);
  console.log(writeResult('compaction.md', body));
}

void main();
