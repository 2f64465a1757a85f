/**
 * pgpulse behind a real PgBouncer in transaction pooling mode (what Neon's -pooler endpoints
 * are), in front of a real PostgreSQL 15, with pool_size 1: every client of one (database, user)
 * pair shares one server connection, so whatever setting a client leaves behind, the next client
 * of that pair sees with SHOW.
 *
 * - detection: a `ep-…-pooler` host is pooled by its name, a plain PgBouncer is seen on the wire
 *   (the startup BackendKeyData pid is not the server's pg_backend_pid()), a direct connection is
 *   not pooled;
 * - every setting the sampler, doctor and the actions make is transaction-local: a second client
 *   on the same server connection sees the defaults (and a negative control shows a session SET
 *   does leak through this pooler, so the check can fail);
 * - actions run through the pooler (cancel, ANALYZE); VACUUM through a plain PgBouncer is refused
 *   with the fix instead of leaving a session statement_timeout behind;
 * - the Neon gate's own-session heuristic: pgpulse reconnecting to PgBouncer every cycle is not
 *   "someone else", while a client that connected and left between two cycles is.
 *
 * The Neon host names cannot be resolved on a test machine, so this process maps them in
 * dns.lookup (as /etc/hosts entries would): ep-…-pooler.….pgpulse.test to PgBouncer on
 * 127.0.0.2, ep-….….pgpulse.test to PostgreSQL on 127.0.0.1, both on the server's port.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import dns from 'node:dns';
import { Client, type Pool } from 'pg';
import { detectPooler } from '../../../src/sidecar/targets/pooler';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { startPgBouncer, type TestPgBouncer } from '../../support/pgbouncer';
import { startTestSidecar } from '../../support/sidecar';
import { startFakeNeonApi, type FakeNeonApi, neonSettings } from '../../support/neon-api';
import { NeonApiClient } from '../../../src/sidecar/neon/api-client';
import { NeonGate, gatesByTarget } from '../../../src/sidecar/neon/gate';
import { NEON_ACTIVITY } from '../../../src/sidecar/neon/activity-collector';
import { actionRunners } from '../../../src/sidecar/actions';
import { diagnose } from '../../../src/sidecar/cli/doctor';
import { Progress } from '../../../src/sidecar/cli/support';
import type { SidecarConfig, TargetConfig } from '../../../src/sidecar/config';
import { sleep, waitFor } from '../../support/wait';

let pg: TestPostgres;
let bouncer: TestPgBouncer;
let api: FakeNeonApi;
const realLookup = dns.lookup;

before(async () => {
  pg = await startPostgres();
  await pg.query('CREATE DATABASE app');
  await pg.query('CREATE ROLE pgpulse_mon LOGIN IN ROLE pg_monitor');
  await pg.query('CREATE ROLE app_user LOGIN');
  await pg.query('CREATE ROLE pgpulse_actions LOGIN IN ROLE pg_signal_backend, pg_read_all_stats');
  await pg.query(
    'CREATE TABLE public.orders (id int PRIMARY KEY, total numeric); INSERT INTO public.orders SELECT g, g FROM generate_series(1, 500) g; ALTER TABLE public.orders OWNER TO pgpulse_actions',
    [],
    'app'
  );
  // the pooler on 127.0.0.2 and the server on 127.0.0.1, on the same port: like Neon's
  // ep-…-pooler and ep-… hosts
  bouncer = await startPgBouncer({
    serverPort: pg.port,
    users: ['postgres', 'pgpulse_mon', 'app_user', 'pgpulse_actions'],
    listenAddr: '127.0.0.2',
    port: pg.port,
  });
  api = await startFakeNeonApi({ state: 'active' });
  api.lastActive = new Date().toISOString();
  (dns as { lookup: unknown }).lookup = (host: string, options: unknown, cb?: unknown) => {
    const callback = (typeof options === 'function' ? options : cb) as (...a: unknown[]) => void;
    const o = (typeof options === 'object' && options ? options : {}) as { all?: boolean };
    if (typeof host === 'string' && host.endsWith('.pgpulse.test')) {
      const address = host.split('.')[0].endsWith('-pooler') ? bouncer.host : '127.0.0.1';
      return o.all ? callback(null, [{ address, family: 4 }]) : callback(null, address, 4);
    }
    return (realLookup as (...a: unknown[]) => void)(host, options, cb);
  };
});

after(async () => {
  (dns as { lookup: unknown }).lookup = realLookup;
  await api?.close();
  await bouncer?.stop();
  await pg?.destroy();
});

function neonTarget(
  name: string,
  url: string,
  extra: Partial<TargetConfig> = {}
): TargetConfig & { name: string; url: string } {
  return {
    name,
    url,
    intervalMs: 300,
    statementTimeoutMs: 5000,
    connectTimeoutMs: 3000,
    collectors: {},
    neon: neonSettings(api),
    ...extra,
  };
}

/** server backends of one role in database app, seen on a direct connection */
async function serverBackends(role: string): Promise<number[]> {
  const rows = await pg.query<{ pid: number }>(
    "SELECT pid FROM pg_catalog.pg_stat_activity WHERE usename = $1 AND datname = 'app' AND backend_type = 'client backend'",
    [role]
  );
  return rows.map((r) => r.pid);
}

