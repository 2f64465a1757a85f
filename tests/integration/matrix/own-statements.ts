/**
 * pgpulse's own statements vs the application's, from pg_stat_statements itself: an application
 * that writes the `/* pgpulse *\/` mark keeps its statement visible (also its later executions
 * without the mark), pgpulse's own never reach top_queries or the stored statement rows — with a
 * dedicated pg_monitor role (excluded by userid) and with a shared superuser role (userid + the
 * trailing mark, and a health note) — and top_queries' calls/rows equal pg_stat_statements deltas.
 * On PostgreSQL 18, which drops a leading comment from the stored text, too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { OWN_QUERY_MARK } from '../../../src/sidecar/targets/own-statements';
import type { TestPostgres } from '../../support/pg';
import type { MatrixServer } from '../../support/pg-matrix';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { pause, tableRows } from './frames';

// the application's statement: starts with pgpulse's mark to try to hide itself
const APP_MARKED = `${OWN_QUERY_MARK} SELECT count(*) FROM public.own_items WHERE v > $1`;
const APP_PLAIN = 'SELECT count(*) FROM public.own_items WHERE v > $1';

interface Truth {
  queryid: string;
  calls: number;
  rows: number;
  time: number;
}

async function appTruth(pg: TestPostgres): Promise<Truth | undefined> {
  const r = await pg.query<{ queryid: string; calls: string; rows: string; time: number }>(
    `SELECT s.queryid::text AS queryid, sum(s.calls)::text AS calls, sum(s.rows)::text AS rows, sum(s.total_exec_time)::float8 AS time
     FROM public.pg_stat_statements(true) s JOIN pg_catalog.pg_roles r ON r.oid = s.userid
     WHERE r.rolname = 'own_app' AND s.toplevel AND s.query LIKE '%own_items WHERE v >%' GROUP BY s.queryid`
  );
  assert.ok(r.length <= 1, `one queryid for both spellings of the application's statement: ${JSON.stringify(r)}`);
  return r[0] && { queryid: r[0].queryid, calls: Number(r[0].calls), rows: Number(r[0].rows), time: r[0].time };
}

/**
 * queryids that only pgpulse executed, in any suite of this server: every entry has one of the
 * dedicated monitoring roles, or is the superuser's with a text ending with the mark
 */
async function pgpulseOnlyIds(pg: TestPostgres, role: string): Promise<Set<string>> {
  const r = await pg.query<{ queryid: string }>(
    `SELECT s.queryid::text AS queryid FROM public.pg_stat_statements(true) s JOIN pg_catalog.pg_roles r ON r.oid = s.userid
     WHERE s.toplevel AND s.queryid IS NOT NULL GROUP BY s.queryid
     HAVING bool_and(r.rolname IN ('own_monitor', 'lp_monitor') OR (r.rolname = 'postgres' AND right(s.query, ${OWN_QUERY_MARK.length}) = '${OWN_QUERY_MARK}'))
        AND bool_or(r.rolname = $1)`,
    [role]
  );
  return new Set(r.map((x) => x.queryid));
}

