/**
 * A server is one sampling unit (src/sidecar/cluster): two databases of one server as two targets
 * read each server-wide view once per cycle — counted by pg_stat_statements itself, under the
 * monitoring role — and still answer per database: a statement run N times in database A only is
 * in A's top_queries with calls = N and nowhere in B's; server-wide series (connections,
 * checkpoints) are the same for both. With sharedReads off, every target reads them again.
 *
 * Server-wide collectors are stored once (store/stream-alias.ts): the server's history holds their
 * samples and both targets' streams are aliases of it; when the first target stops, the second
 * reads and writes on, and its history has every cycle.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { activitySamplers } from '../../../src/sidecar/activity';
import type { TestPostgres } from '../../support/pg';
import type { MatrixServer } from '../../support/pg-matrix';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { pause, tableRows } from './frames';

const DBS = ['cl_a', 'cl_b'] as const;
const APP_SQL = 'SELECT count(*) FROM public.cl_items WHERE v > $1';
const N = 7;

/** executions by the monitoring role of a collector's statement, summed over every database */
async function readsOf(pg: TestPostgres, like: string): Promise<number> {
  const r = await pg.query<{ n: number }>(
    `SELECT coalesce(sum(s.calls), 0)::int AS n FROM public.pg_stat_statements(true) s
     JOIN pg_catalog.pg_roles r ON r.oid = s.userid WHERE r.rolname = 'cl_monitor' AND s.query LIKE $1`,
    [like]
  );
  return r[0].n;
}

// the statements collector's read (the text fetch reads pg_stat_statements(true)) and the bgwriter collector's
const STATEMENTS_READ = '%AS io_read_time%';
const BGWRITER_READ = '%buffers_alloc%';
// the 1 s activity sampler's tick (src/model/catalog/load.ts)
const TICK_READ = '%a.query_id::text AS queryid%';
// server-wide ('cluster' scope) collectors whose stored samples and panels are checked
const SERVER_WIDE = ['activity', 'locks', 'bgwriter', 'settings', 'wraparound'];
const IDLE_SESSIONS = 3;

/** samples of a collector stored under each history (target) name */
function storedSamples(sc: TestSidecar, collector: string): Record<string, number> {
  const rows = sc.sidecar.store.db
    .prepare(
      'SELECT t.name AS name, count(*) AS n FROM sample s JOIN target t ON t.id = s.target_id WHERE s.collector = ? AND s.ok = 1 GROUP BY t.name'
    )
    .all(collector) as Array<{ name: string; n: number }>;
  return Object.fromEntries(rows.map((r) => [r.name, r.n]));
}

