/**
 * Storage faults under a running sidecar (real PostgreSQL 15, real SQLite files): the data
 * directory fills up, is read-only at start, or another process holds the write lock for 30 s. The
 * sidecar stays up and says what is wrong (health, /healthz, /metrics: the store, its path, the fix),
 * serves what it has, and resumes writing by itself; nothing stored before is lost and tables created
 * during the fault get their values under their own series (ground truth: pg_stat_user_tables).
 *
 * Disk full and read-only use a real tmpfs (`mount -t tmpfs`, filled to the last byte; remount ro/rw). Where the
 * sandbox does not allow mounting, disk full falls back to a real SQLITE_FULL via PRAGMA
 * max_page_count and the read-only case is skipped with the reason. Read-only *while running* uses
 * a real ext4 on a loop device aborted by the kernel (`mount -o remount,abort`: emergency read-only,
 * EROFS through open files too — a read-only remount fails with EBUSY while files are open), then a
 * repaired copy mounted in its place; skipped with the reason where loop mounts are not permitted.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startPostgres, type TestPostgres } from '../support/pg';
import { startTestSidecar, type TestSidecar } from '../support/sidecar';
import { sleep } from '../support/wait';

let pg: TestPostgres;

before(async () => {
  pg = await startPostgres();
});
after(async () => {
  await pg?.destroy();
});

function tryMount(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' });
  } catch {
    /* not mounted */
  }
}

/** samples again until `ok()` (bounded: a broken recovery fails the test, it does not hang) */
async function sampleUntil(sc: TestSidecar, ok: () => boolean, what: string, tries = 80): Promise<void> {
  for (let i = 0; i < tries; i++) {
    await sc.sampleNow();
    if (ok()) {
      return;
    }
    await sleep(150);
  }
  assert.fail(
    `${what}: not reached after ${tries} sampling attempts; store status ${JSON.stringify(sc.sidecar.store.status())}`
  );
}

/** what is stored, as rows: compared before and after the fault */
function storedPoints(sc: TestSidecar, maxSampleId: number) {
  return sc.sidecar.store.db
    .prepare('SELECT series_id, sample_id, value FROM point WHERE sample_id <= ? ORDER BY 1, 2')
    .all(maxSampleId);
}

function maxSample(sc: TestSidecar): number {
  return (sc.sidecar.store.db.prepare('SELECT max(id) AS id FROM sample').get() as { id: number }).id;
}

