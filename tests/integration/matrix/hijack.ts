/**
 * search_path hijacking: a database owner WITHOUT pg_monitor plants look-alike functions, views
 * and operators in the schema named like the monitoring role ("$user"), in public, and makes the
 * database default search_path put them before pg_catalog. Every planted object calls a tripwire
 * that NOTIFYs a channel. pgpulse samples with the monitoring role: nothing may trip, no collector
 * may fail, and what pgpulse stores must equal what the real views say.
 *
 * A matrix suite: it runs on every supported major (tests/integration/matrix/pgNN.test.ts) and on
 * Debian's PostgreSQL 15.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client } from 'pg';
import type { TestPostgres } from '../../support/pg';
import type { MatrixServer } from '../../support/pg-matrix';
import { startTestSidecar } from '../../support/sidecar';
import { diagnose } from '../../../src/sidecar/cli/doctor';

const DB = 'hijacked';
const MONITOR = 'pgpulse_mon';
const OWNER = 'app_owner';
const CHANNEL = 'pgpulse_hijack';

function withDb(url: string, db: string, user?: string, password?: string): string {
  const u = new URL(url);
  u.pathname = '/' + db;
  if (user) {
    u.username = user;
    u.password = password ?? '';
  }
  return u.toString();
}

async function run(url: string, sql: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

// Functions pgpulse calls (catalog functions it must reach in pg_catalog, extension functions in
// the extension's schema), planted with the same or a "better" signature (text for name: an
// unknown literal prefers text) so that resolution through the search_path would pick them.
const FUNCTIONS: Array<{ sig: string; ret: string; body: string }> = [
  {
    sig: 'pg_stat_statements(showtext boolean)',
    ret: 'SETOF stats.pg_stat_statements',
    body: 'RETURN QUERY SELECT * FROM stats.pg_stat_statements(showtext);',
  },
  { sig: 'current_setting(n text)', ret: 'text', body: 'RETURN pg_catalog.current_setting(n);' },
  {
    sig: 'current_setting(n text, missing_ok boolean)',
    ret: 'text',
    body: 'RETURN pg_catalog.current_setting(n, missing_ok);',
  },
  { sig: 'current_database()', ret: 'name', body: 'RETURN pg_catalog.current_database();' },
  { sig: 'pg_postmaster_start_time()', ret: 'timestamptz', body: 'RETURN pg_catalog.pg_postmaster_start_time();' },
  { sig: 'pg_backend_pid()', ret: 'int', body: 'RETURN pg_catalog.pg_backend_pid();' },
  { sig: 'pg_is_in_recovery()', ret: 'boolean', body: 'RETURN pg_catalog.pg_is_in_recovery();' },
  { sig: 'pg_has_role(r text, m text)', ret: 'boolean', body: 'RETURN pg_catalog.pg_has_role(r::name, m);' },
  {
    sig: 'has_database_privilege(d oid, p text)',
    ret: 'boolean',
    body: 'RETURN pg_catalog.has_database_privilege(d, p);',
  },
  { sig: 'pg_database_size(d oid)', ret: 'bigint', body: 'RETURN pg_catalog.pg_database_size(d);' },
  { sig: 'pg_total_relation_size(r regclass)', ret: 'bigint', body: 'RETURN pg_catalog.pg_total_relation_size(r);' },
  { sig: 'pg_relation_size(r regclass)', ret: 'bigint', body: 'RETURN pg_catalog.pg_relation_size(r);' },
  { sig: 'pg_get_indexdef(i oid)', ret: 'text', body: 'RETURN pg_catalog.pg_get_indexdef(i);' },
  { sig: 'pg_blocking_pids(p int)', ret: 'int[]', body: 'RETURN pg_catalog.pg_blocking_pids(p);' },
  { sig: 'array_to_string(a text[], s text)', ret: 'text', body: 'RETURN pg_catalog.array_to_string(a, s);' },
  { sig: '"left"(s text, n int)', ret: 'text', body: 'RETURN pg_catalog."left"(s, n);' },
];

// Relations pgpulse reads: look-alike views that trip and then show the real rows.
const VIEWS = [
  'pg_stat_statements_info',
  'pg_stat_statements',
  'pg_stat_activity',
  'pg_stat_database',
  'pg_database',
  'pg_roles',
  'pg_extension',
  'pg_namespace',
  'pg_settings',
  'pg_stat_user_tables',
  'pg_statio_user_tables',
  'pg_stat_user_indexes',
  'pg_statio_user_indexes',
  'pg_index',
  'pg_class',
  'pg_am',
  'pg_stat_bgwriter',
  'pg_available_extensions',
];

async function plant(superUrl: string, version: number): Promise<void> {
  await run(superUrl, `DROP DATABASE IF EXISTS ${DB}`);
  await run(
    superUrl,
    `DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${OWNER}') THEN CREATE ROLE ${OWNER} LOGIN PASSWORD 'ownerpw'; END IF;
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${MONITOR}') THEN CREATE ROLE ${MONITOR} LOGIN PASSWORD 'monpw'; END IF;
    END $$`
  );
  await run(superUrl, `GRANT pg_monitor TO ${MONITOR}`);
  await run(superUrl, `CREATE DATABASE ${DB} OWNER ${OWNER}`);
  const asSuper = withDb(superUrl, DB);
  // the extension lives in a schema that is on nobody's search_path: pgpulse must look it up
  await run(
    asSuper,
    `CREATE SCHEMA stats; CREATE EXTENSION pg_stat_statements SCHEMA stats; GRANT USAGE ON SCHEMA stats TO PUBLIC`
  );
  await run(asSuper, `ALTER SCHEMA public OWNER TO ${OWNER}`); // PG14 and older: public belongs to the bootstrap superuser
  const asOwner = withDb(superUrl, DB, OWNER, 'ownerpw');
  await run(
    asOwner,
    `CREATE TABLE public.orders (id int PRIMARY KEY, customer int, note text); INSERT INTO public.orders SELECT g, g % 10, 'n' FROM generate_series(1, 500) g; CREATE INDEX orders_customer ON public.orders (customer)`
  );
  const ddl: string[] = [
    `CREATE SCHEMA ${MONITOR}`, // "$user" for the monitoring role
    `CREATE FUNCTION public.tripwire(what text) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_catalog.pg_notify('${CHANNEL}', what); RETURN true; END $$`,
  ];
  for (const schema of [MONITOR, 'public']) {
    for (const f of FUNCTIONS) {
      const name = f.sig.slice(0, f.sig.indexOf('('));
      ddl.push(
        `CREATE FUNCTION ${schema}.${f.sig} RETURNS ${f.ret} LANGUAGE plpgsql AS $$ BEGIN PERFORM public.tripwire('${schema}.${name.replace(/"/g, '')}'); ${f.body} END $$`
      );
    }
    for (const v of VIEWS) {
      const real = v.startsWith('pg_stat_statements') ? `stats.${v}` : `pg_catalog.${v}`;
      if (v === 'pg_stat_bgwriter' && version >= 170000) {
        ddl.push(
          `CREATE VIEW ${schema}.pg_stat_checkpointer AS SELECT * FROM pg_catalog.pg_stat_checkpointer WHERE public.tripwire('${schema}.pg_stat_checkpointer')`
        );
      }
      ddl.push(`CREATE VIEW ${schema}.${v} AS SELECT * FROM ${real} WHERE public.tripwire('${schema}.${v}')`);
    }
    ddl.push(`GRANT USAGE ON SCHEMA ${schema} TO PUBLIC`);
  }
  // operators with exactly the catalog's signatures win when their schema comes first
  ddl.push(
    `CREATE FUNCTION public.eq_oid(a oid, b oid) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN PERFORM public.tripwire('public.=(oid,oid)'); RETURN a OPERATOR(pg_catalog.=) b; END $$`
  );
  ddl.push(`CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = public.eq_oid)`);
  ddl.push(
    `CREATE FUNCTION public.eq_text(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN PERFORM public.tripwire('public.=(text,text)'); RETURN a OPERATOR(pg_catalog.=) b; END $$`
  );
  ddl.push(`CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.eq_text)`);
  ddl.push(
    `CREATE FUNCTION public.ne_int(a int, b int) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN PERFORM public.tripwire('public.<>(int,int)'); RETURN a OPERATOR(pg_catalog.<>) b; END $$`
  );
  ddl.push(`CREATE OPERATOR public.<> (LEFTARG = int, RIGHTARG = int, FUNCTION = public.ne_int)`);
  // the owner may set its database's default search_path: the planted schemas before pg_catalog
  ddl.push(`ALTER DATABASE ${DB} SET search_path = "$user", public, pg_catalog`);
  await run(asOwner, ddl.join(';\n'));
}

interface Listener {
  heard: string[];
  /** wait (up to 20 s) until a payload is heard */
  until(payload: string): Promise<void>;
  stop(): Promise<void>;
}

