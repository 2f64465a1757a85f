/**
 * Query plans against the server's own EXPLAIN (registered in matrix.ts SUITES):
 * - the plan pgpulse returns for a queryid has the node types, relations and indexes EXPLAIN
 *   gives on the same server for the same normalised statement, run as the role that ran it
 *   (its search_path, in its database — not the one the sidecar connects to);
 * - a plan change (CREATE INDEX + ANALYZE) is recorded as a plan_changed event naming it;
 * - DML is refused, and a table the monitoring role may not read is answered with the GRANT.
 * Objects are named pl_* apart from other suites; the sidecar connects as a pg_monitor role.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import type { TestPostgres } from '../../support/pg';
import type { MatrixServer } from '../../support/pg-matrix';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { plansOf } from '../../../src/sidecar/plans';
import { pause, tableRows } from './frames';

const DB = 'pl_db';

type PlanJson = { 'Node Type': string; 'Relation Name'?: string; 'Index Name'?: string; Plans?: PlanJson[] };

function flat(p: PlanJson, out: Array<[string, string, string]> = []): Array<[string, string, string]> {
  out.push([p['Node Type'], p['Relation Name'] ?? '', p['Index Name'] ?? '']);
  for (const c of p.Plans ?? []) {
    flat(c, out);
  }
  return out;
}

export function plansSuite(server: MatrixServer, getPg: () => TestPostgres): void {
  describe(`${server.label}: query plans against EXPLAIN`, () => {
    let pg: TestPostgres;
    let sc: TestSidecar;
    let app: Client;
    let version = 0;

    /** the queryid pg_stat_statements gives a statement the test ran in pl_db */
    const queryidOf = async (like: string): Promise<string> => {
      const r = await pg.query<{ queryid: string }>(
        `SELECT s.queryid::text AS queryid FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
         WHERE d.datname = $1 AND s.toplevel AND s.query LIKE $2 ORDER BY s.calls DESC LIMIT 1`,
        [DB, like]
      );
      assert.ok(r[0], `pg_stat_statements has ${like}`);
      return r[0].queryid;
    };
    const normalised = async (queryid: string) =>
      (
        await pg.query<{ query: string }>('SELECT query FROM pg_stat_statements WHERE queryid = $1::int8 LIMIT 1', [
          queryid,
        ])
      )[0].query;

    /** what the server's EXPLAIN says for the normalised text, as the role that ran it */
    const truth = async (text: string, params: number): Promise<Array<[string, string, string]>> => {
      await app.query('BEGIN');
      try {
        let doc: unknown;
        if (version >= 160000) {
          doc = (await app.query(`EXPLAIN (GENERIC_PLAN, FORMAT JSON) ${text}`)).rows[0]['QUERY PLAN'];
        } else {
          await app.query('SET LOCAL plan_cache_mode = force_generic_plan');
          await app.query(`PREPARE pl_truth AS ${text}`);
          doc = (
            await app.query(`EXPLAIN (FORMAT JSON) EXECUTE pl_truth(${new Array(params).fill('NULL').join(', ')})`)
          ).rows[0]['QUERY PLAN'];
          await app.query('DEALLOCATE pl_truth');
        }
        return flat((doc as Array<{ Plan: PlanJson }>)[0].Plan);
      } finally {
        await app.query('ROLLBACK');
      }
    };
    const planQuery = async (queryid: string, metric = 'query_plan') =>
      (await sc.query({ from: Date.now() - 60_000, to: Date.now(), queries: [{ refId: 'P', metric, queryid }] })).json
        .results.P;
    const pgpulse = async (queryid: string) =>
      tableRows(
        (
          await sc.query({
            from: Date.now() - 60_000,
            to: Date.now(),
            queries: [{ refId: 'P', metric: 'query_plan', queryid }],
          })
        ).json,
        'P'
      ).map((r) => [r.node_type, r.relation, r.index] as [string, string, string]);

    before(async () => {
      pg = getPg();
      version = Number((await pg.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`))[0].v);
      await pg.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pl_monitor') THEN
          CREATE ROLE pl_monitor LOGIN PASSWORD 'plpw' IN ROLE pg_monitor;
          CREATE ROLE pl_app LOGIN PASSWORD 'plapp';
          CREATE ROLE pl_actions LOGIN PASSWORD 'plact';
        END IF; END $$`);
      if ((await pg.query(`SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1`, [DB])).length === 0) {
        await pg.query(`CREATE DATABASE ${DB} OWNER pl_app`);
      }
      await pg.query(`ALTER ROLE pl_app IN DATABASE ${DB} SET search_path = pl, public`);
      app = new Client({ connectionString: pg.urlFor(DB, 'pl_app', 'plapp') });
      await app.connect();
      await app.query(`DROP SCHEMA IF EXISTS pl CASCADE; CREATE SCHEMA pl;
        CREATE TABLE pl.customers (id int PRIMARY KEY, name text);
        CREATE TABLE pl.orders (id int PRIMARY KEY, customer_id int, amount numeric, note text);
        CREATE TABLE pl.secret (id int PRIMARY KEY, v text);
        CREATE TABLE pl.bump_log (n int);
        CREATE FUNCTION pl.bump() RETURNS int LANGUAGE sql VOLATILE AS 'INSERT INTO pl.bump_log VALUES (1) RETURNING 1';
        CREATE FUNCTION pl.rate() RETURNS numeric LANGUAGE plpgsql IMMUTABLE AS 'BEGIN RETURN 0.2; END';
        INSERT INTO pl.customers SELECT g, 'c' || g FROM generate_series(1, 1000) g;
        INSERT INTO pl.orders SELECT g, g % 1000 + 1, g, 'n' FROM generate_series(1, 20000) g;
        INSERT INTO pl.secret VALUES (1, 'x');
        ANALYZE pl.customers; ANALYZE pl.orders; ANALYZE pl.secret;
        GRANT USAGE ON SCHEMA pl TO pl_monitor;
        GRANT SELECT ON pl.customers, pl.orders TO pl_monitor;
        GRANT USAGE ON SCHEMA pl TO pl_actions;
        GRANT SELECT ON pl.customers, pl.orders TO pl_actions;
        GRANT INSERT ON pl.bump_log TO pl_actions;`);
      // the application's statements, unqualified: they resolve through pl_app's search_path
      for (let i = 0; i < 3; i++) {
        await app.query('SELECT id, amount FROM orders WHERE customer_id = $1', [42 + i]);
        await app.query(
          'SELECT c.name, sum(o.amount) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.id < $1 GROUP BY c.name',
          [10]
        );
        await app.query('UPDATE orders SET amount = amount WHERE id = $1', [i + 1]);
        await app.query('SELECT v FROM secret WHERE id = $1', [1]);
        await app.query('SELECT bump() + $1', [0]);
        await app.query('SELECT amount * rate() FROM orders WHERE id = $1', [1]);
      }
      sc = await startTestSidecar({
        url: pg.urlFor('postgres', 'pl_monitor', 'plpw'),
        targets: [
          {
            name: 'default',
            url: pg.urlFor('postgres', 'pl_monitor', 'plpw'),
            plans: { sampleTopN: 50, sampleInterval: '1h' },
          },
        ],
      });
      await sc.sampleNow();
    });
    after(async () => {
      await sc?.destroy();
      await app?.end().catch(() => undefined);
    });

    it("the plan for a queryid equals the server's EXPLAIN of the same statement (node types, relations, indexes)", async () => {
      for (const like of [
        'SELECT id, amount FROM orders WHERE customer_id = %',
        'SELECT c.name, sum(o.amount) FROM orders o JOIN customers c%',
      ]) {
        const id = await queryidOf(like);
        const text = await normalised(id);
        const want = await truth(text, 1);
        const got = await pgpulse(id);
        assert.deepEqual(got, want, `${like}: pgpulse's nodes = EXPLAIN's`);
      }
      // and, independent of how the generic plan is obtained, the same nodes as the custom plan of one literal call
      const literal = (await app.query('EXPLAIN (FORMAT JSON) SELECT id, amount FROM orders WHERE customer_id = 42'))
        .rows[0]['QUERY PLAN'];
      assert.deepEqual(
        await pgpulse(await queryidOf('SELECT id, amount FROM orders WHERE customer_id = %')),
        flat(literal[0].Plan),
        'same nodes as EXPLAIN of a literal call'
      );
      const join = await planQuery(await queryidOf('SELECT c.name, sum(o.amount) FROM orders o JOIN customers c%'));
      const method = join.frames[0].schema.meta.notices
        .map((n: { text: string }) => n.text)
        .find((t: string) => t.startsWith('plan method'));
      assert.match(
        method,
        version >= 160000 ? /GENERIC_PLAN/ : /PREPAREd .* force_generic_plan/,
        'the notice names the method used on this major'
      );
      assert.match(
        join.frames[0].schema.meta.executedQueryString,
        new RegExp(`in database ${DB} \\(role pl_app\\)`),
        "explained in the statement's own database"
      );
    });

    it("the node graph frames carry Grafana's node graph fields and one edge per child", async () => {
      const id = await queryidOf('SELECT c.name, sum(o.amount) FROM orders o JOIN customers c%');
      const want = await truth(await normalised(id), 1);
      const r = await planQuery(id, 'query_plan_graph');
      assert.equal(r.error, undefined, r.error);
      const [nodes, edges] = r.frames;
      assert.equal(nodes.schema.name, 'nodes');
      assert.equal(edges.schema.name, 'edges');
      assert.equal(nodes.schema.meta.preferredVisualisationType, 'nodeGraph');
      const names = (f: any) => f.schema.fields.map((x: { name: string }) => x.name);
      for (const n of ['id', 'title', 'subtitle', 'mainstat', 'secondarystat', 'arc__self', 'arc__children']) {
        assert.ok(names(nodes).includes(n), `nodes has ${n}`);
      }
      for (const n of ['id', 'source', 'target']) {
        assert.ok(names(edges).includes(n), `edges has ${n}`);
      }
      assert.equal(nodes.data.values[0].length, want.length, 'one node per plan node');
      assert.equal(edges.data.values[0].length, want.length - 1, 'a tree: one edge per non-root node');
      const self = nodes.data.values[names(nodes).indexOf('arc__self')] as number[];
      const kids = nodes.data.values[names(nodes).indexOf('arc__children')] as number[];
      self.forEach((v, i) => assert.ok(Math.abs(v + kids[i] - 1) < 1e-9, 'arcs of a node sum to 1'));
    });

    it('DML is refused with a notice naming it, and nothing is explained; no queryid asks for one', async () => {
      const r = await planQuery(await queryidOf('UPDATE orders SET amount%'));
      assert.equal(r.error, undefined, 'a refusal is a notice, not a failed query');
      assert.equal(r.frames[0].data.values.length, 0, 'no plan');
      assert.match(
        r.frames[0].schema.meta.notices.map((n: { text: string }) => n.text).join('\n'),
        /UPDATE is not a SELECT: pgpulse explains only read-only SELECT statements/
      );
      const none = await planQuery('');
      assert.match(
        none.frames[0].schema.meta.notices[0].text,
        /needs a queryid/,
        'no statement picked: a notice saying to pick one'
      );
    });

    it('a table the monitoring role may not read: the error names the GRANT that fixes it', async () => {
      const r = await planQuery(await queryidOf('SELECT v FROM secret WHERE id = %'));
      assert.match(r.error, /permission denied for table secret/);
      assert.match(r.error, /GRANT SELECT ON secret TO "pl_monitor"/);
    });

    it('a statement calling a user-defined IMMUTABLE function (which planning would run as the monitoring role) is not explained', async () => {
      // ground truth: the server's planner folds rate() — the plan carries its value, not the call
      const folded = JSON.stringify(
        (await app.query(`EXPLAIN (VERBOSE, FORMAT JSON) SELECT amount * rate() FROM orders WHERE id = 1`)).rows[0][
          'QUERY PLAN'
        ]
      );
      assert.ok(folded.includes('0.2') && !folded.includes('rate()'), `planning ran rate(): ${folded}`);
      const r = await planQuery(await queryidOf('SELECT amount * rate() FROM orders%'));
      assert.equal(r.error, undefined);
      assert.match(
        r.frames[0].schema.meta.notices.map((n: { text: string }) => n.text).join('\n'),
        /calls pl\.rate\(\): a non-volatile function .* may run while planning — as the monitoring role/
      );
    });

    it('a plan change (CREATE INDEX + ANALYZE) is recorded as a plan_changed event', async () => {
      const id = await queryidOf('SELECT id, amount FROM orders WHERE customer_id = %');
      // the statement must be among the top ones pgpulse sampled
      for (let i = 0; i < 20; i++) {
        await app.query('SELECT id, amount FROM orders WHERE customer_id = $1', [7]);
        await app.query('UPDATE orders SET amount = amount WHERE id = $1', [i + 1]);
      }
      await pause(1100);
      await sc.sampleNow();
      const fp = plansOf(sc.sidecar.service).get('default')!.fingerprints!;
      const first = await fp.tick();
      const mine = first.checked.find((c) => c.queryid === id);
      assert.ok(mine, `the statement was fingerprinted: ${JSON.stringify(first)}`);
      assert.equal(mine.changed, false);
      assert.ok(
        first.skipped.some((s) => /UPDATE is not a SELECT/.test(s.reason)),
        `the UPDATE among the top statements is skipped, not explained: ${JSON.stringify(first.skipped)}`
      );
      const before = (await truth(await normalised(id), 1)).map((n) => n[0]);
      assert.ok(before.includes('Seq Scan'), `no index yet: ${before}`);

      await app.query('CREATE INDEX pl_orders_customer ON pl.orders (customer_id); ANALYZE pl.orders');
      const after = await truth(await normalised(id), 1);
      assert.ok(
        after.some((n) => n[2] === 'pl_orders_customer'),
        `the server now uses the index: ${JSON.stringify(after)}`
      );
      const second = await fp.tick();
      assert.equal(second.checked.find((c) => c.queryid === id)?.changed, true, 'the fingerprint changed');
      const evs = sc.sidecar.store.events('default', Date.now() - 60_000, Date.now() + 1000, ['plan_changed']);
      const ev = evs.find((e) => e.title.includes(id));
      assert.ok(ev, `a plan_changed event for ${id}: ${JSON.stringify(evs)}`);
      // a bitmap scan names its index on the Bitmap Index Scan below the Bitmap Heap Scan of the table
      const scan = after.find((n) => n[1] === 'orders')!;
      assert.equal(
        ev.title,
        `plan changed for queryid ${id}: Seq Scan → ${scan[0]} using pl_orders_customer on orders`
      );
      // served as an annotation through the events metric
      const rows = tableRows(
        (
          await sc.query({
            from: Date.now() - 60_000,
            to: Date.now() + 1000,
            queries: [{ refId: 'E', metric: 'events' }],
          })
        ).json,
        'E'
      );
      assert.ok(
        rows.some((r) => r.kind === 'plan_changed' && String(r.title).includes(id)),
        'events answer the plan change'
      );
      const third = await fp.tick();
      assert.equal(
        third.checked.find((c) => c.queryid === id)?.changed,
        false,
        'an unchanged plan records nothing new'
      );
      assert.equal(
        sc.sidecar.store
          .events('default', Date.now() - 60_000, Date.now() + 1000, ['plan_changed'])
          .filter((e) => e.title.includes(id)).length,
        1
      );
    });

    it('a gate that says no (an idle Neon compute): no EXPLAIN reaches the server, and the answer says why', async () => {
      let open = true;
      const gated = await startTestSidecar({
        targets: [
          {
            name: 'default',
            url: pg.urlFor('postgres', 'pl_monitor', 'plpw'),
            plans: { sampleTopN: 50, sampleInterval: '1h' },
          },
        ],
        extra: {
          gateFor: () => ({
            allow: async () => ({ allowed: true }),
            mayContact: async () => (open ? { allowed: true } : { allowed: false, reason: 'Neon compute is idle' }),
          }),
        },
      });
      // EXPLAINs pl_monitor ran, as pg_stat_statements counts them
      const explains = async () =>
        Number(
          (
            await pg.query<{ n: string }>(
              `SELECT coalesce(sum(s.calls), 0)::text AS n FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = 'pl_monitor' AND s.query ILIKE 'explain%'`
            )
          )[0].n
        );
      try {
        const id = await queryidOf('SELECT id, amount FROM orders WHERE customer_id = %');
        for (let i = 0; i < 3; i++) {
          await gated.sampleNow();
          await app.query('SELECT id, amount FROM orders WHERE customer_id = $1', [i]);
          await app.query(
            'SELECT c.name, sum(o.amount) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.id < $1 GROUP BY c.name',
            [10]
          );
          await pause(1100);
        }
        await gated.sampleNow();
        const fp = plansOf(gated.sidecar.service).get('default')!.fingerprints!;
        const n0 = await explains();
        const ok = await fp.tick();
        assert.ok(ok.checked.length > 0, `the open gate lets the sampler explain: ${JSON.stringify(ok)}`);
        assert.ok((await explains()) >= n0 + ok.checked.length, `each fingerprint is one EXPLAIN on the server`);
        // explaining the same statements again adds no pg_stat_statements entry (none of the application's is evicted)
        const entries = async () =>
          (
            await pg.query(
              `SELECT 1 FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = 'pl_monitor' AND s.query ILIKE 'explain%'`
            )
          ).length;
        const e1 = await entries();
        // the texts of all the round's statements come from one read of pg_stat_statements' text file
        const textReads = async () =>
          Number(
            (
              await pg.query<{ n: string }>(
                `SELECT coalesce(sum(s.calls), 0)::text AS n FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
                 WHERE r.rolname = 'pl_monitor' AND s.query LIKE '%s.queryid::text AS queryid, s.query, d.datname%'`
              )
            )[0].n
          );
        const t0 = await textReads();
        const again = await fp.tick();
        assert.equal(await entries(), e1, 'the same entries, more calls');
        assert.ok(again.checked.length >= 2, 'several statements in the round');
        assert.equal((await textReads()) - t0, 1, `one text read for ${again.checked.length} statements`);
        const n1 = await explains();
        open = false;
        const idle = await fp.tick();
        assert.deepEqual([idle.checked, idle.idle], [[], 'Neon compute is idle']);
        const r = (
          await gated.query({
            from: Date.now() - 60_000,
            to: Date.now(),
            queries: [{ refId: 'P', metric: 'query_plan', queryid: id }],
          })
        ).json.results.P;
        assert.match(r.error, /not connecting to explain — Neon compute is idle/);
        assert.equal(await explains(), n1, 'nothing was explained while the gate said no');
      } finally {
        await gated.destroy();
      }
    });

    it("EXPLAIN (ANALYZE, BUFFERS) is an audited opt-in action: refused, done with the user's values, failed when the SELECT writes", async () => {
      const monitor = pg.urlFor('postgres', 'pl_monitor', 'plpw');
      const act = await startTestSidecar({
        targets: [
          { name: 'off', url: monitor },
          {
            name: 'on',
            url: monitor,
            actions: { enabled: true, url: pg.urlFor('postgres', 'pl_actions', 'plact'), allow: ['explain_analyze'] },
          },
        ],
      });
      const post = async (target: string, body: Record<string, unknown>, ctx: Record<string, unknown> = {}) => {
        const r = await act.sidecar.service.resource('actions', new URLSearchParams({ target }), {
          method: 'POST',
          body,
          ...ctx,
        } as never);
        return { status: r.status, body: r.body as Record<string, any> };
      };
      const lastAudit = async (target: string) =>
        (await act.get(`/api/v1/resources/actions?target=${target}`)).json.audit[0];
      try {
        const orders = await queryidOf('SELECT id, amount FROM orders WHERE customer_id = %');
        // disabled by default: refused and audited, nothing runs
        const off = await post('off', { action: 'explain_analyze', queryid: orders, params: [42], dryRun: false });
        assert.equal(off.status, 403);
        assert.match(off.body.error, /actions are disabled/);
        assert.deepEqual(
          [(await lastAudit('off')).status, (await lastAudit('off')).action],
          ['refused', 'explain_analyze']
        );
        // a dry-run shows the SQL and the values first
        const dry = await post('on', { action: 'explain_analyze', queryid: orders, params: [42] });
        assert.equal(dry.body.status, 'dry_run');
        assert.match(
          dry.body.sql,
          /EXPLAIN \(ANALYZE, BUFFERS, FORMAT JSON\) SELECT id, amount FROM orders WHERE customer_id = \$1/
        );
        assert.match(dry.body.sql, /\$1 = 42/);
        // values are validated against the statement's parameters
        const wrong = await post('on', { action: 'explain_analyze', queryid: orders, params: [], dryRun: false });
        assert.equal(wrong.status, 400);
        assert.match(wrong.body.error, /has 1 parameter/);
        // through Grafana only an Admin runs it
        const viewer = await post(
          'on',
          { action: 'explain_analyze', queryid: orders, params: [42], dryRun: false },
          { via: 'grafana', user: { login: 'vic', role: 'Viewer' } }
        );
        assert.equal(viewer.status, 403);
        assert.equal((await lastAudit('on')).status, 'refused');
        // DML is refused
        const upd = await post('on', {
          action: 'explain_analyze',
          queryid: await queryidOf('UPDATE orders SET amount%'),
          params: [1],
          dryRun: false,
        });
        assert.equal(upd.status, 422);
        assert.match(upd.body.error, /UPDATE is not a SELECT/);
        // done: actual rows equal what the table holds for that value
        const truthRows = Number(
          (await pg.query<{ n: string }>('SELECT count(*)::text AS n FROM pl.orders WHERE customer_id = 42', [], DB))[0]
            .n
        );
        const done = await post(
          'on',
          { action: 'explain_analyze', queryid: orders, params: [42], dryRun: false },
          { via: 'grafana', user: { login: 'ada', role: 'Admin' } }
        );
        assert.equal(done.status, 200, JSON.stringify(done.body));
        assert.equal(done.body.status, 'done');
        assert.match(
          done.body.message,
          new RegExp(`on orders: rows ${truthRows} `),
          `actual rows = ${truthRows}: ${done.body.message}`
        );
        const audited = await lastAudit('on');
        assert.deepEqual([audited.status, audited.dryRun, audited.trigger], ['done', false, 'grafana:ada']);
        // read-only enforced: a SELECT calling a function that writes fails, and nothing is written
        const before = Number(
          (await pg.query<{ n: string }>('SELECT count(*)::text AS n FROM pl.bump_log', [], DB))[0].n
        );
        const bump = await post('on', {
          action: 'explain_analyze',
          queryid: await queryidOf('SELECT bump() + %'),
          params: [0],
          dryRun: false,
        });
        assert.equal(bump.body.status, 'failed', JSON.stringify(bump.body));
        assert.match(bump.body.error, /READ ONLY transaction \(cannot execute INSERT in a read-only transaction\)/);
        assert.equal(
          Number((await pg.query<{ n: string }>('SELECT count(*)::text AS n FROM pl.bump_log', [], DB))[0].n),
          before,
          'nothing was written'
        );
        assert.equal((await lastAudit('on')).status, 'failed');
        const events = act.sidecar.store.events('on', Date.now() - 60_000, Date.now() + 1000, ['action']);
        assert.ok(
          events.some((e) => e.title === `action explain_analyze queryid ${orders} in ${DB}: done`),
          'the audit is an annotation too'
        );
      } finally {
        await act.destroy();
      }
    });
  });
}