/** client backends of a database in a state, as pg_stat_activity shows them now */
async function sessions(pg: TestPostgres, db: string, state: string): Promise<number> {
  const r = await pg.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_catalog.pg_stat_activity
     WHERE datname = $1 AND state = $2 AND backend_type = 'client backend' AND pid <> pg_catalog.pg_backend_pid()`,
    [db, state]
  );
  return r[0].n;
}

export function clusterTruthSuite(server: MatrixServer, getPg: () => TestPostgres): void {
  describe(`${server.label}: two databases of one server as two targets share the server-wide reads`, () => {
    let sc: TestSidecar;
    let from: number;
    let queryid: string;
    let callsBefore: number;
    let callsAfter: number;
    let stmtReads: number;
    let bgReads: number;
    const urls = () => DBS.map((d) => ({ name: d, url: getPg().urlFor(d, 'cl_monitor', 'clpw') }));
    const cycle = async (s: TestSidecar) => {
      for (const d of DBS) {
        await s.sampleNow(d);
      }
    };
    const appCalls = async (pg: TestPostgres) => {
      const r = await pg.query<{ queryid: string; calls: number }>(
        `SELECT s.queryid::text AS queryid, s.calls::int AS calls FROM public.pg_stat_statements(true) s
         JOIN pg_catalog.pg_database d ON d.oid = s.dbid WHERE d.datname = 'cl_a' AND s.query LIKE '%cl_items WHERE v >%' AND s.toplevel`
      );
      assert.equal(r.length, 1, `one entry of the application statement in cl_a: ${JSON.stringify(r)}`);
      return r[0];
    };

    before(async () => {
      const pg = getPg();
      await pg.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'cl_monitor') THEN
          CREATE ROLE cl_monitor LOGIN PASSWORD 'clpw' IN ROLE pg_monitor;
        END IF; END $$`);
      for (const d of DBS) {
        const exists = await pg.query('SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1', [d]);
        if (exists.length === 0) {
          await pg.query(`CREATE DATABASE ${d}`);
        }
        await pg.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements', [], d);
        await pg.query(
          `CREATE TABLE IF NOT EXISTS public.cl_items (id int PRIMARY KEY, v int);
           INSERT INTO public.cl_items SELECT g, g % 10 FROM generate_series(1, 100) g ON CONFLICT DO NOTHING`,
          [],
          d
        );
      }
      const app = new Client({ connectionString: pg.urlFor('cl_a') });
      await app.connect();
      try {
        // seen once before the first sample: the N later calls are the delta
        await app.query(APP_SQL, [0]);
        from = Date.now() - 1000;
        // 15 s interval: the two targets' runs of one cycle fall within half of it
        sc = await startTestSidecar({ targets: urls(), intervalMs: 15_000 });
        await cycle(sc);
        callsBefore = (await appCalls(pg)).calls;
        for (let i = 0; i < N; i++) {
          await app.query(APP_SQL, [i]);
        }
      } finally {
        await app.end();
      }
      const after1 = await appCalls(pg);
      queryid = after1.queryid;
      callsAfter = after1.calls;
      const s0 = await readsOf(pg, STATEMENTS_READ);
      const b0 = await readsOf(pg, BGWRITER_READ);
      await pause(1100);
      await cycle(sc);
      await pause(1100);
      await cycle(sc);
      stmtReads = (await readsOf(pg, STATEMENTS_READ)) - s0;
      bgReads = (await readsOf(pg, BGWRITER_READ)) - b0;
    });
    after(async () => {
      await sc?.destroy();
    });

    it('pg_stat_statements and pg_stat_bgwriter are read once per cycle for both targets', () => {
      assert.equal(stmtReads, 2, 'two cycles of two targets: two reads of pg_stat_statements');
      assert.equal(bgReads, 2, 'two cycles of two targets: two reads of pg_stat_bgwriter');
      const stats = sc.sidecar.cluster?.stats() ?? {};
      assert.ok(
        (stats.statements?.shared ?? 0) >= 2,
        `the second target took the first one's read: ${JSON.stringify(stats.statements)}`
      );
    });

    it("a statement run N times in database A only: A's top_queries shows N calls, B's does not show it", async () => {
      assert.equal(callsAfter - callsBefore, N, 'pg_stat_statements counted the N calls');
      const top = async (target: string) =>
        tableRows(
          (
            await sc.query({
              from,
              to: Date.now() + 1000,
              queries: [{ refId: 'T', metric: 'top_queries', topN: 1000, target }],
            })
          ).json,
          'T'
        );
      const a = (await top('cl_a')).find((r) => r.queryid === queryid);
      assert.ok(a, `cl_a's top_queries lists the statement ${queryid}`);
      assert.equal(a.calls, callsAfter - callsBefore, "cl_a's Δcalls = pg_stat_statements Δcalls");
      assert.equal(
        (await top('cl_b')).find((r) => r.queryid === queryid),
        undefined,
        "cl_b's top_queries does not list cl_a's statement"
      );
      // what each target stored: cl_b only its own database; cl_a (the server's first target) the rest
      const stored = (t: string) => new Set(sc.sidecar.store.entities(t, 'statements').map((e) => e.labels.datname));
      assert.deepEqual([...stored('cl_b')], ['cl_b']);
      assert.ok(stored('cl_a').has('cl_a') && !stored('cl_a').has('cl_b'), `cl_a stored ${[...stored('cl_a')]}`);
      const dbRows = (t: string) => sc.sidecar.store.entities(t, 'database').map((e) => e.labels.datname);
      assert.deepEqual(dbRows('cl_b'), ['cl_b'], "cl_b's pg_stat_database rows are its own database's");
      assert.ok(dbRows('cl_a').includes('postgres'), 'databases without a target stay with the first target');
    });

    it("the activity sampler's 1 s tick is one read of pg_stat_activity for both targets", async () => {
      const pg = getPg();
      const acts = activitySamplers.get(sc.sidecar)!;
      const [a, b] = DBS.map((d) => acts.get(d)!);
      const ticks0 = a.stats.ticks + b.stats.ticks;
      const r0 = await readsOf(pg, TICK_READ);
      await a.tick();
      await b.tick();
      assert.equal((await readsOf(pg, TICK_READ)) - r0, 1, 'one tick read for two targets');
      assert.equal(a.stats.ticks + b.stats.ticks - ticks0, 2, 'both targets counted their tick');
      assert.equal(a.stats.failed + b.stats.failed, 0, `${a.stats.lastError ?? b.stats.lastError}`);
    });

    it('server-wide series answer the same for both targets', async () => {
      for (const metric of ['connections', 'checkpoints']) {
        const res = (
          await sc.query({
            from,
            to: Date.now() + 1000,
            queries: DBS.map((d) => ({ refId: d, metric, target: d })),
          })
        ).json;
        assert.equal(res.results.cl_a.error, undefined, `${metric}: ${res.results.cl_a.error}`);
        assert.ok(res.results.cl_a.frames.length > 0, `${metric} has series`);
        // the same samples: only the target label and the refId tell them apart
        const view = (frames: any[]) =>
          frames.map((f) => ({
            values: f.data.values,
            labels: f.schema.fields.map((x: any) => ({ ...x.labels, target: undefined })),
          }));
        assert.deepEqual(view(res.results.cl_b.frames), view(res.results.cl_a.frames), `${metric} of cl_b = cl_a`);
      }
    });

    it("server-wide collectors are stored once, under the server's history, not once per target", () => {
      const stats = sc.sidecar.cluster?.stats() ?? {};
      for (const c of SERVER_WIDE) {
        const stored = storedSamples(sc, c);
        const names = Object.keys(stored);
        assert.equal(names.length, 1, `${c}: one history holds the samples: ${JSON.stringify(stored)}`);
        assert.match(names[0], /^server:/, `${c} is stored under the server's history`);
        // every read of the server is written once: as many samples as reads went to the server
        assert.equal(stored[names[0]], stats[c]?.reads, `${c}: samples = reads ${JSON.stringify(stats[c])}`);
        assert.ok((stats[c]?.shared ?? 0) > 0, `${c}: the second target took the first one's read`);
        for (const d of DBS) {
          const own = sc.sidecar.store.db
            .prepare(
              `SELECT count(*) AS n FROM point p JOIN series s ON s.id = p.series_id JOIN target t ON t.id = s.target_id
               WHERE t.name = ? AND s.collector = ?`
            )
            .get(d, c) as { n: number };
          assert.equal(own.n, 0, `${d} stores no points of ${c} itself`);
          // and still reads them: its stream resolves to the server's history
          assert.equal(
            sc.sidecar.store.samples(d, c, 0, Date.now() + 1000).length,
            stored[names[0]],
            `${d} reads ${c}`
          );
        }
      }
    });

    it("target B's server-wide panels equal target A's and the server's own count (N sessions opened → N)", async () => {
      const pg = getPg();
      const idle = await Promise.all(
        Array.from({ length: IDLE_SESSIONS }, async () => {
          const c = new Client({ connectionString: pg.urlFor('cl_b') });
          await c.connect();
          return c;
        })
      );
      try {
        // the sidecar's own connection to cl_b is idle there too: the truth is what the server shows
        const truth = await sessions(pg, 'cl_b', 'idle');
        assert.ok(truth >= IDLE_SESSIONS, `${IDLE_SESSIONS} idle sessions opened: ${truth}`);
        await pause(1100);
        await cycle(sc);
        assert.equal(await sessions(pg, 'cl_b', 'idle'), truth, 'nothing else connected to cl_b meanwhile');
        const to = Date.now() + 1000;
        const metrics = ['connections', 'blocked_queries', 'checkpoints', 'connection_utilization'];
        const res = (
          await sc.query({
            from,
            to,
            queries: DBS.flatMap((d) =>
              metrics.map((metric) => ({ refId: `${d}/${metric}`, metric, target: d, database: 'cl_b' }))
            ),
          })
        ).json;
        const view = (frames: any[]) =>
          frames.map((f) => ({
            values: f.data.values,
            labels: f.schema.fields.map((x: any) => ({ ...x.labels, target: undefined })),
          }));
        for (const metric of metrics) {
          const [a, b] = DBS.map((d) => res.results[`${d}/${metric}`]);
          assert.equal(a.error, undefined, `${metric}: ${a.error}`);
          assert.equal(b.error, undefined, `${metric}: ${b.error}`);
          assert.ok(b.frames.length > 0, `${metric} of cl_b has series`);
          assert.deepEqual(view(b.frames), view(a.frames), `${metric} of cl_b = cl_a`);
        }
        const idleFrame = res.results['cl_b/connections'].frames.find((f: any) =>
          f.schema.fields.some((x: any) => x.labels?.state === 'idle')
        );
        assert.ok(idleFrame, 'cl_b has an idle connections series');
        const values = idleFrame.data.values[1] as Array<number | null>;
        assert.equal(values.filter((v) => v !== null).at(-1), truth, "cl_b's idle connections = pg_stat_activity's");
      } finally {
        await Promise.all(idle.map((c) => c.end()));
      }
    });

    it("whichever target reads, the server's history keeps one counter epoch (no false reset when the reader changes)", async () => {
      // cl_b as a target added after a restart that kept the statistics: its own epoch is later
      const b = sc.sidecar.samplers.get('cl_b') as unknown as { epochState: { epoch: number } };
      const own = b.epochState.epoch;
      b.epochState.epoch = own + 60_000;
      try {
        await pause(1100);
        await sc.sampleNow('cl_b'); // cl_b reads first this time: it writes the server's history
        await sc.sampleNow('cl_a');
      } finally {
        b.epochState.epoch = own;
      }
      const epochs = sc.sidecar.store.db
        .prepare(
          `SELECT DISTINCT s.epoch FROM sample s JOIN target t ON t.id = s.target_id WHERE s.collector = 'bgwriter' AND t.name LIKE 'server:%'`
        )
        .pluck()
        .all();
      assert.equal(epochs.length, 1, `one epoch in the server's bgwriter history: ${epochs}`);
    });

    it("a restart of the server (a new postmaster start, a new server key) keeps the server's history", async () => {
      const pg = getPg();
      const before = Object.keys(storedSamples(sc, 'activity'));
      const count = sc.sidecar.store.samples('cl_b', 'activity', 0, Date.now() + 1000).length;
      await pg.stop();
      await pg.start();
      const restartedAt = Date.now();
      // the first cycle after the restart may meet the pools' dead connections: it reconnects
      for (let i = 0; i < 3; i++) {
        await pause(1100);
        await cycle(sc);
      }
      assert.deepEqual(Object.keys(storedSamples(sc, 'activity')), before, 'still the one history of the server');
      const b = sc.sidecar.store.samples('cl_b', 'activity', 0, Date.now() + 1000);
      assert.ok(b.length > count && b.at(-1)!.ts >= restartedAt, "cl_b's history goes on after the restart");
      assert.deepEqual(
        b.map((x) => x.stream),
        b.map(() => before[0]),
        "every sample of cl_b's history is the server's"
      );
    });

    it('the first target stops: the second reads and writes on, its history has every cycle, the first one ends', async () => {
      const store = sc.sidecar.store;
      const before = store.samples('cl_b', 'activity', 0, Date.now() + 1000).length;
      const stream = Object.keys(storedSamples(sc, 'activity'))[0];
      await sc.sidecar.samplers.get('cl_a')!.stop();
      const stoppedAt = Date.now();
      const readsBefore = sc.sidecar.cluster!.stats().activity.reads;
      for (let i = 0; i < 2; i++) {
        await pause(1100);
        await sc.sampleNow('cl_b');
      }
      assert.equal(sc.sidecar.cluster!.stats().activity.reads - readsBefore, 2, 'cl_b read the server itself');
      const b = store.samples('cl_b', 'activity', 0, Date.now() + 1000);
      assert.equal(b.length, before + 2, "cl_b's history has both cycles after cl_a stopped");
      assert.deepEqual(Object.keys(storedSamples(sc, 'activity')), [stream], 'still one history of the server');
      // every interval of cl_b's history is one of its cycles: no hole where the reader changed
      const gaps = b.slice(1).map((x, i) => x.ts - b[i].ts);
      assert.ok(Math.max(...gaps) < 15_000, `no gap in cl_b's history: ${gaps}`);
      const a = store.samples('cl_a', 'activity', 0, Date.now() + 1000);
      assert.ok(a.length > 0 && a.every((x) => x.ts <= stoppedAt), "cl_a's history ends where it stopped");
      assert.equal(a.length, before, 'cl_a keeps what it had');
    });

    it('a sidecar restart with the second target alone on the server: its stream goes on in the server history', async () => {
      const dataDir = sc.dataDir;
      const stream = Object.keys(storedSamples(sc, 'activity'))[0];
      const before = sc.sidecar.store.samples('cl_b', 'activity', 0, Date.now() + 1000).length;
      await sc.stop();
      sc = await startTestSidecar({ targets: urls().filter((t) => t.name === 'cl_b'), intervalMs: 15_000, dataDir });
      await pause(1100);
      await sc.sampleNow('cl_b');
      assert.deepEqual(Object.keys(storedSamples(sc, 'activity')), [stream], 'nothing stored under cl_b itself');
      const b = sc.sidecar.store.samples('cl_b', 'activity', 0, Date.now() + 1000);
      assert.equal(b.length, before + 1, "cl_b's history goes on");
      const rows = sc.sidecar.store.db
        .prepare(
          "SELECT a.to_ts FROM stream_alias a JOIN target t ON t.id = a.target_id WHERE t.name = 'cl_b' AND a.collector = 'activity'"
        )
        .all();
      assert.deepEqual(rows, [{ to_ts: null }], 'the alias row closed at the stop was taken up again');
    });

    it('with sharedReads off every target reads pg_stat_statements itself and stores its own (the count above can fail)', async () => {
      const pg = getPg();
      const alone = await startTestSidecar({ targets: urls(), intervalMs: 15_000, sharedReads: false });
      try {
        const s0 = await readsOf(pg, STATEMENTS_READ);
        await cycle(alone);
        assert.equal((await readsOf(pg, STATEMENTS_READ)) - s0, 2, 'one cycle of two targets: two reads');
        assert.equal(alone.sidecar.cluster, undefined);
        for (const c of SERVER_WIDE) {
          assert.deepEqual(storedSamples(alone, c), { cl_a: 1, cl_b: 1 }, `${c}: each target stores its own read`);
        }
        assert.equal(
          (alone.sidecar.store.db.prepare('SELECT count(*) AS n FROM stream_alias').get() as { n: number }).n,
          0,
          'no alias: nothing is shared'
        );
      } finally {
        await alone.destroy();
      }
    });
  });
}