async function listen(url: string): Promise<Listener> {
  const c = new Client({ connectionString: url });
  await c.connect();
  const heard: string[] = [];
  c.on('notification', (n) => heard.push(n.payload ?? ''));
  await c.query(`LISTEN ${CHANNEL}`);
  return {
    heard,
    until: async (payload: string) => {
      for (let i = 0; i < 400 && !heard.includes(payload); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: async () => {
      await c.end();
    },
  };
}

async function scenario(superUrl: string, label: string): Promise<void> {
  const version = Number(
    await (async () => {
      const c = new Client({ connectionString: superUrl });
      await c.connect();
      try {
        return (await c.query("SELECT current_setting('server_version_num') AS v")).rows[0].v;
      } finally {
        await c.end();
      }
    })()
  );
  await plant(superUrl, version);
  const monUrl = withDb(superUrl, DB, MONITOR, 'monpw');
  const listener = await listen(withDb(superUrl, DB));
  try {
    // the trap works: the monitoring role resolving names through the database default trips it
    const probe = new Client({ connectionString: monUrl });
    await probe.connect();
    await probe.query('SELECT count(*) FROM pg_stat_statements(false)');
    await probe.end();
    await listener.until(`${MONITOR}.pg_stat_statements`);
    assert.ok(
      listener.heard.includes(`${MONITOR}.pg_stat_statements`),
      `${label}: the planted function is what an unqualified call reaches (${listener.heard})`
    );
    listener.heard.length = 0;

    const sc = await startTestSidecar({ url: monUrl });
    try {
      await sc.sampleNow();
      await run(withDb(superUrl, DB, OWNER, 'ownerpw'), 'SELECT count(*) FROM public.orders WHERE customer = 3');
      await new Promise((r) => setTimeout(r, 1100));
      await sc.sampleNow();
      const health = await sc.get('/api/v1/health');
      assert.equal(health.status, 200, `${label}: health ${health.text}`);
      const doctor = await diagnose(sc.sidecar.config, undefined, {
        step: () => undefined,
        done: () => undefined,
      } as never);
      assert.ok(doctor[0].reachable, `${label}: doctor reached the target`);
      assert.equal(
        doctor[0].checks.find((c) => c.name === 'pg_stat_statements')?.status,
        'ok',
        `${label}: doctor reads pg_stat_statements in its schema`
      );
      // notifications arrive in commit order: once this one is heard, every earlier one has been
      await run(withDb(superUrl, DB), "SELECT public.tripwire('sentinel')");
      await listener.until('sentinel');
      listener.heard.splice(listener.heard.indexOf('sentinel'), 1);

      assert.deepEqual(listener.heard, [], `${label}: pgpulse called planted objects`);
      const failed = sc.sidecar.store.db.prepare('SELECT collector, error FROM sample WHERE ok = 0').all() as Array<{
        collector: string;
        error: string;
      }>;
      assert.deepEqual(
        failed.filter((f) => !['vector', 'vector_probe', 'neon', 'neon_activity'].includes(f.collector)),
        [],
        `${label}: no collector failed`
      );
      const status = sc.sidecar.samplers.get('default')!.status;
      assert.equal(status.unavailable.statements, undefined, `${label}: pg_stat_statements found in its schema`);

      // what pgpulse stored is what the real view says (the superuser reads it by its full name)
      const su = new Client({ connectionString: withDb(superUrl, DB) });
      await su.connect();
      await su.query('SET search_path = pg_catalog');
      const real = await su.query<{ queryid: string; calls: string; query: string }>(
        "SELECT s.queryid::text AS queryid, s.calls::text AS calls, s.query FROM stats.pg_stat_statements(true) s WHERE s.query LIKE 'SELECT count(*) FROM public.orders WHERE customer = $1%' AND s.toplevel"
      );
      await su.end();
      assert.equal(real.rows.length, 1, `${label}: the workload statement is in pg_stat_statements`);
      const texts = sc.sidecar.store.statementTexts('default');
      assert.equal(texts.get(real.rows[0].queryid), real.rows[0].query, `${label}: stored text equals the real one`);
      const calls = sc.sidecar.store.db
        .prepare(
          "SELECT p.value FROM point p JOIN series s ON s.id = p.series_id JOIN sample sm ON sm.id = p.sample_id WHERE s.collector = 'statements' AND s.field = 'calls' AND s.labels LIKE ? ORDER BY sm.ts DESC LIMIT 1"
        )
        .get(`%${real.rows[0].queryid}%`) as { value: number } | undefined;
      assert.equal(calls?.value, Number(real.rows[0].calls), `${label}: stored calls equal the real view's`);
    } finally {
      await sc.destroy();
    }
  } finally {
    await listener.stop();
  }
}

export function hijackSuite(server: MatrixServer, getPg: () => TestPostgres): void {
  describe(`${server.label}: search_path hijacking by a database owner`, () => {
    it('planted functions, views and operators are never called, and stored values equal the real views', async () => {
      await scenario(getPg().url, server.label);
    });
  });
}