const SETTINGS = [
  'statement_timeout',
  'search_path',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
  'default_transaction_read_only',
  'work_mem',
  'enable_indexscan',
  'enable_seqscan',
];

/** what a client of this role sees through the pooler, and on which server backend it ran */
async function seenThroughPooler(role: string): Promise<{ pid: number; settings: Record<string, string> }> {
  const c = new Client({ connectionString: bouncer.urlFor('app', role), application_name: 'checker' });
  await c.connect();
  try {
    // one statement, so it is one transaction on one server connection
    const r = await c.query(
      `SELECT pg_catalog.pg_backend_pid() AS pid, ${SETTINGS.map((s) => `pg_catalog.current_setting('${s}') AS "${s}"`).join(', ')}`
    );
    const { pid, ...settings } = r.rows[0] as Record<string, string> & { pid: number };
    return { pid: Number(pid), settings };
  } finally {
    await c.end();
  }
}

async function defaults(role: string): Promise<Record<string, string>> {
  const c = new Client({ connectionString: pg.urlFor('app', role) });
  await c.connect();
  try {
    const r = await c.query(`SELECT ${SETTINGS.map((s) => `pg_catalog.current_setting('${s}') AS "${s}"`).join(', ')}`);
    return r.rows[0] as Record<string, string>;
  } finally {
    await c.end();
  }
}

test('pooler detection: a -pooler host by its name, a plain PgBouncer on the wire, a direct connection is not pooled', async () => {
  const host = `${api.endpointId}-pooler.c-1.us-east-2.aws.pgpulse.test`;
  const s = await startTestSidecar({
    targets: [
      neonTarget('direct', pg.urlFor('app', 'pgpulse_mon')),
      neonTarget('bouncer', bouncer.urlFor('app', 'pgpulse_mon')),
      neonTarget('pooler', `postgres://pgpulse_mon@${host}:${pg.port}/app`),
    ],
    intervalMs: 300,
    sampling: true,
  });
  try {
    const gate = (name: string) => gatesByTarget.get(s.sidecar.samplers.get(name)!.target)!;
    assert.equal(gate('pooler').pooled, true, 'the -pooler name says so before any connection');
    assert.equal(gate('bouncer').pooled, false, `nothing in ${bouncer.host} says PgBouncer`);
    for (const name of ['direct', 'bouncer', 'pooler']) {
      await waitFor(`${name}: an activity reading`, () => !!s.sidecar.store.lastSample(name, NEON_ACTIVITY)?.ok);
    }
    // observe() runs after the cycle that wrote the reading
    await waitFor('bouncer seen as pooled', () => gate('bouncer').pooled);
    assert.equal(gate('direct').pooled, false);
    assert.equal(gate('pooler').pooled, true);
    const health = await s.get('/api/v1/health?target=pooler');
    assert.equal(health.status, 200, health.text);
    assert.doesNotMatch(
      bouncer.log(),
      /unsupported startup parameter/i,
      'pgpulse sends PgBouncer no startup option it refuses'
    );
  } finally {
    await s.destroy();
  }
});