function scenario(server: MatrixServer, getPg: () => TestPostgres, mode: 'dedicated' | 'shared'): void {
  const role = mode === 'dedicated' ? 'own_monitor' : 'postgres';
  describe(`${server.label}: own statements, ${mode === 'dedicated' ? 'dedicated pg_monitor role' : 'role shared with the application (superuser)'}`, () => {
    let sc: TestSidecar;
    let app: Client;
    let from: number;
    let before0: Truth | undefined;
    let after1: Truth | undefined;

    before(async () => {
      const pg = getPg();
      await pg.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'own_monitor') THEN
          CREATE ROLE own_monitor LOGIN PASSWORD 'monitorpw' IN ROLE pg_monitor;
          CREATE ROLE own_app LOGIN PASSWORD 'apppw';
          CREATE TABLE public.own_items (id int PRIMARY KEY, v int);
          INSERT INTO public.own_items SELECT g, g % 100 FROM generate_series(1, 2000) g;
          GRANT SELECT ON public.own_items TO own_app;
        END IF; END $$`);
      app = new Client({ connectionString: pg.urlFor('postgres', 'own_app', 'apppw') });
      await app.connect();
      from = Date.now() - 1000;
      sc = await startTestSidecar({
        url: mode === 'dedicated' ? pg.urlFor('postgres', 'own_monitor', 'monitorpw') : pg.url,
      });
      await app.query(APP_MARKED, [1]);
      await sc.sampleNow();
      before0 = await appTruth(pg);
      for (let i = 0; i < 4; i++) {
        await app.query(APP_MARKED, [i]);
      }
      // later executions of the same shape without the mark
      for (let i = 0; i < 3; i++) {
        await app.query(APP_PLAIN, [i * 10]);
      }
      await pause(1100);
      await sc.sampleNow();
      after1 = await appTruth(pg);
      // pgpulse keeps sampling: its own statements pile up calls the application never made
      await pause(1100);
      await sc.sampleNow();
    });
    after(async () => {
      await app?.end().catch(() => undefined);
      await sc?.destroy();
    });

    it("the application's statement written with the pgpulse mark is in top_queries, calls, rows and time = pg_stat_statements deltas", async () => {
      assert.ok(before0 && after1, 'the application statement is in pg_stat_statements');
      const res = (
        await sc.query({ from, to: Date.now() + 1000, queries: [{ refId: 'T', metric: 'top_queries', topN: 1000 }] })
      ).json;
      const row = tableRows(res, 'T').find((r) => r.queryid === after1!.queryid);
      assert.ok(row, `application queryid ${after1!.queryid} listed in top_queries`);
      assert.equal(row.calls, after1!.calls - before0!.calls, 'Δcalls = pg_stat_statements Δcalls');
      assert.equal(row.rows, after1!.rows - before0!.rows, 'Δrows = pg_stat_statements Δrows');
      const dt = after1!.time - before0!.time;
      assert.ok(
        Math.abs((row.total_ms as number) - dt) <= 1e-6 * Math.max(1, dt),
        `Δtotal_exec_time ${row.total_ms} = pg_stat_statements ${dt}`
      );
    });

    it("none of pgpulse's own statements is in top_queries or in the stored statement rows", async () => {
      const pg = getPg();
      const mine = await pgpulseOnlyIds(pg, role);
      assert.ok(
        mine.size >= 5,
        `this sidecar's own statements are in pg_stat_statements (${mine.size}): the check below is not vacuous`
      );
      const res = (
        await sc.query({ from, to: Date.now() + 1000, queries: [{ refId: 'T', metric: 'top_queries', topN: 1000 }] })
      ).json;
      const listed = tableRows(res, 'T');
      assert.ok(listed.length > 0);
      const leaked = listed.filter((r) => mine.has(String(r.queryid))).map((r) => String(r.query).slice(0, 80));
      assert.deepEqual(leaked, [], 'pgpulse statements listed in top_queries');
      // (another suite's monitoring role is just another role to this sidecar)
      const stored = sc.sidecar.store
        .entities('default', 'statements')
        .filter((e) => e.labels.username === role && mine.has(e.labels.queryid));
      assert.deepEqual(
        stored.map((e) => e.labels.queryid),
        [],
        'pgpulse statements stored as statement rows (vector, advisors read them)'
      );
    });

    it(
      mode === 'dedicated'
        ? 'health names no shared-role problem'
        : 'health and the sampler say the role is shared and name the fix',
      async () => {
        const own = sc.sidecar.samplers.get('default')!.status.ownRole;
        assert.equal(own?.name, role);
        const h = await sc.get('/api/v1/health?target=default');
        const problems: string[] = h.json.details.problems;
        const note = problems.find((p) => p.includes('shared with the application'));
        if (mode === 'dedicated') {
          assert.equal(own?.shared, null);
          assert.equal(note, undefined);
        } else {
          assert.match(String(own?.shared), /superuser/);
          assert.match(String(note), /CREATE ROLE pgpulse LOGIN/);
        }
      }
    );
  });
}

export function ownStatementsSuite(server: MatrixServer, getPg: () => TestPostgres): void {
  scenario(server, getPg, 'dedicated');
  scenario(server, getPg, 'shared');
}
