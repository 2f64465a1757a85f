/**
 * Faults of the monitored PostgreSQL (a real 15 cluster): frozen (SIGSTOP), stopped in immediate
 * mode (SIGQUIT, crash recovery on restart), out of connection slots. Each time the sidecar stays up,
 * health answers with the cause instead of hanging, nothing stored is lost (points intact,
 * integrity_check ok), and sampling resumes when the server is back.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from 'pg';
import { startPostgres, type TestPostgres } from '../support/pg';
import { startTestSidecar, type TestSidecar } from '../support/sidecar';
import { sleep } from '../support/wait';

let pg: TestPostgres;

before(async () => {
  pg = await startPostgres();
  await pg.query('CREATE ROLE mon LOGIN; GRANT pg_monitor TO mon; CREATE ROLE hog LOGIN');
});
after(async () => {
  await pg?.destroy();
});

function postmasterPid(): number {
  return Number(readFileSync(join(pg.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

/** the postmaster and every process it started (backends, checkpointer …) */
function clusterPids(): number[] {
  const pm = postmasterPid();
  let children: number[] = [];
  try {
    children = execFileSync('pgrep', ['-P', String(pm)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    /* no children */
  }
  return [pm, ...children];
}

/** answers within `ms`, or the test fails saying it hung (a bound, not a performance figure) */
async function answers<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([p, hung]);
  } finally {
    clearTimeout(timer);
  }
}

function snapshot(sc: TestSidecar) {
  const db = sc.sidecar.store.db;
  const max = (db.prepare('SELECT max(id) AS id FROM sample').get() as { id: number }).id;
  return {
    max,
    points: db.prepare('SELECT series_id, sample_id, value FROM point WHERE sample_id <= ? ORDER BY 1, 2').all(max),
  };
}

function assertNothingLost(sc: TestSidecar, before: ReturnType<typeof snapshot>): void {
  const db = sc.sidecar.store.db;
  assert.deepEqual(
    db.prepare('SELECT series_id, sample_id, value FROM point WHERE sample_id <= ? ORDER BY 1, 2').all(before.max),
    before.points,
    'stored points intact'
  );
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
}

function okSamplesAfter(sc: TestSidecar, ts: number): number {
  return sc.sidecar.store.samples('default', 'server', ts, Date.now() + 1000).filter((s) => s.ok && s.ts >= ts).length;
}

test('PostgreSQL frozen (SIGSTOP): health answers with the cause instead of hanging; sampling resumes after SIGCONT', async () => {
  const sc = await startTestSidecar({ url: pg.urlFor('postgres', 'mon') });
  let pids: number[] = [];
  try {
    await sc.sampleNow();
    await sc.sampleNow(); // leaves an idle pooled connection: the one a naive health check would hang on
    const before = snapshot(sc);
    pids = clusterPids();
    for (const pid of pids) {
      process.kill(pid, 'SIGSTOP');
    }
    const health = await answers(sc.get('/api/v1/health'), 30_000, 'health on a frozen server');
    assert.equal(health.json.status, 'error');
    assert.match(health.json.message, /cannot connect: .*no answer within \d+ s \(server frozen/);
    assert.deepEqual((await answers(sc.get('/healthz', null), 5000, '/healthz')).json, { status: 'ok' });
    const cycle = sc.sampleNow(); // waits on the frozen server
    await sleep(1000);
    const thawed = Date.now();
    for (const pid of pids) {
      process.kill(pid, 'SIGCONT');
    }
    await answers(cycle, 60_000, 'the sampling cycle after SIGCONT');
    await sc.sampleNow();
    assert.ok(okSamplesAfter(sc, thawed) >= 1, 'sampling resumed');
    assert.equal((await sc.get('/api/v1/health')).json.status, 'ok');
    assertNothingLost(sc, before);
  } finally {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
    await sc.destroy();
  }
});

test('PostgreSQL stopped in immediate mode: the gap is recorded, health says connection refused, sampling resumes after restart', async () => {
  const sc = await startTestSidecar({ url: pg.urlFor('postgres', 'mon') });
  try {
    await sc.sampleNow();
    const before = snapshot(sc);
    const pm = postmasterPid();
    process.kill(pm, 'SIGQUIT'); // immediate shutdown: no checkpoint, crash recovery at the next start
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pm, 0);
        await sleep(100);
      } catch {
        break;
      }
    }
    const down = Date.now();
    await sc.sampleNow();
    const failed = sc.sidecar.store.samples('default', 'server', down, Date.now() + 1000).filter((s) => !s.ok);
    assert.ok(failed.length >= 1, 'the gap is stored as a failed sample');
    const health = await answers(sc.get('/api/v1/health'), 30_000, 'health with the server down');
    assert.equal(health.json.status, 'error');
    assert.match(health.json.message, /cannot connect: target default: connection refused/);
    assert.equal((await sc.get('/healthz', null)).status, 200);

    await pg.start();
    const up = Date.now();
    await sc.sampleNow();
    assert.ok(okSamplesAfter(sc, up) >= 1, 'sampling resumed');
    const events = sc.sidecar.store.events('default', down - 1000, Date.now() + 1000).map((e) => e.kind);
    assert.ok(events.includes('target_down') && events.includes('target_up'), `events ${events.join(',')}`);
    assertNothingLost(sc, before);
  } finally {
    await sc.destroy();
  }
});

test('no connection slot left: health names "too many clients", nothing is lost, sampling resumes when slots free up', async () => {
  const sc = await startTestSidecar({ url: pg.urlFor('postgres', 'mon') });
  const hogs: Client[] = [];
  try {
    await sc.sampleNow();
    const before = snapshot(sc);
    // the sidecar's pooled connections go away, so it must open new ones
    await pg.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'mon'");
    const max = Number(
      (
        await pg.query<{ n: string }>(
          "SELECT (current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int) AS n"
        )
      )[0].n
    );
    const used =
      Number(
        (
          await pg.query<{ n: string }>(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'client backend'"
          )
        )[0].n
      ) - 1;
    for (let i = 0; i < max - used; i++) {
      const c = new Client({ connectionString: pg.urlFor('postgres', 'hog') });
      try {
        await c.connect();
        hogs.push(c);
      } catch {
        await c.end().catch(() => undefined);
        break; // full already
      }
    }
    const full = Date.now();
    await sc.sampleNow();
    assert.ok(
      sc.sidecar.store.samples('default', 'server', full, Date.now() + 1000).some((s) => !s.ok),
      'the gap is stored'
    );
    const health = await answers(sc.get('/api/v1/health'), 30_000, 'health without a connection slot');
    assert.equal(health.json.status, 'error');
    assert.match(
      health.json.message,
      /cannot connect: target default: no connection slot left \(.*\) — close idle sessions, raise max_connections/
    );
    assert.equal((await sc.get('/healthz', null)).status, 200);

    await Promise.all(hogs.splice(0).map((c) => c.end()));
    const freed = Date.now();
    await sc.sampleNow();
    assert.ok(okSamplesAfter(sc, freed) >= 1, 'sampling resumed');
    assertNothingLost(sc, before);
  } finally {
    await Promise.all(hogs.map((c) => c.end().catch(() => undefined)));
    await sc.destroy();
  }
});