test('through PgBouncer (pool_size 1) every setting pgpulse makes is transaction-local: sampler, doctor and actions leave the defaults', async () => {
  const monDefaults = await defaults('pgpulse_mon');
  const actDefaults = await defaults('pgpulse_actions');
  // negative control: a session SET through this pooler does stay on the shared server connection
  const leaker = new Client({ connectionString: bouncer.urlFor('app', 'pgpulse_mon') });
  await leaker.connect();
  await leaker.query('SET statement_timeout = 4321');
  await leaker.end();
  assert.equal(
    (await seenThroughPooler('pgpulse_mon')).settings.statement_timeout,
    '4321ms',
    'the check sees a leaked session setting'
  );
  const fix = new Client({ connectionString: bouncer.urlFor('app', 'pgpulse_mon') });
  await fix.connect();
  await fix.query('RESET statement_timeout');
  await fix.end();
  assert.deepEqual((await seenThroughPooler('pgpulse_mon')).settings, monDefaults);

  const t = neonTarget('pooled', bouncer.urlFor('app', 'pgpulse_mon'), {
    actions: {
      enabled: true,
      url: bouncer.urlFor('app', 'pgpulse_actions'),
      allow: ['cancel', 'terminate', 'analyze', 'vacuum'],
    } as TargetConfig['actions'],
  });
  const s = await startTestSidecar({ targets: [t], intervalMs: 300, sampling: true });
  try {
    await waitFor(
      'a few sampling cycles',
      () =>
        (s.sidecar.store.samples('pooled', NEON_ACTIVITY, Date.now() - 60_000, Date.now()).filter((x) => x.ok).length ??
          0) >= 3
    );
    const mon = await serverBackends('pgpulse_mon');
    assert.equal(mon.length, 1, `pool_size 1: one server connection for pgpulse_mon (got ${mon.join(',')})`);
    const seen = await seenThroughPooler('pgpulse_mon');
    assert.equal(seen.pid, mon[0], 'the check ran on the server connection the sampler uses');
    assert.deepEqual(seen.settings, monDefaults, 'after sampling cycles');

    // actions through the pooler
    const runner = actionRunners(s.sidecar).get('pooled')!;
    const cancel = await runner.run({ action: 'cancel', pid: 999_999, dryRun: false }, 'test');
    assert.match(cancel.message, /no backend with pid 999999/);
    await waitFor(
      'orders sampled',
      () => s.sidecar.store.entities('pooled', 'tables', { schemaname: 'public', relname: 'orders' }).length > 0
    );
    const analyze = await runner.run({ action: 'analyze', table: 'public.orders', dryRun: false }, 'test');
    assert.equal(analyze.status, 'done', analyze.message);
    const vacuum = await runner.run({ action: 'vacuum', table: 'public.orders', dryRun: false }, 'test');
    assert.equal(vacuum.status, 'refused', vacuum.message);
    assert.equal(vacuum.httpStatus, 409);
    assert.match(vacuum.message, /transaction pooler.*actions\.url/);
    const act = await serverBackends('pgpulse_actions');
    assert.equal(act.length, 1);
    const actSeen = await seenThroughPooler('pgpulse_actions');
    assert.equal(actSeen.pid, act[0]);
    assert.deepEqual(actSeen.settings, actDefaults, 'after cancel, ANALYZE and the refused VACUUM');
    const analyzed = await pg.query<{ n: string }>(
      "SELECT analyze_count AS n FROM pg_catalog.pg_stat_user_tables WHERE relname = 'orders'",
      [],
      'app'
    );
    assert.equal(Number(analyzed[0].n), 1, 'the ANALYZE ran (through the pooler), the VACUUM did not');
    const vacuumed = await pg.query<{ n: string }>(
      "SELECT vacuum_count AS n FROM pg_catalog.pg_stat_user_tables WHERE relname = 'orders'",
      [],
      'app'
    );
    assert.equal(Number(vacuumed[0].n), 0);
  } finally {
    await s.destroy();
  }

  // doctor, through the same pooler
  const config: SidecarConfig = {
    token: 'x',
    dataDir: '/nonexistent',
    httpAddress: '127.0.0.1:0',
    grpcAddress: '127.0.0.1:0',
    intervalMs: 300,
    retentionMs: 86_400_000,
    downsampleAfterMs: 86_400_000,
    downsampleStepMs: 300_000,
    logLevel: 'silent',
    targets: [neonTarget('pooled', bouncer.urlFor('app', 'pgpulse_mon'))],
  };
  const [d] = await diagnose(config, undefined, new Progress());
  const connected = d.checks.find((c) => /connect/i.test(c.name));
  assert.ok(connected && connected.status === 'ok', JSON.stringify(d.checks));
  assert.match(d.checks.find((c) => c.name === 'pooler')?.detail ?? '', /through a transaction pooler/);
  const [direct] = await diagnose(
    { ...config, targets: [neonTarget('direct', pg.urlFor('app', 'pgpulse_mon'))] },
    undefined,
    new Progress()
  );
  assert.match(direct.checks.find((c) => c.name === 'pooler')?.detail ?? '', /direct connection/);
  const after = await seenThroughPooler('pgpulse_mon');
  assert.deepEqual(after.settings, monDefaults, 'after doctor');
  assert.equal(api.nonGet(), 0);
});