/** N tables, table i with i rows: n_tup_ins per table is known, and differs between tables */
async function createTables(prefix: string, n: number): Promise<void> {
  const stmts = [`DROP SCHEMA IF EXISTS ${prefix} CASCADE`, `CREATE SCHEMA ${prefix}`];
  for (let i = 1; i <= n; i++) {
    stmts.push(`CREATE TABLE ${prefix}.t${i} (v int)`, `INSERT INTO ${prefix}.t${i} SELECT generate_series(1, ${i})`);
  }
  await pg.query(stmts.join(';\n'));
  // wait until the statistics show every insert (flushed at backend exit, at most ~1 s later)
  for (let i = 0; i < 100; i++) {
    const r = await pg.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_user_tables WHERE schemaname = $1 AND n_tup_ins::text = substr(relname, 2)`,
      [prefix]
    );
    if (Number(r[0].n) === n) {
      return;
    }
    await sleep(100);
  }
  assert.fail('table statistics did not settle');
}

/** every table's stored latest n_tup_ins equals PostgreSQL's own figure */
async function assertTablesUnderOwnSeries(sc: TestSidecar, prefix: string, n: number): Promise<void> {
  const truth = await pg.query<{ relname: string; n_tup_ins: string }>(
    'SELECT relname, n_tup_ins FROM pg_stat_user_tables WHERE schemaname = $1',
    [prefix]
  );
  assert.equal(truth.length, n);
  const store = sc.sidecar.store;
  const samples = store.samples('default', 'tables', 0, Date.now() + 1000);
  const series = store.matrix('default', 'tables', ['n_tup_ins'], { schemaname: prefix }, samples);
  const stored = new Map(series.map((s) => [s.labels.relname, s.values[s.values.length - 1]]));
  assert.equal(stored.size, n, `series of all ${n} tables created during the fault are stored`);
  for (const t of truth) {
    assert.equal(stored.get(t.relname), Number(t.n_tup_ins), `${prefix}.${t.relname}: stored value is its own`);
  }
}

async function assertHealthNamesStore(sc: TestSidecar, dataDir: string, kind: RegExp, fix: RegExp): Promise<void> {
  const live = await sc.get('/healthz', null);
  assert.equal(live.status, 200);
  assert.equal(live.json.status, 'degraded');
  assert.match(live.json.problems[0], /history store problem/);
  assert.ok(live.json.problems[0].includes(join(dataDir, 'pgpulse.db')), 'the path is named');
  const health = await sc.get('/api/v1/health');
  assert.equal(health.json.status, 'error');
  assert.match(health.json.message, /history store problem/);
  assert.match(health.json.message, kind);
  assert.match(health.json.message, fix);
  assert.doesNotMatch(health.json.message, /^target default/, 'the store problem is not blamed on the target');
  const metrics = await sc.get('/metrics');
  assert.match(metrics.text, /^pgpulse_store_writable 0$/m);
  assert.ok(
    metrics.text.includes(`pgpulse_store_problem{path="${join(dataDir, 'pgpulse.db')}"`),
    'pgpulse_store_problem names the file'
  );
}

async function assertHealthy(sc: TestSidecar): Promise<void> {
  assert.deepEqual((await sc.get('/healthz', null)).json, { status: 'ok' });
  const metrics = await sc.get('/metrics');
  assert.match(metrics.text, /^pgpulse_store_writable 1$/m);
  assert.doesNotMatch(metrics.text, /^pgpulse_store_problem\{/m);
}

async function tpsValues(sc: TestSidecar, from: number, to: number) {
  const r = await sc.query({ from, to, maxDataPoints: 1000, queries: [{ refId: 'A', metric: 'tps' }] });
  assert.equal(r.status, 200);
  assert.equal(r.json.results.A.status, 200);
  return r.json.results.A.frames.map((f: any) => f.data.values);
}

test('data directory full, then freed: the sidecar stays up, says so, resumes by itself; nothing stored is lost', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pgpulse-full-'));
  const mounted = tryMount(dataDir, '16m');
  if (!mounted) {
    t.diagnostic('mount not permitted here: disk full is a real SQLITE_FULL through PRAGMA max_page_count');
  }
  const sc = await startTestSidecar({ url: pg.url, dataDir });
  const ballast = join(dataDir, 'ballast');
  try {
    sc.sidecar.store.retryPolicy = { minMs: 100, maxMs: 400 };
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) {
      await sc.sampleNow();
    }
    const t1 = Date.now();
    const kept = maxSample(sc);
    const before = storedPoints(sc, kept);
    const tpsBefore = await tpsValues(sc, t0 - 1000, t1);

    if (mounted) {
      // fill the filesystem to the last byte
      const fd = openSync(ballast, 'w');
      const chunk = Buffer.alloc(64 * 1024, 1);
      try {
        for (;;) {
          writeSync(fd, chunk);
        }
      } catch (e) {
        assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
      } finally {
        closeSync(fd);
      }
    } else {
      sc.sidecar.store.db.pragma(
        `max_page_count = ${sc.sidecar.store.db.pragma('page_count', { simple: true }) as number}`
      );
    }
    await createTables('fullt', 200);
    await sampleUntil(sc, () => sc.sidecar.store.status().problem?.kind === 'full', 'store reports disk full');
    await assertHealthNamesStore(sc, dataDir, /is full/, /free space/);
    // keeps serving what it has: the same answer as before the fault
    assert.deepEqual(await tpsValues(sc, t0 - 1000, t1), tpsBefore);

    if (mounted) {
      unlinkSync(ballast);
    } else {
      sc.sidecar.store.db.pragma('max_page_count = 1073741823');
    }
    await sampleUntil(sc, () => sc.sidecar.store.status().writable, 'store writable again');
    await sc.sampleNow();
    await assertHealthy(sc);
    assert.deepEqual(storedPoints(sc, kept), before, 'everything stored before the fault is intact');
    assert.equal(sc.sidecar.store.db.pragma('integrity_check', { simple: true }), 'ok');
    await assertTablesUnderOwnSeries(sc, 'fullt', 200);
  } finally {
    await sc.stop();
    unmount(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('data directory full at start: the sidecar starts (no crash loop), serves the history, says why, and resumes when space returns', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pgpulse-fullstart-'));
  if (!tryMount(dataDir, '16m')) {
    rmSync(dataDir, { recursive: true, force: true });
    t.skip('mount not permitted in this sandbox: a full filesystem at start cannot be produced');
    return;
  }
  const ballast = join(dataDir, 'ballast');
  let sc: TestSidecar | undefined;
  try {
    const first = await startTestSidecar({ url: pg.url, dataDir });
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) {
      await first.sampleNow();
    }
    const t1 = Date.now();
    const kept = maxSample(first);
    const before = storedPoints(first, kept);
    const tpsBefore = await tpsValues(first, t0 - 1000, t1);
    await first.stop();

    const fd = openSync(ballast, 'w');
    try {
      for (;;) {
        writeSync(fd, Buffer.alloc(64 * 1024, 1));
      }
    } catch (e) {
      assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      closeSync(fd);
    }
    sc = await startTestSidecar({ url: pg.url, dataDir });
    sc.sidecar.store.retryPolicy = { minMs: 100, maxMs: 400 };
    await createTables('fullstart', 50);
    await sampleUntil(sc, () => sc!.sidecar.store.status().problem !== undefined, 'store reports its problem');
    const live = await sc.get('/healthz', null);
    assert.equal(live.json.status, 'degraded');
    assert.ok(live.json.problems[0].includes(join(dataDir, 'pgpulse.db')), 'the path is named');
    assert.deepEqual(await tpsValues(sc, t0 - 1000, t1), tpsBefore, 'the stored history is served');

    unlinkSync(ballast);
    await sampleUntil(sc, () => sc!.sidecar.store.status().writable, 'store writable again');
    await sc.sampleNow();
    await assertHealthy(sc);
    assert.deepEqual(storedPoints(sc, kept), before, 'everything stored before is intact');
    assert.equal(sc.sidecar.store.db.pragma('integrity_check', { simple: true }), 'ok');
    await assertTablesUnderOwnSeries(sc, 'fullstart', 50);
  } finally {
    await sc?.stop();
    unmount(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('data directory read-only at start: no crash, history served read-only with the reason; writable again → writing resumes', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pgpulse-ro-'));
  if (!tryMount(dataDir, '64m')) {
    rmSync(dataDir, { recursive: true, force: true });
    t.skip('mount not permitted in this sandbox: a read-only filesystem cannot be produced (chmod does not stop root)');
    return;
  }
  let sc: TestSidecar | undefined;
  try {
    // a first run writes some history and stops cleanly
    const first = await startTestSidecar({ url: pg.url, dataDir });
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) {
      await first.sampleNow();
    }
    const t1 = Date.now();
    const kept = maxSample(first);
    const before = storedPoints(first, kept);
    const tpsBefore = await tpsValues(first, t0 - 1000, t1);
    await first.stop();

    execFileSync('mount', ['-o', 'remount,ro', dataDir]);
    sc = await startTestSidecar({ url: pg.url, dataDir });
    sc.sidecar.store.retryPolicy = { minMs: 100, maxMs: 400 };
    assert.equal(sc.sidecar.store.status().mode, 'read-only');
    await assertHealthNamesStore(sc, dataDir, /read-only/, /writable/);
    assert.match((await sc.get('/api/v1/health')).json.message, /Serving the stored history read-only/);
    assert.deepEqual(await tpsValues(sc, t0 - 1000, t1), tpsBefore, 'the stored history is served');
    await createTables('rot', 50);
    await sc.sampleNow();
    await sleep(200);
    await sc.sampleNow();
    assert.equal(sc.sidecar.store.status().writable, false);

    execFileSync('mount', ['-o', 'remount,rw', dataDir]);
    await sampleUntil(sc, () => sc!.sidecar.store.status().writable, 'store writable again');
    await sc.sampleNow();
    await assertHealthy(sc);
    assert.equal(sc.sidecar.store.status().mode, 'read-write');
    assert.deepEqual(storedPoints(sc, kept), before, 'everything stored before is intact');
    assert.equal(sc.sidecar.store.db.pragma('integrity_check', { simple: true }), 'ok');
    await assertTablesUnderOwnSeries(sc, 'rot', 50);
  } finally {
    await sc?.stop();
    try {
      execFileSync('mount', ['-o', 'remount,rw', dataDir], { stdio: 'ignore' });
    } catch {
      /* already rw */
    }
    unmount(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/** an ext4 filesystem in an image file, mounted on `dir` through a loop device; false where mounting is not permitted */
function tryMountExt4(image: string, dir: string): boolean {
  try {
    execFileSync('truncate', ['-s', '64M', image]);
    execFileSync('mkfs.ext4', ['-q', '-F', image], { stdio: 'ignore' });
    // remount-ro (not panic) is what an error does to it: the effect an abort has below
    execFileSync('mount', ['-o', 'loop,errors=remount-ro', image, dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('the filesystem turns read-only while running, then a repaired one is mounted in its place: no crash, the history served, writing resumes by itself, queries read the new file', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pgpulse-rorun-'));
  const image = `${dataDir}.img`;
  const repaired = `${dataDir}.repaired.img`;
  if (!tryMountExt4(image, dataDir)) {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(image, { force: true });
    t.skip('mount of a loop device not permitted in this sandbox: a filesystem cannot turn read-only under open files');
    return;
  }
  let sc: TestSidecar | undefined;
  try {
    sc = await startTestSidecar({ url: pg.url, dataDir });
    sc.sidecar.store.retryPolicy = { minMs: 100, maxMs: 400 };
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) {
      await sc.sampleNow();
    }
    const t1 = Date.now();
    const kept = maxSample(sc);
    const before = storedPoints(sc, kept);
    const tpsBefore = await tpsValues(sc, t0 - 1000, t1);

    // what was written is on the disk; then the kernel aborts the filesystem as it does on an I/O
    // error (emergency read-only): every write fails with EROFS from now on, through the files
    // the sidecar holds open as well. A remount read-only cannot do this (EBUSY while files are open).
    execFileSync('sync', ['-f', dataDir]);
    execFileSync('mount', ['-o', 'remount,abort', dataDir]);
    await createTables('rorun', 50);
    await sampleUntil(sc, () => sc!.sidecar.store.status().problem !== undefined, 'store reports the fault');
    const problem = sc.sidecar.store.status().problem!;
    assert.ok(problem.kind === 'read-only' || problem.kind === 'io', `read-only or I/O, got ${problem.kind}`);
    await assertHealthNamesStore(sc, dataDir, /read-only|I\/O error/, /writable|check the disk/);
    assert.deepEqual(await tpsValues(sc, t0 - 1000, t1), tpsBefore, 'the stored history is still served');
    await sc.sampleNow();
    assert.equal(sc.sidecar.store.status().writable, false);

    // an operator's repair: the aborted filesystem is detached (the sidecar still holds files on
    // it), a checked copy mounted in its place
    execFileSync('umount', ['-l', dataDir]);
    execFileSync('cp', ['--sparse=always', image, repaired]);
    const fsck = spawnSync('e2fsck', ['-fy', repaired], { stdio: 'ignore' });
    assert.ok(fsck.status !== null && fsck.status <= 1, `e2fsck repaired the copy (exit ${fsck.status})`);
    execFileSync('mount', ['-o', 'loop', repaired, dataDir]);
    await sampleUntil(sc, () => sc!.sidecar.store.status().writable, 'store writable again');
    await sc.sampleNow();
    await assertHealthy(sc);
    assert.deepEqual(storedPoints(sc, kept), before, 'everything stored before the fault is intact');
    assert.equal(sc.sidecar.store.db.pragma('integrity_check', { simple: true }), 'ok');
    await assertTablesUnderOwnSeries(sc, 'rorun', 50);

    // the query worker reads the file now in place, not the one it opened before the fault
    const from = t0 - 1000;
    const to = Date.now();
    const local = sc.sidecar.service.engine.run({
      query: { refId: 'A', metric: 'tps', target: 'default' } as never,
      range: { from, to },
      maxDataPoints: 1000,
      targetIntervalMs: 1000,
    });
    assert.deepEqual(
      await tpsValues(sc, from, to),
      local.frames.map((f) => f.fields.map((x) => x.values)),
      'the worker answers from the history written after the repair'
    );
  } finally {
    await sc?.stop();
    unmount(dataDir);
    unmount(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(image, { force: true });
    rmSync(repaired, { force: true });
  }
});

test('another process holds the write lock for 30 s: the sidecar stays up and answers, then resumes; nothing lost', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pgpulse-lock-'));
  const sc = await startTestSidecar({ url: pg.url, dataDir });
  try {
    sc.sidecar.store.retryPolicy = { minMs: 200, maxMs: 2000 };
    for (let i = 0; i < 3; i++) {
      await sc.sampleNow();
    }
    const kept = maxSample(sc);
    const before = storedPoints(sc, kept);
    const sqlite = require.resolve('better-sqlite3');
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const db = new (require(${JSON.stringify(sqlite)}))(${JSON.stringify(join(dataDir, 'pgpulse.db'))});
         db.exec('BEGIN IMMEDIATE'); console.log('locked');
         setTimeout(() => { db.exec('COMMIT'); db.close(); console.log('released'); }, 30000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] }
    );
    let out = '';
    holder.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => holder.once('exit', r));
    try {
      while (!out.includes('locked')) {
        await sleep(50);
      }
      await createTables('lockt', 100);
      await sampleUntil(sc, () => sc.sidecar.store.status().problem?.kind === 'locked', 'store reports the lock');
      await assertHealthNamesStore(sc, dataDir, /another process holds the write lock/, /stop the other process/);
      // keeps answering while the lock is held
      while (!out.includes('released')) {
        assert.equal((await sc.get('/healthz', null)).status, 200);
        await sc.sampleNow();
        await sleep(500);
      }
    } finally {
      holder.kill();
      await exited;
    }
    await sampleUntil(sc, () => sc.sidecar.store.status().writable, 'store writable again');
    await sc.sampleNow();
    await assertHealthy(sc);
    assert.deepEqual(storedPoints(sc, kept), before, 'everything stored before the lock is intact');
    assert.equal(sc.sidecar.store.db.pragma('integrity_check', { simple: true }), 'ok');
    await assertTablesUnderOwnSeries(sc, 'lockt', 100);
  } finally {
    await sc.destroy();
  }
});
