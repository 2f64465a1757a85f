/**
 * Advisor rules against a real PostgreSQL 15 with hypopg, on a schema whose truth is known: an
 * unused index, a duplicate pair and a redundant prefix, an invalid index left by a failed
 * CREATE UNIQUE INDEX CONCURRENTLY, a table scanned sequentially by a selective predicate, and a
 * table full of dead tuples. Expected sets are computed from the server's own catalogs and
 * statistics, never written down by hand.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { advisorRuntime } from '../../../src/sidecar/advisors';
import { evaluateFindings } from '../../../src/sidecar/advisors/evaluate';
import { ShapeCache } from '../../../src/sidecar/advisors/shape-cache';
import { defaultAdvisorOptions, type AdvisorOptions, type Finding } from '../../../src/sidecar/advisors/types';
import { parserThreadStats } from '../../../src/sidecar/parser-thread';
import { parserLoaded } from '../../../src/sidecar/sql-parser';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';

// tiny thresholds: the history of a test is seconds long
const OPTS: Partial<AdvisorOptions> = {
  unusedIndexMinObservedMs: 1,
  indexSizeFloorBytes: 0,
  expensiveTotalMs: 0,
  minCalls: 1,
  seqScanMinRowsPerScan: 1000,
  deadMinTuples: 100,
  staleMinRows: 100,
  proofCacheMs: 0,
};

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url, application_name: 'app' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    // a backend that exits flushes its pending statistics
    await c.end();
  }
}

interface IdxRow {
  schemaname: string;
  indexrelname: string;
  idx_scan: string;
  constraint_index: boolean;
}

describe('advisors on PostgreSQL 15 + hypopg', () => {
  let pg: TestPostgres;
  let sc: TestSidecar;
  let before1: Map<string, number>;
  let findings: Finding[];
  let firstSampleTs: number;

  const idxScans = async () =>
    new Map(
      (
        await pg.query<IdxRow>(
          `SELECT s.schemaname, s.indexrelname, s.idx_scan::text AS idx_scan,
                  (i.indisprimary OR i.indisunique OR i.indisexclusion OR i.indisreplident) AS constraint_index
           FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid WHERE i.indisvalid`
        )
      ).map((r) => [`${r.schemaname}.${r.indexrelname}`, Number(r.idx_scan)])
    );

  const target = () => ({
    name: 'default',
    url: pg.url,
    actions: { enabled: true, url: pg.urlFor('postgres', 'pgpulse_actions') },
  });

  before(async () => {
    pg = await startPostgres();
    await pg.query('CREATE EXTENSION hypopg');
    await pg.query(`
      CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, note text);
      INSERT INTO orders (customer_id, status, note)
        SELECT (random() * 20000)::int, (ARRAY['new','paid','shipped'])[1 + (g % 3)], md5(g::text) FROM generate_series(1, 200000) g;
      CREATE TABLE t_dup (a int, b int, c int);
      INSERT INTO t_dup SELECT g, g % 100, g % 7 FROM generate_series(1, 20000) g;
      CREATE INDEX t_dup_a1 ON t_dup (a);
      CREATE INDEX t_dup_a2 ON t_dup (a);
      CREATE INDEX t_dup_b ON t_dup (b);
      CREATE INDEX t_dup_bc ON t_dup (b, c);
      CREATE TABLE t_pk (id int PRIMARY KEY, v int);
      INSERT INTO t_pk SELECT g, g FROM generate_series(1, 5000) g;
      CREATE INDEX t_pk_id_copy ON t_pk (id);
      CREATE UNIQUE INDEX t_pk_v_uq ON t_pk (v);
      CREATE INDEX t_pk_v_w ON t_pk (v, id);
      CREATE TABLE t_unused (id int PRIMARY KEY, val int, used int);
      INSERT INTO t_unused SELECT g, g, g FROM generate_series(1, 20000) g;
      CREATE INDEX t_unused_val ON t_unused (val);
      CREATE INDEX t_unused_used ON t_unused (used);
      CREATE TABLE t_inv (x int);
      INSERT INTO t_inv SELECT g % 10 FROM generate_series(1, 1000) g;
      CREATE TABLE t_dead (id int, pad text) WITH (autovacuum_enabled = false);
      INSERT INTO t_dead SELECT g, repeat('x', 50) FROM generate_series(1, 50000) g;
    `);
    await pg.query('ANALYZE');
    // a separate role for actions, owning the table it will index
    await pg.query(
      'CREATE ROLE pgpulse_actions LOGIN; ALTER TABLE orders OWNER TO pgpulse_actions; GRANT CREATE ON SCHEMA public TO pgpulse_actions'
    );
    await assert.rejects(
      pg.query('CREATE UNIQUE INDEX CONCURRENTLY t_inv_x ON t_inv (x)'),
      /could not create unique index/
    );
    sc = await startTestSidecar({ targets: [target()] });
    await sc.sampleNow();
    firstSampleTs = sc.sidecar.store.lastSample('default', 'indexes')!.ts;
    before1 = await idxScans();
    await withClient(pg.url, async (c) => {
      for (let i = 0; i < 20; i++) {
        await c.query('SELECT * FROM orders WHERE customer_id = $1', [i * 7]);
      }
      for (let i = 0; i < 5; i++) {
        await c.query('SELECT id FROM t_unused WHERE used = $1', [i]);
      }
      await c.query('DELETE FROM t_dead WHERE id % 5 <> 0');
    });
    // let the statistics of the closed backend land, then sample again
    await new Promise((r) => setTimeout(r, 600));
    await sc.sampleNow();
    // a sidecar restart on the same data directory: history, not memory, carries the findings
    const dataDir = sc.dataDir;
    await sc.stop();
    // … and a PostgreSQL restart: a new counter epoch, still one history
    await pg.stop();
    await pg.start();
    sc = await startTestSidecar({ targets: [target()], dataDir });
    await sc.sampleNow();
    await sc.sampleNow();
    const ev = await advisorRuntime(sc.sidecar)!.evaluate('default', OPTS);
    findings = ev.findings;
  });

  after(async () => {
    await sc?.destroy();
    await pg?.destroy();
  });

  const ids = (rule: string) =>
    findings
      .filter((f) => f.rule === rule)
      .map((f) => f.object)
      .sort();

  it('reports exactly the non-constraint indexes without a scan over the observed history, across sidecar and server restarts', async () => {
    const after1 = await idxScans();
    const constraint = new Set(
      (
        await pg.query<{ n: string }>(
          `SELECT s.schemaname || '.' || s.indexrelname AS n FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid WHERE i.indisprimary OR i.indisunique OR i.indisexclusion OR i.indisreplident`
        )
      ).map((r) => r.n)
    );
    const expected = [...after1.keys()].filter((k) => after1.get(k) === before1.get(k) && !constraint.has(k)).sort();
    assert.ok(expected.includes('public.t_unused_val'), 'the schema has a known unused index');
    assert.ok(!expected.includes('public.t_unused_used'), 'and a used one');
    assert.deepEqual(ids('unused_index'), expected);
    const f = findings.find((x) => x.id === 'unused_index:public.t_unused_val')!;
    assert.equal(
      f.evidence.window.from,
      firstSampleTs,
      'the window starts at the first sample of the first sidecar run'
    );
    assert.match(f.fix.sql!, /^DROP INDEX CONCURRENTLY public\.t_unused_val;$/);
    for (const c of constraint) {
      assert.ok(
        !findings.some((x) => x.object === c && x.fix.action === 'drop_index'),
        `constraint index ${c} is never proposed for dropping`
      );
    }
  });

  it('waits for N days of history before calling an index unused', async () => {
    const ev = await advisorRuntime(sc.sidecar)!.evaluate('default', { ...OPTS, unusedIndexMinObservedMs: 86_400_000 });
    assert.equal(ev.findings.filter((f) => f.rule === 'unused_index').length, 0);
    // put the recorded state back to the tiny-N evaluation
    await advisorRuntime(sc.sidecar)!.evaluate('default', OPTS);
  });

  it('finds duplicate and prefix-redundant indexes as pg_index defines them, never dropping a constraint index', async () => {
    // ground truth: same table, keys, opclasses, expressions and predicate
    const dups = await pg.query<{ a: string; b: string; a_con: boolean; b_con: boolean }>(`
      SELECT ca.relname AS a, cb.relname AS b,
             (ia.indisprimary OR ia.indisunique) AS a_con, (ib.indisprimary OR ib.indisunique) AS b_con
      FROM pg_index ia JOIN pg_index ib ON ia.indrelid = ib.indrelid AND ia.indexrelid < ib.indexrelid
        AND ia.indkey = ib.indkey AND ia.indclass = ib.indclass
        AND coalesce(pg_get_expr(ia.indpred, ia.indrelid), '') = coalesce(pg_get_expr(ib.indpred, ib.indrelid), '')
        AND coalesce(pg_get_expr(ia.indexprs, ia.indrelid), '') = coalesce(pg_get_expr(ib.indexprs, ib.indrelid), '')
      JOIN pg_class ca ON ca.oid = ia.indexrelid JOIN pg_class cb ON cb.oid = ib.indexrelid
      JOIN pg_namespace n ON n.oid = ca.relnamespace WHERE n.nspname = 'public' AND ia.indisvalid AND ib.indisvalid`);
    assert.equal(dups.length, 2, 'the schema has two duplicate pairs (t_dup_a1/a2 and t_pk_pkey/t_pk_id_copy)');
    const reported = findings.filter((f) => f.rule === 'duplicate_index');
    assert.equal(reported.length, dups.length);
    for (const d of dups) {
      const hit = reported.find((f) => f.object === `public.${d.a}` || f.object === `public.${d.b}`);
      assert.ok(hit, `pair ${d.a}/${d.b} reported`);
      if (d.a_con) {
        assert.equal(hit.object, `public.${d.b}`, 'the constraint index is kept');
      }
      if (d.b_con) {
        assert.equal(hit.object, `public.${d.a}`, 'the constraint index is kept');
      }
    }
    // prefix: t_dup_b is the leading part of t_dup_bc; the unique t_pk_v_uq (prefix of t_pk_v_w) enforces something and stays
    assert.deepEqual(ids('redundant_index'), ['public.t_dup_b']);
  });

  it('reports the invalid index that pg_index marks invalid', async () => {
    const invalid = (
      await pg.query<{ n: string }>(
        "SELECT n.nspname || '.' || c.relname AS n FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT i.indisvalid"
      )
    ).map((r) => r.n);
    assert.deepEqual(ids('invalid_index'), invalid.sort());
    const f = findings.find((x) => x.rule === 'invalid_index')!;
    assert.match(
      f.fix.sql!,
      /DROP INDEX CONCURRENTLY public\.t_inv_x;\nCREATE UNIQUE INDEX CONCURRENTLY t_inv_x ON public\.t_inv USING btree \(x\);/
    );
    assert.match(f.fix.caveat!, /duplicate/);
    // the reindex action from this finding, as a dry-run: the SQL, and the index stays invalid
    const r = await fetch(`${sc.baseUrl}/api/v1/resources/actions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sc.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'reindex', finding: f.id }),
    });
    const body = (await r.json()) as { status: string; sql: string };
    assert.equal(body.status, 'dry_run');
    assert.equal(body.sql, 'REINDEX INDEX CONCURRENTLY public.t_inv_x;');
    const [still] = await pg.query<{ indisvalid: boolean }>(
      "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_inv_x'::regclass"
    );
    assert.equal(still.indisvalid, false);
  });

  it('parses each statement text and index definition once across evaluations, with the same answers as parsing afresh', async () => {
    const store = sc.sidecar.store;
    const now = Date.now();
    const shapes = new ShapeCache();
    const first = await evaluateFindings({ store, target: 'default', now, options: OPTS, shapes });
    const parsed = shapes.parses;
    // the history holds the workload's statements and the schema's indexes
    assert.ok(parsed >= 9, `parsed ${parsed}`);
    const second = await evaluateFindings({ store, target: 'default', now, options: OPTS, shapes });
    assert.equal(shapes.parses, parsed, 'nothing parsed again');
    const fresh = await evaluateFindings({ store, target: 'default', now, options: OPTS });
    assert.deepEqual(second.findings, fresh.findings);
    assert.deepEqual(first.findings, fresh.findings);
    assert.ok(fresh.findings.some((f) => f.rule === 'missing_index'));
  });

  it('never connects to a target whose sampling is paused (a sleeping Neon compute): the proof waits', async () => {
    const sampler = sc.sidecar.samplers.get('default')!;
    sampler.status.paused = 'compute idle (test)';
    try {
      const ev = await advisorRuntime(sc.sidecar)!.evaluate('default', OPTS);
      const f = ev.findings.find((x) => x.rule === 'missing_index');
      assert.equal(f?.proof?.method, 'none');
      assert.match(f?.proof?.note ?? '', /no database connection/);
      assert.equal(f?.severity, 'info', 'unproven suggestions are info');
    } finally {
      sampler.status.paused = undefined;
    }
    const again = await advisorRuntime(sc.sidecar)!.evaluate('default', OPTS);
    findings = again.findings;
  });

  it('proposes the missing index for the selective seq-scanned predicate, proven by hypopg, and the index really is used', async () => {
    const f = findings.find((x) => x.rule === 'missing_index');
    assert.ok(f, `a missing-index finding (got ${findings.map((x) => x.id).join(', ')})`);
    assert.equal(f.id, 'missing_index:public.orders(customer_id)');
    assert.equal(f.proof?.method, 'hypopg');
    // independent what-if in another session, with a literal instead of the generic plan
    const own = await withClient(pg.url, async (c) => {
      const cost = async () =>
        (await c.query('EXPLAIN (FORMAT JSON) SELECT * FROM orders WHERE customer_id = 4242')).rows[0]['QUERY PLAN'][0]
          .Plan['Total Cost'] as number;
      const b = await cost();
      await c.query("SELECT * FROM hypopg_create_index('CREATE INDEX ON orders (customer_id)')");
      const a = await cost();
      await c.query('SELECT hypopg_reset()');
      return { b, a };
    });
    assert.ok(own.a < own.b / 2, 'hypopg in the test session shows the gain too');
    assert.ok((f.proof.gainPct ?? 0) >= defaultAdvisorOptions.minGainPct);
    assert.equal(f.proof.costBefore! > f.proof.costAfter!, true);
    assert.match(f.fix.caveat!, /INSERT/);
    assert.equal(f.fix.sql, 'CREATE INDEX CONCURRENTLY orders_customer_id_idx ON public.orders (customer_id);');
    // apply it from the finding with the opt-in create_index action: the planner then uses the index
    const res = await fetch(`${sc.baseUrl}/api/v1/resources/actions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sc.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'create_index', finding: f.id, dryRun: false }),
    });
    const body = (await res.json()) as { status: string; sql: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.status, 'done');
    assert.equal(body.sql, f.fix.sql);
    const [valid] = await pg.query<{ indisvalid: boolean }>(
      "SELECT indisvalid FROM pg_index WHERE indexrelid = 'orders_customer_id_idx'::regclass"
    );
    assert.equal(valid.indisvalid, true);
    const plan = await pg.query<{ 'QUERY PLAN': string }>('EXPLAIN SELECT * FROM orders WHERE customer_id = 4242');
    assert.match(plan.map((p) => p['QUERY PLAN']).join('\n'), /orders_customer_id_idx/);
  });

  it('reports the dead tuples pg_stat_user_tables shows, with the vacuum fix', async () => {
    const [t] = await pg.query<{ live: string; dead: string }>(
      "SELECT n_live_tup::text AS live, n_dead_tup::text AS dead FROM pg_stat_user_tables WHERE relname = 't_dead'"
    );
    const f = findings.find((x) => x.id === 'dead_tuples:public.t_dead');
    assert.ok(f);
    assert.equal(f.evidence.values.n_dead_tup, Number(t.dead));
    assert.equal(f.evidence.values.n_live_tup, Number(t.live));
    assert.equal(f.fix.sql, 'VACUUM (ANALYZE) public.t_dead;');
    assert.ok(
      findings.some((x) => x.id === 'autovacuum_lag:public.t_dead'),
      'autovacuum is off for the table and it is far over its trigger'
    );
    // tables with few dead tuples are not flagged
    const clean = await pg.query<{ relname: string }>('SELECT relname FROM pg_stat_user_tables WHERE n_dead_tup < 100');
    for (const r of clean) {
      assert.ok(!findings.some((x) => x.id === `dead_tuples:public.${r.relname}`));
    }
  });

  it('serves findings as the recommendations table, the findings_count series and the resource route', async () => {
    const open = await sc.get('/api/v1/resources/recommendations');
    assert.equal(open.status, 200);
    const r = await sc.query({
      from: 'now-1h',
      to: 'now',
      queries: [
        { refId: 'A', metric: 'recommendations' },
        { refId: 'B', metric: 'findings_count' },
      ],
    });
    assert.equal(r.status, 200);
    const frame = r.json.results.A.frames[0];
    const names = frame.schema.fields.map((f: { name: string }) => f.name);
    for (const n of ['severity', 'category', 'object', 'finding', 'evidence', 'window', 'fix', 'impact', 'id']) {
      assert.ok(names.includes(n), `column ${n}`);
    }
    const idCol = frame.data.values[names.indexOf('id')] as string[];
    assert.deepEqual([...idCol].sort(), open.json.findings.map((f: Finding) => f.id).sort());
    const counts = r.json.results.B.frames.map(
      (fr: { schema: { fields: Array<{ labels?: Record<string, string> }> }; data: { values: unknown[][] } }) => {
        const v = fr.data.values[1].filter((x) => typeof x === 'number') as number[];
        return { sev: fr.schema.fields[1].labels?.severity, last: v[v.length - 1] };
      }
    );
    for (const c of counts) {
      assert.equal(
        c.last,
        open.json.findings.filter((f: Finding) => f.severity === c.sev).length,
        `open ${c.sev} findings`
      );
    }
    const warn = await sc.get('/api/v1/resources/recommendations?severity=warning');
    assert.ok(warn.json.findings.length > 0 && warn.json.findings.every((f: Finding) => f.severity === 'warning'));
    const bad = await sc.get('/api/v1/resources/recommendations?severity=urgent');
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /severity must be one of/);
  });

  it('records finding_raised when a finding appears and finding_cleared when it is fixed', async () => {
    await pg.query('DROP INDEX t_dup_a2');
    await sc.sampleNow();
    const ev = await advisorRuntime(sc.sidecar)!.evaluate('default', OPTS);
    assert.ok(ev.cleared.some((f) => f.id === 'duplicate_index:public.t_dup_a2'));
    assert.ok(
      ev.cleared.some((f) => f.id === 'missing_index:public.orders(customer_id)'),
      'the index created above clears the missing-index finding'
    );
    const events = await sc.get('/api/v1/resources/events?from=now-1h&to=now&kinds=finding_raised,finding_cleared');
    const titles = events.json.events.map((e: { kind: string; title: string }) => `${e.kind}: ${e.title}`);
    assert.ok(titles.some((t: string) => t.startsWith('finding_raised: [warning] Index public.t_dup_a2 duplicates')));
    assert.ok(titles.some((t: string) => t.startsWith('finding_cleared: resolved: Index public.t_dup_a2 duplicates')));
    // a finding is raised again only after it cleared (the N-days evaluation above cleared it once)
    const about = (kind: string) =>
      events.json.events.filter(
        (e: { kind: string; title: string }) => e.kind === kind && e.title.includes('public.t_unused_val ')
      ).length;
    assert.equal(about('finding_cleared'), 1);
    assert.equal(about('finding_raised'), 2);
  });

  it('parses on the parser thread: the sidecar (this thread) never loads libpg-query', () => {
    // every evaluation above parsed statement texts and index definitions, the actions checked their SQL
    assert.ok(parserThreadStats().started >= 1);
    assert.equal(parserLoaded(), false);
    assert.equal(
      Object.keys(require.cache).some((file) => file.includes('/node_modules/libpg-query/')),
      false,
      'libpg-query was required on the main thread'
    );
  });

  it('the startup hook evaluates on its own schedule', async () => {
    const { AdvisorRuntime } = await import('../../../src/sidecar/advisors/runtime');
    const before1 = sc.sidecar.store.kvGet('advisor:last_eval:default');
    const rt = new AdvisorRuntime(sc.sidecar, OPTS);
    rt.start(20);
    try {
      while (sc.sidecar.store.kvGet('advisor:last_eval:default') === before1) {
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await rt.stop();
    }
    assert.ok(JSON.parse(sc.sidecar.store.kvGet('advisor:last_eval:default')!).at > JSON.parse(before1!).at);
  });
});