test('own-session heuristic behind PgBouncer: pgpulse reconnecting every cycle is not someone else; a client that came and went between two cycles is', async () => {
  api.state = 'active';
  api.lastActive = new Date().toISOString();
  // 1.5 s between cycles: the Neon pool closes idle connections after 1 s, so pgpulse opens a
  // new client connection to PgBouncer every cycle (which opens no server session); the 1 s
  // activity sampler would keep that connection busy, so it is off here
  const t = neonTarget('heur', bouncer.urlFor('app', 'pgpulse_mon'), {
    intervalMs: 1500,
    activity: { enabled: false },
  });
  const s = await startTestSidecar({
    targets: [t],
    intervalMs: 1500,
    sampling: true,
    extra: {
      gateFor: (target) =>
        new NeonGate({
          target,
          quietMs: 600_000,
          client: new NeonApiClient({
            apiUrl: api.apiUrl,
            projectId: api.projectId,
            endpointId: api.endpointId,
            apiKey: api.apiKey,
          }),
        }),
    },
  });
  try {
    const gate = gatesByTarget.get(s.sidecar.samplers.get('heur')!.target)!;
    const readings = () =>
      s.sidecar.store.samples('heur', NEON_ACTIVITY, Date.now() - 120_000, Date.now()).filter((x) => x.ok).length;
    await waitFor('two readings', () => readings() >= 2);
    await waitFor('seen as pooled', () => gate.pooled);
    const quiet = gate.snapshot().lastOtherActivity;
    const connectsBefore = gate.snapshot().ownConnects;
    const n0 = readings();
    await waitFor('three more readings', () => readings() >= n0 + 3);
    assert.ok(
      gate.snapshot().ownConnects - connectsBefore >= 2,
      `pgpulse reconnected to PgBouncer between cycles (${gate.snapshot().ownConnects - connectsBefore})`
    );
    assert.equal(gate.snapshot().lastOtherActivity, quiet, "pgpulse's own reconnects are not taken for another client");

    // PgBouncer opens a new server session for pgpulse (its old one went away): that session is
    // pgpulse's own (its backend started after the previous reading), not someone else's
    const sessionsBefore = Number(
      (await pg.query<{ n: string }>("SELECT sessions AS n FROM pg_catalog.pg_stat_database WHERE datname = 'app'"))[0]
        .n
    );
    const old = await serverBackends('pgpulse_mon');
    await pg.query('SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE pid = ANY($1)', [
      old,
    ]);
    const nT = readings();
    await waitFor(
      'two readings on a new server session',
      async () => readings() >= nT + 2 && (await serverBackends('pgpulse_mon')).some((p) => !old.includes(p))
    );
    const sessionsAfter = Number(
      (await pg.query<{ n: string }>("SELECT sessions AS n FROM pg_catalog.pg_stat_database WHERE datname = 'app'"))[0]
        .n
    );
    assert.ok(sessionsAfter > sessionsBefore, 'PgBouncer opened a new server session for pgpulse');
    assert.equal(
      gate.snapshot().lastOtherActivity,
      quiet,
      "pgpulse's new server session is its own, not another client"
    );

    // someone connects straight to the compute, runs a statement and leaves between two cycles:
    // only pg_stat_database.sessions shows it
    const n1 = readings();
    const other = new Client({ connectionString: pg.urlFor('app', 'app_user'), application_name: 'app' });
    await other.connect();
    await other.query('SELECT 1');
    await other.end();
    await waitFor('two more readings', () => readings() >= n1 + 2);
    const seen = gate.snapshot().lastOtherActivity;
    assert.ok(
      seen !== undefined && quiet !== undefined && seen > quiet,
      'the session that came and went counts as activity'
    );

    // a client through the pooler with its own role: its idle server connection stays behind
    const n2 = readings();
    const pooledApp = new Client({
      connectionString: bouncer.urlFor('app', 'app_user'),
      application_name: 'app-pooled',
    });
    await pooledApp.connect();
    await pooledApp.query('SELECT 1');
    await pooledApp.end();
    const tWork = Date.now();
    await waitFor('two more readings', () => readings() >= n2 + 2);
    assert.ok((gate.snapshot().lastOtherActivity ?? 0) >= tWork - 1000, 'the pooled client counts as activity');
    assert.equal(api.nonGet(), 0);
  } finally {
    await s.destroy();
  }
});

