/**
 * Database load (activity sampler) against ground truth, through a pg_monitor-only role
 * (registered in matrix.ts SUITES):
 * - sessions the test blocks on a row lock show as Lock/transactionid, sessions in pg_sleep as
 *   Timeout/PgSleep, each with the number of sessions the test keeps there: the load (AAS) equals
 *   that number, since every tick sees them all;
 * - the query_id reported for the blocked UPDATE equals pg_stat_activity.query_id of those
 *   backends and the queryid pg_stat_statements records for the statement;
 * - the drill-down from a wait event lists only the statement waiting on it;
 * - with the sampling loop running (1 s interval, 250 ms ticks), the first whole bucket after the
 *   sessions started holds them, and pgpulse's own backends are never counted;
 * - sessions of pgpulse's role named pgpulse… (another pgpulse process) are not load, a session of
 *   another role that merely calls itself pgpulse is.
 * Its objects are named ld_* apart from other suites; every session it opens is closed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { activitySamplers } from '../../../src/sidecar/activity';
import type { ActivitySampler } from '../../../src/sidecar/activity/sampler';
import type { TestPostgres } from '../../support/pg';
import type { MatrixServer } from '../../support/pg-matrix';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { pause, tableRows } from './frames';

const APP = 'ld_app';
const LOCKED = 3;
const SLEEPERS = 2;
const TICKS = 5;

interface Series {
  labels: Record<string, string>;
  values: Array<number | null>;
}

export function loadTruthSuite(server: MatrixServer, getPg: () => TestPostgres): void {
  describe(`${server.label}: database load by wait event against ground truth (pg_monitor-only role)`, () => {
    let pg: TestPostgres;
    let sc: TestSidecar;
    let act: ActivitySampler;
    const clients: Client[] = [];
    const running: Array<Promise<unknown>> = [];
    let holder: Client;
    let from = 0;
    let to = 0;

    const connect = async (): Promise<Client> => {
      const c = new Client({ connectionString: pg.urlFor('postgres'), application_name: APP });
      c.on('error', () => undefined);
      await c.connect();
      clients.push(c);
      return c;
    };
    const pids = async (sql: string): Promise<number[]> => (await pg.query<{ pid: number }>(sql)).map((r) => r.pid);
    /** until the server shows what the test set up: the sessions' own start is asynchronous */
    const until = async (what: string, ok: () => Promise<boolean>): Promise<void> => {
      for (let i = 0; i < 200; i++) {
        if (await ok()) {
          return;
        }
        await pause(50);
      }
      assert.fail(`the server never showed ${what}`);
    };
    const series = async (
      s: TestSidecar,
      metric: string,
      extra: Record<string, unknown>,
      range = { from, to }
    ): Promise<Series[]> => {
      const res = await s.query({
        ...range,
        intervalMs: 60_000,
        maxDataPoints: 1,
        queries: [{ refId: 'A', metric, ...extra }],
      });
      const r = res.json.results.A;
      assert.equal(r.error, undefined, `${metric}: ${r.error}`);
      return (r.frames as any[])
        .filter((f) => f.schema.fields.length > 1)
        .map((f) => ({ labels: f.schema.fields[1].labels ?? {}, values: f.data.values[1] as Array<number | null> }));
    };
    const table = async (metric: string, extra: Record<string, unknown> = {}) =>
      tableRows((await sc.query({ from, to, queries: [{ refId: 'A', metric, ...extra }] })).json, 'A');
    const only = (s: Series[], label: string, value: string): number[] =>
      s.filter((x) => x.labels[label] === value).flatMap((x) => x.values.filter((v): v is number => v !== null));

    before(async () => {
      pg = getPg();
      await pg.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'ld_monitor') THEN
          CREATE ROLE ld_monitor LOGIN PASSWORD 'ldpw' IN ROLE pg_monitor;
        END IF; END $$`);
      await pg.query('CREATE TABLE IF NOT EXISTS public.ld_rows (id int PRIMARY KEY, v int)');
      await pg.query(
        `INSERT INTO public.ld_rows SELECT g, 0 FROM pg_catalog.generate_series(1, ${LOCKED}) g ON CONFLICT (id) DO NOTHING`
      );
      // one bucket per minute: the test closes it itself after a known number of ticks
      sc = await startTestSidecar({ url: pg.urlFor('postgres', 'ld_monitor', 'ldpw'), intervalMs: 60_000 });
      act = activitySamplers.get(sc.sidecar)!.get('default')!;
      await sc.sampleNow();

      holder = await connect();
      await holder.query('BEGIN');
      await holder.query('UPDATE public.ld_rows SET v = v + 1');
      // one waiter per row: a second waiter on the same row would queue on the first one's tuple lock (Lock/tuple)
      for (let i = 1; i <= LOCKED; i++) {
        const c = await connect();
        running.push(c.query(`UPDATE public.ld_rows SET v = v + 1 WHERE id = ${i}`).catch(() => undefined));
      }
      for (let i = 0; i < SLEEPERS; i++) {
        const c = await connect();
        running.push(c.query('SELECT pg_catalog.pg_sleep(600)').catch(() => undefined));
      }
      await until(`${LOCKED} sessions on Lock/transactionid and ${SLEEPERS} in pg_sleep`, async () => {
        const r = await pg.query<{ lock: number; sleep: number }>(
          `SELECT count(*) FILTER (WHERE wait_event_type = 'Lock' AND wait_event = 'transactionid')::int AS lock,
                  count(*) FILTER (WHERE wait_event_type = 'Timeout' AND wait_event = 'PgSleep')::int AS sleep
           FROM pg_catalog.pg_stat_activity WHERE application_name = $1 AND state = 'active'`,
          [APP]
        );
        return r[0].lock === LOCKED && r[0].sleep === SLEEPERS;
      });
      // a bucket of exactly TICKS ticks, all taken while the sessions wait
      from = Date.now();
      act.flush(from);
      for (let i = 0; i < TICKS; i++) {
        await act.tick();
      }
      act.flush(Date.now());
      to = Date.now() + 1;
    });

    after(async () => {
      await pg
        ?.query(
          `SELECT pg_catalog.pg_cancel_backend(pid) FROM pg_catalog.pg_stat_activity WHERE application_name = $1 AND query LIKE 'SELECT pg_catalog.pg_sleep%'`,
          [APP]
        )
        .catch(() => undefined);
      await holder?.query('ROLLBACK').catch(() => undefined);
      await Promise.all(running);
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      await sc?.destroy();
      await pg?.query('DROP TABLE IF EXISTS public.ld_rows').catch(() => undefined);
    });

    it(`counts ${LOCKED} sessions blocked on a row lock as Lock/transactionid and ${SLEEPERS} in pg_sleep as Timeout/PgSleep`, async () => {
      assert.equal(act.stats.failed, 0, `ticks failed: ${act.stats.lastError}`);
      const rows = await table('db_load_wait_events');
      const load = (type: string, event: string) =>
        rows.find((r) => r.wait_event_type === type && r.wait_event === event)?.load;
      assert.equal(load('Lock', 'transactionid'), LOCKED, JSON.stringify(rows));
      assert.equal(load('Timeout', 'PgSleep'), SLEEPERS, JSON.stringify(rows));
      // the holder is idle in transaction: not load
      assert.equal(rows.filter((r) => r.wait_event_type === 'Client').length, 0, JSON.stringify(rows));
    });

    it("every statement of the tick's one-round-trip transaction carries pgpulse's mark in pg_stat_statements", async () => {
      const texts = await pg.query<{ query: string }>(
        `SELECT query FROM public.pg_stat_statements WHERE query LIKE '%pg_catalog.pg_stat_activity a%' AND query LIKE '%GROUP BY 1, 2, 3, 4, 5, 6, 7%'`
      );
      assert.ok(texts.length > 0, 'the tick statement is in pg_stat_statements');
      for (const t of texts) {
        assert.ok(t.query.trimEnd().endsWith('/* pgpulse */'), t.query);
      }
    });

    it('database load (AAS) per wait event type equals the sessions the test keeps active', async () => {
      const s = await series(sc, 'db_load', { database: 'postgres' });
      assert.deepEqual(only(s, 'wait_event_type', 'Lock'), [LOCKED]);
      assert.deepEqual(only(s, 'wait_event_type', 'Timeout'), [SLEEPERS]);
      const apps = await series(sc, 'db_load_by_application', {});
      assert.deepEqual(only(apps, 'application_name', APP), [LOCKED + SLEEPERS]);
      assert.equal(
        apps.filter((x) => x.labels.application_name.startsWith('pgpulse')).length,
        0,
        'pgpulse counted itself'
      );
      const users = await series(sc, 'db_load_by_user', { waitEvent: 'Lock/transactionid' });
      assert.deepEqual(only(users, 'usename', 'postgres'), [LOCKED]);
    });

    it("reports the blocked UPDATE's query_id, equal to pg_stat_activity's and pg_stat_statements' queryid", async () => {
      const fromActivity = await pg.query<{ q: string }>(
        `SELECT DISTINCT query_id::text AS q FROM pg_catalog.pg_stat_activity WHERE application_name = $1 AND wait_event = 'transactionid'`,
        [APP]
      );
      assert.equal(fromActivity.length, 1);
      const rows = await table('db_load_statements', { waitEvent: 'Lock/transactionid' });
      assert.equal(rows.length, 1, JSON.stringify(rows));
      assert.equal(rows[0].queryid, fromActivity[0].q);
      assert.equal(rows[0].load, LOCKED);
      assert.equal(rows[0].top_wait_event, 'Lock/transactionid');
      // pg_stat_statements records the UPDATE when it finishes: release the lock, then compare
      await holder.query('ROLLBACK');
      await until(
        'the blocked UPDATEs finish',
        async () =>
          (
            await pids(
              `SELECT pid FROM pg_catalog.pg_stat_activity WHERE application_name = '${APP}' AND wait_event = 'transactionid'`
            )
          ).length === 0
      );
      // a session stops waiting when it gets the lock, and its entry is stored when its UPDATE ends a
      // moment later (CI under load once read the view in between: [])
      await until(
        `pg_stat_statements recording the blocked UPDATE under queryid ${String(rows[0].queryid)}`,
        async () =>
          (
            await pg.query<{ q: string }>(
              `SELECT queryid::text AS q FROM public.pg_stat_statements WHERE query LIKE 'UPDATE public.ld_rows SET v = v + $1 WHERE id = $2%'`
            )
          ).some((r) => r.q === rows[0].queryid)
      );
      const sleeps = await table('db_load_statements', { waitEvent: 'Timeout/PgSleep' });
      assert.equal(sleeps.length, 1, JSON.stringify(sleeps));
      assert.equal(sleeps[0].load, SLEEPERS);
      assert.notEqual(sleeps[0].queryid, rows[0].queryid);
    });

    it('compute_query_id = off: the statement table says why it is empty, naming the fix', async () => {
      await pg.query('ALTER SYSTEM SET compute_query_id = off');
      await pg.query('SELECT pg_catalog.pg_reload_conf()');
      let extra: number | undefined;
      try {
        const c = await connect();
        extra = (c as unknown as { processID: number }).processID;
        // a new statement after the reload: no query_id
        running.push(c.query('SELECT pg_catalog.pg_sleep(600)').catch(() => undefined));
        await until(
          'a session in pg_sleep without a query_id',
          async () =>
            (
              await pg.query(
                `SELECT 1 FROM pg_catalog.pg_stat_activity WHERE application_name = $1 AND wait_event = 'PgSleep' AND query_id IS NULL`,
                [APP]
              )
            ).length > 0
        );
        const t0 = Date.now();
        act.flush(t0);
        await act.tick();
        await act.tick();
        act.flush(Date.now());
        const res = (
          await sc.query({ from: t0, to: Date.now() + 1, queries: [{ refId: 'A', metric: 'db_load_statements' }] })
        ).json.results.A;
        const notices = (res.frames[0].schema.meta.notices ?? []).map((n: { text: string }) => n.text).join('\n');
        assert.match(notices, /compute_query_id = off/);
        assert.match(notices, /set compute_query_id = on/);
      } finally {
        await pg.query('ALTER SYSTEM RESET compute_query_id');
        await pg.query('SELECT pg_catalog.pg_reload_conf()');
        if (extra) {
          // the next test counts the suite's own sleepers
          await pg.query('SELECT pg_catalog.pg_cancel_backend($1)', [extra]);
          await until(
            'the extra sleeper to end',
            async () =>
              (await pids(`SELECT pid FROM pg_catalog.pg_stat_activity WHERE pid = ${extra} AND state = 'active'`))
                .length === 0
          );
        }
      }
    });

    it('with the sampling loop running, the first whole bucket after the sessions started holds them, without pgpulse itself', async () => {
      await until(
        `${SLEEPERS} sessions in pg_sleep`,
        async () =>
          (
            await pids(
              `SELECT pid FROM pg_catalog.pg_stat_activity WHERE application_name = '${APP}' AND wait_event = 'PgSleep'`
            )
          ).length === SLEEPERS
      );
      // every bucket this sidecar writes begins after the sessions were there
      const live = await startTestSidecar({
        url: pg.urlFor('postgres', 'ld_monitor', 'ldpw'),
        intervalMs: 1000,
        sampling: true,
        targets: [
          {
            name: 'default',
            url: pg.urlFor('postgres', 'ld_monitor', 'ldpw'),
            activity: { interval: '250ms', vcpus: 4 },
          },
        ],
      });
      try {
        const store = live.sidecar.store;
        const firstBucket = () => {
          const samples = store.samples('default', 'load_ticks', 0, Date.now() + 1000);
          const ticks = store.matrix('default', 'load_ticks', ['ticks'], undefined, samples)[0]?.values ?? [];
          return samples.find((sm, i) => sm.ok && (ticks[i] ?? 0) > 0);
        };
        for (let i = 0; i < 600 && !firstBucket(); i++) {
          await pause(50);
        }
        const first = firstBucket();
        assert.ok(first, 'the activity sampler wrote no bucket with a tick');
        const range = { from: first.ts - 999, to: first.ts };
        // by the suite's application: the wait type Timeout also holds autovacuum's VacuumDelay, and
        // autovacuum runs on this shared server whenever earlier suites changed enough rows
        const apps = await series(live, 'db_load_by_application', {}, range);
        assert.deepEqual(only(apps, 'application_name', APP), [SLEEPERS], JSON.stringify(apps));
        assert.equal(
          apps.filter((x) => x.labels.application_name.startsWith('pgpulse')).length,
          0,
          `pgpulse counted itself: ${JSON.stringify(apps)}`
        );
        const vcpus = await series(live, 'db_load_vcpus', {}, range);
        assert.deepEqual(
          vcpus.flatMap((x) => x.values.filter((v) => v !== null)),
          [4]
        );
      } finally {
        await live.destroy();
      }
    });

    it("another process's pgpulse session of pgpulse's own role is not load; a session of another role that calls itself pgpulse is", async () => {
      const own = new Client({
        connectionString: pg.urlFor('postgres', 'ld_monitor', 'ldpw'),
        application_name: 'pgpulse-cli',
      });
      const fake = new Client({ connectionString: pg.urlFor('postgres'), application_name: 'pgpulse-fake' });
      const both = [own, fake];
      for (const c of both) {
        c.on('error', () => undefined);
        await c.connect();
      }
      const pending = both.map((c) => c.query('SELECT pg_catalog.pg_sleep(600)').catch(() => undefined));
      try {
        await until(
          'both in pg_sleep',
          async () =>
            (
              await pids(
                `SELECT pid FROM pg_catalog.pg_stat_activity WHERE application_name IN ('pgpulse-cli', 'pgpulse-fake') AND wait_event = 'PgSleep'`
              )
            ).length === 2
        );
        const t0 = Date.now();
        act.flush(t0);
        await act.tick();
        act.flush(Date.now());
        const apps = await series(sc, 'db_load_by_application', {}, { from: t0, to: Date.now() + 1 });
        assert.deepEqual(only(apps, 'application_name', 'pgpulse-fake'), [1], JSON.stringify(apps));
        assert.deepEqual(only(apps, 'application_name', 'pgpulse-cli'), [], JSON.stringify(apps));
      } finally {
        await pg.query(
          `SELECT pg_catalog.pg_cancel_backend(pid) FROM pg_catalog.pg_stat_activity WHERE application_name IN ('pgpulse-cli', 'pgpulse-fake')`
        );
        await Promise.all(pending);
        await Promise.all(both.map((c) => c.end().catch(() => undefined)));
      }
    });
  });
}
