/**
 * Vital signs against ground truth read from the same server, through a pg_monitor-only role
 * (registered in matrix.ts SUITES):
 * - a session left idle in transaction for a known time: its age, the count per state and bucket,
 *   the oldest-transactions table (statement scrubbed) and connections by application;
 * - sequences advanced with setval to known values: the exact share used, against the limit of
 *   the column type they feed (bigint sequence → int4 column; descending → int2 column);
 * - a throttled VACUUM: its progress row equals pg_stat_progress_vacuum read around the sample;
 * - an autovacuum worker kept busy on a test table: counted between pg_stat_activity reads around the sample;
 * - pg_stat_io (PG16+): the reads/hits reported between two samples lie between the view's deltas
 *   read around them and include the test's scans; PG14/15 answer "needs PostgreSQL 16".
 * Objects are named vs_* apart from other suites; the server is left running.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import type { TestPostgres } from '../../support/pg';
import type { MatrixServer } from '../../support/pg-matrix';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { pause, tableRows } from './frames';

const ROLE = 'vs_monitor';
const APP = 'vs_app';

interface Series {
  labels: Record<string, string>;
  values: Array<number | null>;
}

export function vitalSignsTruthSuite(server: MatrixServer, getPg: () => TestPostgres): void {
  describe(`${server.label}: vital signs — sessions, sequences, vacuum, I/O (pg_monitor-only role)`, () => {
    let pg: TestPostgres;
    let sc: TestSidecar;
    const started = Date.now();
    const clients: Client[] = [];

    const answer = async (metric: string, extra: Record<string, unknown> = {}) =>
      (
        await sc.query({
          from: started - 1000,
          to: Date.now() + 1000,
          intervalMs: 1000,
          queries: [{ refId: 'A', metric, ...extra }],
        })
      ).json.results.A;
    const series = async (metric: string, extra: Record<string, unknown> = {}): Promise<Series[]> => {
      const r = await answer(metric, extra);
      assert.equal(r.error, undefined, `${metric}: ${r.error}`);
      return (r.frames as any[])
        .filter((f) => f.schema.fields.length > 1)
        .map((f) => ({ labels: f.schema.fields[1].labels ?? {}, values: f.data.values[1] as Array<number | null> }));
    };
    const lastOf = (s: Series | undefined): number | undefined =>
      s?.values.filter((v): v is number => v !== null).at(-1);
    const table = async (metric: string) =>
      tableRows(
        (await sc.query({ from: started, to: Date.now() + 1000, queries: [{ refId: 'T', metric }] })).json,
        'T'
      );
    const connect = async (app = APP): Promise<Client> => {
      const c = new Client({ connectionString: pg.url, application_name: app });
      await c.connect();
      clients.push(c);
      return c;
    };
    const sample = async (collectors: string[]): Promise<void> => {
      await sc.sampleNow();
      for (const id of collectors) {
        const last = sc.sidecar.store.lastSample('default', id, false);
        assert.ok(last?.ok, `${id} sampled without an error: ${JSON.stringify(last)}`);
      }
    };

    before(async () => {
      pg = getPg();
      await pg.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '${ROLE}') THEN
          CREATE ROLE ${ROLE} LOGIN PASSWORD 'vspw' IN ROLE pg_monitor;
        END IF; END $$`);
      sc = await startTestSidecar({ url: pg.urlFor('postgres', ROLE, 'vspw') });
    });
    after(async () => {
      for (const c of clients) {
        await c.end().catch(() => undefined);
      }
      await sc?.destroy();
      await pg
        ?.query('DROP TABLE IF EXISTS public.vs_seq_t, public.vs_vac, public.vs_io, public.vs_bloat, public.vs_tight')
        .catch(() => undefined);
      await pg?.query('DROP EXTENSION IF EXISTS pgstattuple').catch(() => undefined);
      await pg?.query('DROP SEQUENCE IF EXISTS public.vs_up, public.vs_down').catch(() => undefined);
    });

    it('a session idle in transaction shows with its age, in its bucket, in the oldest transactions (scrubbed) and by application', async () => {
      const idle = await connect();
      await connect();
      await connect();
      const pid = (await idle.query<{ pid: number }>('SELECT pg_catalog.pg_backend_pid() AS pid')).rows[0].pid;
      await idle.query('BEGIN');
      // set_config's value is a secret-taking argument: it must never reach the store
      await idle.query(`SELECT pg_catalog.set_config('vs.secret', 'hunter2-vs', true)`);
      const HELD_MS = 2200;
      await pause(HELD_MS);
      await sample(['xact_ages', 'oldest_sessions', 'clients', 'capacity']);
      const truth = (
        await pg.query<{ xact_s: number; state_s: number; idle: number; apps: number; max: number }>(
          `SELECT (SELECT extract(epoch from clock_timestamp() - xact_start)::float8 FROM pg_stat_activity WHERE pid = $1) AS xact_s,
                  (SELECT extract(epoch from clock_timestamp() - state_change)::float8 FROM pg_stat_activity WHERE pid = $1) AS state_s,
                  (SELECT count(*)::int FROM pg_stat_activity WHERE state = 'idle in transaction' AND backend_type = 'client backend') AS idle,
                  (SELECT count(*)::int FROM pg_stat_activity WHERE application_name = $2) AS apps,
                  current_setting('max_connections')::int AS max`,
          [pid, APP]
        )
      )[0];
      assert.equal(truth.idle, 1, 'the test holds exactly one idle-in-transaction session');
      assert.equal(truth.apps, 3);

      const idleAge = lastOf((await series('idle_in_transaction_age'))[0]);
      assert.ok(
        idleAge !== undefined && idleAge >= (HELD_MS - 100) / 1000 && idleAge <= truth.state_s,
        `idle for ${idleAge} s: ≥ the ${HELD_MS} ms held, ≤ ${truth.state_s} read after the sample`
      );
      const oldest = (await series('oldest_transaction_age')).find((s) => s.labels.state === 'idle in transaction');
      const xactAge = lastOf(oldest);
      assert.ok(
        xactAge !== undefined && xactAge >= HELD_MS / 1000 && xactAge <= truth.xact_s,
        `transaction age ${xactAge} within [${HELD_MS / 1000}, ${truth.xact_s}]`
      );

      const buckets = await series('transactions_by_age');
      const count = (state: string, bucket: string) =>
        lastOf(buckets.find((s) => s.labels.state === state && s.labels.age_bucket === bucket));
      assert.equal(count('idle in transaction', '<1m'), 1, 'one idle-in-transaction session under a minute old');
      assert.equal(count('idle in transaction', '1-5m'), 0, 'an empty bucket is 0, not a gap');
      assert.equal(buckets.length, 15, '3 states × 5 buckets');

      const rows = await table('oldest_sessions');
      const row = rows.find((r) => r.pid === pid);
      assert.ok(row, `oldest_sessions lists pid ${pid}: ${JSON.stringify(rows)}`);
      assert.equal(row.application_name, APP);
      assert.equal(row.state, 'idle in transaction');
      assert.equal(row.usename, (await pg.query<{ u: string }>('SELECT current_user AS u'))[0].u);
      assert.ok((row.xact_age_s as number) >= HELD_MS / 1000 && (row.xact_age_s as number) <= truth.xact_s);
      // the text as sent, with its constants replaced by $n the way pg_stat_statements shows statements
      assert.equal(String(row.query), 'SELECT pg_catalog.set_config($1, $2, true)');
      assert.doesNotMatch(JSON.stringify(rows), /hunter2-vs/, 'the secret never leaves the sidecar');
      assert.doesNotMatch(
        JSON.stringify(sc.sidecar.store.entities('default', 'oldest_sessions')),
        /hunter2-vs/,
        'nor is it stored'
      );

      const byApp = lastOf((await series('connections_by_application')).find((s) => s.labels.application_name === APP));
      assert.equal(byApp, truth.apps, 'connections by application = the sessions the test opened');
      const vsMax = await series('connections_vs_max');
      assert.equal(lastOf(vsMax.find((s) => s.labels.kind === 'max_connections')), truth.max);
      assert.ok(
        (lastOf(vsMax.find((s) => s.labels.kind === 'client_backends')) ?? 0) >= truth.apps + 1,
        'the test sessions and pgpulse count against the limit'
      );
      await idle.query('ROLLBACK');
    });

    it('sequences: the exact share used against the column type they feed, unreadable ones named', async () => {
      await pg.query(`CREATE SEQUENCE public.vs_up AS bigint;
        CREATE SEQUENCE public.vs_down AS bigint INCREMENT BY -1;
        CREATE TABLE public.vs_seq_t (up int4 DEFAULT nextval('public.vs_up'), down int2 DEFAULT nextval('public.vs_down'));
        SELECT setval('public.vs_up', 1500000000), setval('public.vs_down', -1000)`);
      const readable = (
        await pg.query<{ r: boolean }>(`SELECT has_sequence_privilege($1, 'public.vs_up', 'SELECT,USAGE') AS r`, [ROLE])
      )[0].r;
      // what pg_monitor alone can read: pg_sequences.last_value is NULL without SELECT or USAGE
      const mon = new Client({ connectionString: pg.urlFor('postgres', ROLE, 'vspw') });
      await mon.connect();
      const seen = (
        await mon
          .query(
            `SELECT last_value FROM pg_catalog.pg_sequences WHERE schemaname = 'public' AND sequencename = 'vs_up'`
          )
          .finally(() => mon.end())
      ).rows[0];
      assert.equal(seen.last_value === null, !readable, `pg_sequences.last_value for ${ROLE}: ${seen.last_value}`);
      assert.equal(readable, false, 'pg_monitor grants no SELECT on sequences');
      await sample(['sequences']);
      if (!readable) {
        // what pg_monitor alone gets: a named warning, and no reassuring 0 % for the sequence
        const r = await answer('sequence_used_ratio');
        assert.match(JSON.stringify(r), /cannot be read by pgpulse's role \([^)]*public\.vs_up/);
        assert.ok(
          !(r.frames as any[]).some((f) => f.schema.fields[1]?.labels?.sequence_name === 'vs_up'),
          'no series for an unreadable sequence'
        );
        await pg.query(`GRANT SELECT ON SEQUENCE public.vs_up, public.vs_down TO ${ROLE}`);
        await pause(1100);
        await sample(['sequences']);
      }
      const up = (1500000000 - 1) / (2147483647 - 1);
      const down = (-1 - -1000) / (-1 - -32768);
      const ratios = await series('sequence_used_ratio', { schema: 'public' });
      assert.equal(
        lastOf(ratios.find((s) => s.labels.sequence_name === 'vs_up')),
        up,
        'bigint sequence feeding int4: (1.5e9 − 1) / (2^31 − 1 − 1)'
      );
      assert.equal(
        lastOf(ratios.find((s) => s.labels.sequence_name === 'vs_down')),
        down,
        'descending sequence feeding int2: 999 / 32767'
      );
      const rows = await table('sequences');
      const r = rows.find((x) => x.sequence_name === 'vs_up');
      assert.ok(r, JSON.stringify(rows));
      assert.equal(r.limit_value, 2147483647);
      assert.equal(r.remaining, 2147483647 - 1500000000);
      assert.equal(r.seq_type, 'bigint');
      assert.equal(r.columns, 'public.vs_seq_t.up integer');
      assert.equal(rows.find((x) => x.sequence_name === 'vs_down')?.limit_value, -32768);
      assert.ok((rows[0].used_ratio as number) >= up, 'most used first');
    });

    it('a running VACUUM shows its progress as pg_stat_progress_vacuum reports it', async () => {
      await pg.query(`CREATE TABLE public.vs_vac (id int, pad text) WITH (autovacuum_enabled = off);
        INSERT INTO public.vs_vac SELECT g, repeat('v', 200) FROM generate_series(1, 20000) g`);
      const vac = await connect('vs_vacuum');
      // throttled to a crawl: one page per 100 ms, so it is still running when sampled
      await vac.query(`SET vacuum_cost_delay = 100; SET vacuum_cost_limit = 1`);
      const vpid = (await vac.query<{ pid: number }>('SELECT pg_catalog.pg_backend_pid() AS pid')).rows[0].pid;
      const running = vac.query('VACUUM public.vs_vac').catch((e: Error) => e);
      const progress = async () =>
        (
          await pg.query<{ phase: string; total: string; scanned: string; itotal: string | null }>(
            `SELECT phase, heap_blks_total::text AS total, heap_blks_scanned::text AS scanned, ${server.major >= 17 ? 'indexes_total::text' : 'NULL::text'} AS itotal
           FROM pg_stat_progress_vacuum WHERE pid = $1`,
            [vpid]
          )
        )[0];
      let before: Awaited<ReturnType<typeof progress>> | undefined;
      for (let i = 0; i < 50 && !(before && Number(before.scanned) > 0); i++) {
        await pause(100);
        before = await progress();
      }
      assert.ok(before, 'the VACUUM is running');
      await sample(['vacuum_progress', 'capacity']);
      const afterIt = await progress();
      await pg.query('SELECT pg_cancel_backend($1)', [vpid]);
      await running;

      const rows = await table('vacuum_progress');
      const row = rows.find((r) => r.pid === vpid);
      assert.ok(row, `vacuum_progress lists pid ${vpid}: ${JSON.stringify(rows)}`);
      assert.equal(row.relation, 'public.vs_vac');
      assert.equal(row.datname, 'postgres');
      assert.equal(row.autovacuum, false);
      assert.equal(row.heap_blks_total, Number(before.total));
      const scanned = row.heap_blks_scanned as number;
      assert.ok(
        scanned >= Number(before.scanned) && scanned <= Number(afterIt.scanned),
        `scanned ${scanned} within [${before.scanned}, ${afterIt.scanned}] read around the sample`
      );
      assert.equal(row.scanned_ratio, scanned / Number(before.total));
      assert.equal(row.phase, before.phase);
      if (server.major >= 17) {
        assert.equal(
          row.indexes_total,
          Number(before.itotal),
          'indexes_total as the view says (0 while the heap is scanned)'
        );
      } else {
        assert.equal(row.indexes_total, null, 'no index progress before PostgreSQL 17');
      }

      const workers = await series('autovacuum_workers');
      assert.equal(
        lastOf(workers.find((s) => s.labels.kind === 'max')),
        Number((await pg.query<{ s: string }>(`SELECT current_setting('autovacuum_max_workers') AS s`))[0].s)
      );
    });

    it('autovacuum workers: a worker the test keeps busy is counted, between pg_stat_activity read around the sample', async () => {
      // dead rows past a zero threshold, and a cost limit that makes the worker sleep after every page
      await pg.query(`CREATE TABLE public.vs_av (id int, pad text) WITH (autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_cost_delay = 100, autovacuum_vacuum_cost_limit = 1);
        INSERT INTO public.vs_av SELECT g, repeat('a', 200) FROM generate_series(1, 20000) g;
        DELETE FROM public.vs_av WHERE id % 2 = 0`);
      await pg.query('ALTER SYSTEM SET autovacuum_naptime = 1');
      await pg.query('SELECT pg_catalog.pg_reload_conf()');
      try {
        const onTable = async () =>
          (
            await pg.query(
              `SELECT 1 FROM pg_catalog.pg_stat_progress_vacuum p JOIN pg_catalog.pg_stat_activity a USING (pid) WHERE a.backend_type = 'autovacuum worker' AND p.relid = 'public.vs_av'::pg_catalog.regclass`
            )
          ).length > 0;
        for (let i = 0; i < 300 && !(await onTable()); i++) {
          await pause(100);
        }
        assert.ok(await onTable(), 'an autovacuum worker is vacuuming public.vs_av');
        // With a 1 s naptime other workers come and go on the shared server's other tables, and the
        // sidecar also samples every second on its own; the metric is the highest sample of each 1 s
        // step. So the view is read without pause on one connection from more than a step before the
        // test's sample until the answer is read: every sample that can fall in the last step is inside.
        const watch = new Client({ connectionString: pg.url });
        await watch.connect();
        const seen: number[] = [];
        let watching = true;
        const watched = (async () => {
          do {
            const r = await watch.query<{ n: string }>(
              `SELECT count(*) AS n FROM pg_catalog.pg_stat_activity WHERE backend_type = 'autovacuum worker'`
            );
            seen.push(Number(r.rows[0].n));
          } while (watching);
        })();
        let reported: number | undefined;
        try {
          await pause(1100);
          await sample(['capacity']);
          const workers = await series('autovacuum_workers');
          reported = lastOf(workers.find((x) => x.labels.kind === 'busy'));
        } finally {
          watching = false;
          await watched;
          await watch.end();
        }
        const lo = Math.min(...seen);
        const hi = Math.max(...seen);
        assert.ok(
          reported !== undefined && reported >= 1 && reported >= Math.min(lo, hi) && reported <= Math.max(lo, hi),
          `busy workers ${reported} within [${lo}, ${hi}] read around the sample`
        );
      } finally {
        await pg.query('ALTER SYSTEM RESET autovacuum_naptime');
        await pg.query('SELECT pg_catalog.pg_reload_conf()');
        // an autovacuum worker gives way to the lock DROP TABLE asks for
        await pg.query('DROP TABLE IF EXISTS public.vs_av');
      }
    });

    it("bloat: the statistics estimate and pgstattuple_approx lie within the stated error of pgstattuple's exact figure", async () => {
      await pg.query(`CREATE TABLE public.vs_bloat (id int, pad text) WITH (autovacuum_enabled = off);
        INSERT INTO public.vs_bloat SELECT g, repeat('b', 100) FROM generate_series(1, 20000) g;
        CREATE INDEX vs_bloat_id ON public.vs_bloat (id);
        DELETE FROM public.vs_bloat WHERE id % 2 = 0;
        CREATE TABLE public.vs_tight (id int, pad text) WITH (autovacuum_enabled = off);
        INSERT INTO public.vs_tight SELECT g, repeat('t', 100) FROM generate_series(1, 10000) g`);
      // VACUUM frees the deleted rows' space but cannot give back pages that still hold live rows
      await pg.query('VACUUM (ANALYZE) public.vs_bloat, public.vs_tight');
      const rowOf = async () => {
        const rows = await table('bloat');
        return {
          table: rows.find((r) => r.relname === 'vs_bloat' && r.indexrelname === ''),
          index: rows.find((r) => r.indexrelname === 'vs_bloat_id'),
          tight: rows.find((r) => r.relname === 'vs_tight'),
        };
      };

      await sample(['bloat']);
      const hidden = await rowOf();
      assert.equal(hidden.table?.method, 'none', 'pg_stats hides the columns of a table pg_monitor cannot SELECT');
      assert.equal(hidden.table?.bloat_bytes, null);
      const r0 = (await sc.query({ from: started, to: Date.now() + 1000, queries: [{ refId: 'T', metric: 'bloat' }] }))
        .json.results.T;
      assert.match(JSON.stringify(r0), /have no bloat estimate.*CREATE EXTENSION pgstattuple/);

      await pg.query(`GRANT SELECT ON public.vs_bloat, public.vs_tight TO ${ROLE}`);
      await pause(1100);
      await sample(['bloat']);
      const stats = await rowOf();

      await pg.query('CREATE EXTENSION pgstattuple');
      await pause(1100);
      await sample(['bloat']);
      const approx = await rowOf();
      const exact = (
        await pg.query<{ len: string; free: string; dead: string }>(
          `SELECT table_len::text AS len, free_space::text AS free, dead_tuple_len::text AS dead FROM pgstattuple('public.vs_bloat')`
        )
      )[0];
      const idx = (
        await pg.query<{ density: number; leaves: string; size: string }>(
          `SELECT avg_leaf_density AS density, leaf_pages::text AS leaves, index_size::text AS size FROM pgstatindex('public.vs_bloat_id')`
        )
      )[0];
      const tight = (
        await pg.query<{ len: string; free: string; dead: string }>(
          `SELECT table_len::text AS len, free_space::text AS free, dead_tuple_len::text AS dead FROM pgstattuple('public.vs_tight')`
        )
      )[0];
      // exact: space holding no live row; for the index, leaf space below the default fillfactor 90
      const exactRatio = (Number(exact.free) + Number(exact.dead)) / Number(exact.len);
      const tightRatio = (Number(tight.free) + Number(tight.dead)) / Number(tight.len);
      const exactIndexRatio = (Number(idx.leaves) * (1 - idx.density / 90) * 8192) / Number(idx.size);
      assert.ok(exactRatio > 0.4, `the test bloated the table (${exactRatio})`);
      assert.equal(stats.table?.method, 'statistics');
      assert.equal(approx.table?.method, 'pgstattuple_approx');
      assert.equal(approx.table?.size_bytes, Number(exact.len));
      const near = (got: unknown, want: number, within: number, what: string) =>
        assert.ok(
          Math.abs((got as number) - want) <= within,
          `${what}: ${got} within ${within * 100} points of exact ${want}`
        );
      near(stats.table?.bloat_ratio, exactRatio, 0.05, 'statistics estimate, bloated table');
      near(stats.tight?.bloat_ratio, tightRatio, 0.05, 'statistics estimate, table without bloat');
      near(stats.index?.bloat_ratio, exactIndexRatio, 0.05, 'statistics estimate, B-tree index');
      near(approx.table?.bloat_ratio, exactRatio, 0.02, 'pgstattuple_approx, bloated table');
      near(approx.tight?.bloat_ratio, tightRatio, 0.02, 'pgstattuple_approx, table without bloat');
      await pg.query('DROP EXTENSION pgstattuple');
    });

    it(
      server.major >= 16
        ? 'pg_stat_io: reported reads and hits lie between the deltas read around the samples and include the test scans; the I/O time notice follows track_io_timing'
        : 'pg_stat_io needs PostgreSQL 16: the answer says so',
      async () => {
        if (server.major < 16) {
          await sample([]);
          const r = await answer('io_operations');
          assert.match(
            String(r.error),
            /io collector cannot run on target default: needs PostgreSQL 16 or newer \(this server is PostgreSQL \d+\)/
          );
          return;
        }
        const PAGES_SQL = `SELECT pg_relation_size('public.vs_io') / current_setting('block_size')::int AS p`;
        await pg.query(
          `CREATE TABLE public.vs_io AS SELECT g AS id, repeat('i', 100) AS pad FROM generate_series(1, 5000) g`
        );
        const pages = Number((await pg.query<{ p: string }>(PAGES_SQL))[0].p);
        const ioTruth = async () =>
          Number(
            (
              await pg.query<{ n: string }>(
                `SELECT (sum(coalesce(reads, 0)) + sum(coalesce(hits, 0)))::text AS n FROM pg_stat_io WHERE backend_type = 'client backend'`
              )
            )[0].n
          );
        const r0 = await ioTruth();
        await sample(['io']);
        const r1 = await ioTruth();
        const scanner = await connect('vs_io');
        const SCANS = 5;
        for (let i = 0; i < SCANS; i++) {
          await scanner.query('SELECT count(*) FROM public.vs_io');
        }
        // a backend flushes its I/O statistics at exit at the latest
        await scanner.end();
        clients.splice(clients.indexOf(scanner), 1);
        // two whole 1 s steps between the samples: steps that only the A→B delta covers
        await pause(2300);
        const r2 = await ioTruth();
        await sample(['io']);
        const r3 = await ioTruth();
        assert.ok(
          r2 - r1 >= SCANS * pages,
          `the scans of ${pages} pages moved the counters by at least ${SCANS * pages} (${r2 - r1})`
        );

        const samples = sc.sidecar.store
          .samples('default', 'io', started - 1000, Date.now() + 1000)
          .filter((s) => s.ok);
        const elapsed = (samples.at(-1)!.ts - samples.at(-2)!.ts) / 1000;
        const from = samples.at(-2)!.ts - 1;
        const to = samples.at(-1)!.ts + 1;
        // a step inside (A, B) is covered by the A→B delta alone and shows Δ / elapsed
        const res = (await sc.query({ from, to, intervalMs: 1000, queries: [{ refId: 'A', metric: 'io_operations' }] }))
          .json.results.A;
        assert.equal(res.error, undefined, res.error);
        const times = (res.frames as any[])[0].data.values[0] as number[];
        const inside = times.findIndex((t) => t > from + 1 && t + 1000 < to - 1);
        assert.ok(inside >= 0, `a whole step between the samples: ${JSON.stringify(times)} in (${from}, ${to})`);
        let reported = 0;
        for (const f of res.frames as any[]) {
          const l = f.schema.fields[1].labels;
          const rate = (f.data.values[1] as Array<number | null>)[inside];
          if (
            l.backend_type === 'client backend' &&
            (l.kind === 'reads' || l.kind === 'hits') &&
            rate !== undefined &&
            rate !== null
          ) {
            reported += rate * elapsed;
          }
        }
        assert.ok(
          reported >= r2 - r1 - 1e-6 && reported <= r3 - r0 + 1e-6,
          `reported ${reported} within [${r2 - r1}, ${r3 - r0}]`
        );
        const t = await answer('io_time');
        assert.equal(t.error, undefined, t.error);
        const timing = (await pg.query<{ s: string }>(`SELECT current_setting('track_io_timing') AS s`))[0].s;
        assert.equal(
          /track_io_timing is off/.test(JSON.stringify(t)),
          timing === 'off',
          `notice iff track_io_timing is off (it is ${timing})`
        );
        // and the other way round. The test servers set track_io_timing on the command line, which
        // ALTER SYSTEM cannot override: a role setting gives a fresh sidecar's sessions the other value
        const flip = timing === 'off' ? 'on' : 'off';
        await pg.query(`ALTER ROLE ${ROLE} SET track_io_timing = ${flip}`);
        const sc2 = await startTestSidecar({ url: pg.urlFor('postgres', ROLE, 'vspw') });
        try {
          await sc2.sampleNow();
          assert.equal(
            sc2.sidecar.store.entities('default', 'settings', { name: 'track_io_timing' })[0]?.info?.setting,
            flip,
            'pgpulse read the other value'
          );
          const flipped = (
            await sc2.query({
              from: Date.now() - 60_000,
              to: Date.now() + 1000,
              queries: [{ refId: 'A', metric: 'io_time' }],
            })
          ).json.results.A;
          assert.equal(
            /track_io_timing is off/.test(JSON.stringify(flipped)),
            flip === 'off',
            `notice iff track_io_timing is off (now ${flip})`
          );
        } finally {
          await sc2.destroy();
          await pg.query(`ALTER ROLE ${ROLE} RESET track_io_timing`);
        }
      }
    );
  });
}