test('Neon -pooler host: actions that cannot run in a transaction go to the direct host (the same name without -pooler) and run there', async () => {
  const pooler = `${api.endpointId}-pooler.c-1.us-east-2.aws.pgpulse.test`;
  const t = neonTarget('neonpooled', `postgres://pgpulse_mon@${pooler}:${pg.port}/app`, {
    actions: {
      enabled: true,
      url: `postgres://pgpulse_actions@${pooler}:${pg.port}/app`,
      allow: ['analyze', 'vacuum'],
    } as TargetConfig['actions'],
  });
  const actDefaults = await defaults('pgpulse_actions');
  const s = await startTestSidecar({ targets: [t], intervalMs: 300, sampling: true });
  try {
    await waitFor(
      'orders sampled',
      () => s.sidecar.store.entities('neonpooled', 'tables', { schemaname: 'public', relname: 'orders' }).length > 0
    );
    const before = await pg.query<{ n: string }>(
      "SELECT vacuum_count AS n FROM pg_catalog.pg_stat_user_tables WHERE relname = 'orders'",
      [],
      'app'
    );
    const runner = actionRunners(s.sidecar).get('neonpooled')!;
    const vacuum = runner.run({ action: 'vacuum', table: 'public.orders', dryRun: false }, 'test');
    const done = await vacuum;
    assert.equal(done.status, 'done', done.message);
    const after = await pg.query<{ n: string }>(
      "SELECT vacuum_count AS n FROM pg_catalog.pg_stat_user_tables WHERE relname = 'orders'",
      [],
      'app'
    );
    assert.equal(Number(after[0].n), Number(before[0].n) + 1, 'the VACUUM ran');
    // the pool the VACUUM ran on talks to the server itself: its startup pid is the backend's
    const pool = (runner as unknown as { pool?: Pool }).pool;
    assert.ok(pool, 'the actions pool was used');
    const c = await pool.connect();
    try {
      assert.equal(
        await detectPooler(c),
        false,
        `the actions connection reached the server directly, not PgBouncer on ${bouncer.host}`
      );
    } finally {
      c.release();
    }
    const seen = await seenThroughPooler('pgpulse_actions');
    assert.deepEqual(seen.settings, actDefaults, 'nothing left on the pooled server connection');
  } finally {
    await s.destroy();
  }
});
