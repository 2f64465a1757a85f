/**
 * Opt-in actions against a real PostgreSQL 15: a disabled action is refused with a clear error,
 * a dry-run changes nothing, an enabled cancel hits exactly the target backend and is audited,
 * pgpulse's own sessions and system processes are never signalled, and the automatic policy is
 * dry-run until told otherwise.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { actionRunners } from '../../../src/sidecar/actions';
import { PolicyEngine } from '../../../src/sidecar/actions/policy';
import { ownBackendPids } from '../../../src/sidecar/targets/connection';
import type { ActionsConfig } from '../../../src/sidecar/actions/config';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';

const ROOT = resolve(__dirname, '..', '..', '..');

interface Sleeper {
  pid: number;
  client: Client;
  done: Promise<{ ok: boolean; code?: string }>;
}

async function sleeper(url: string, app: string, seconds: number): Promise<Sleeper> {
  const client = new Client({ connectionString: url, application_name: app });
  client.on('error', () => undefined);
  await client.connect();
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  const done = client.query(`SELECT pg_sleep(${seconds})`).then(
    () => ({ ok: true }),
    (e: { code?: string }) => ({ ok: false, code: e.code })
  );
  // the query is only sent here: wait until the server runs it, or tests that compare
  // pg_stat_activity before and after see it still idle on a loaded machine
  const watcher = new Client({ connectionString: url });
  await watcher.connect();
  try {
    for (let i = 0; ; i++) {
      const r = await watcher.query<{ state: string }>('SELECT state FROM pg_stat_activity WHERE pid = $1', [pid]);
      if (r.rows[0]?.state === 'active') {
        break;
      }
      if (i >= 500) {
        throw new Error(`sleeper ${app} (pid ${pid}) never became active: ${r.rows[0]?.state}`);
      }
      await new Promise((res) => setTimeout(res, 20));
    }
  } finally {
    await watcher.end();
  }
  return { pid, client, done };
}

describe('opt-in actions on PostgreSQL 15', () => {
  let pg: TestPostgres;
  let sc: TestSidecar;
  const sleepers: Sleeper[] = [];
  let a: Sleeper;
  let b: Sleeper;
  let own: Sleeper;

  const activity = async (pid: number) =>
    (
      await pg.query<{ state: string; query_start: string }>(
        'SELECT state, query_start::text AS query_start FROM pg_stat_activity WHERE pid = $1',
        [pid]
      )
    )[0];

  const post = async (target: string, body: Record<string, unknown>) => {
    const res = await fetch(`${sc.baseUrl}/api/v1/resources/actions?target=${target}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sc.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, any> };
  };

  before(async () => {
    pg = await startPostgres();
    await pg.query(`
      CREATE ROLE app LOGIN;
      CREATE ROLE pgpulse_actions LOGIN;
      GRANT pg_signal_backend, pg_read_all_stats TO pgpulse_actions;
      CREATE TABLE t_dead (id int, pad text) WITH (autovacuum_enabled = false);
      INSERT INTO t_dead SELECT g, repeat('x', 50) FROM generate_series(1, 20000) g;
      DELETE FROM t_dead WHERE id % 2 = 0;
      ALTER TABLE t_dead OWNER TO pgpulse_actions;
      CREATE TABLE t_not_ours (id int);
    `);
    const actionsUrl = pg.urlFor('postgres', 'pgpulse_actions');
    sc = await startTestSidecar({
      targets: [
        {
          name: 'enabled',
          url: pg.url,
          actions: {
            enabled: true,
            url: actionsUrl,
            minQueryDuration: '1s',
            policyInterval: '1h',
            policies: [{ name: 'sleepers', action: 'cancel', match: 'pg_sleep\\(30\\d\\)', after: '1s' }],
          },
        },
        { name: 'disabled', url: pg.url },
        { name: 'narrow', url: pg.url, actions: { enabled: true, url: actionsUrl, allow: ['cancel'] } },
      ],
    });
    for (const t of ['enabled', 'disabled', 'narrow']) {
      await sc.sampleNow(t);
    }
    const appUrl = pg.urlFor('postgres', 'app');
    a = await sleeper(appUrl, 'app-a', 300);
    b = await sleeper(appUrl, 'app-b', 301);
    own = await sleeper(appUrl, 'pgpulse-x', 302);
    sleepers.push(a, b, own);
    // every sleeper has been running for more than the 1 s threshold
    for (;;) {
      const rows = await pg.query<{ n: string }>(
        "SELECT count(*)::text AS n FROM pg_stat_activity WHERE pid = ANY($1) AND state = 'active' AND clock_timestamp() - query_start > interval '1200 ms'",
        [sleepers.map((s) => s.pid)]
      );
      if (Number(rows[0].n) === sleepers.length) {
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    await pg
      .query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'")
      .catch(() => undefined);
    for (const s of sleepers) {
      await s.client.end().catch(() => undefined);
    }
    await sc?.destroy();
    await pg?.destroy();
  });

  it('refuses an action on a target where actions are disabled, with a clear error, and audits the refusal', async () => {
    const before1 = await activity(a.pid);
    const r = await post('disabled', { action: 'cancel', pid: a.pid, dryRun: false });
    assert.equal(r.status, 403);
    assert.match(r.json.error, /actions are disabled for target disabled/);
    assert.match(r.json.error, /actions\.enabled: true/);
    assert.deepEqual(await activity(a.pid), before1, 'the backend is untouched');
    const audit = await sc.get('/api/v1/resources/actions?target=disabled');
    assert.equal(audit.json.enabled, false);
    assert.equal(audit.json.audit[0].status, 'refused');
    assert.equal(audit.json.audit[0].trigger, 'api');
  });

  it('refuses an action outside the allow list', async () => {
    const r = await post('narrow', { action: 'vacuum', table: 'public.t_dead', dryRun: false });
    assert.equal(r.status, 403);
    assert.match(r.json.error, /action vacuum is not allowed for target narrow/);
  });

  it('dry-run shows the SQL and changes nothing', async () => {
    const before1 = await activity(a.pid);
    const r = await post('enabled', { action: 'cancel', pid: a.pid });
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'dry_run');
    assert.match(r.json.sql, new RegExp(`SELECT pg_cancel_backend\\(pid\\)[\\s\\S]*WHERE pid = ${a.pid} `));
    assert.equal(r.json.backend.application_name, 'app-a');
    assert.deepEqual(await activity(a.pid), before1);

    const stat = () =>
      pg.query<{ dead: string; vacuums: string }>(
        "SELECT n_dead_tup::text AS dead, vacuum_count::text AS vacuums FROM pg_stat_user_tables WHERE relname = 't_dead'"
      );
    const s0 = await stat();
    const v = await post('enabled', { action: 'vacuum', table: 'public.t_dead' });
    assert.equal(v.json.status, 'dry_run');
    assert.equal(v.json.sql, 'VACUUM (ANALYZE) public.t_dead;');
    assert.deepEqual(await stat(), s0, 'no vacuum ran');
  });

  it('an enabled cancel hits exactly the target backend and is audited', async () => {
    const others = [await activity(b.pid), await activity(own.pid)];
    const r = await post('enabled', { action: 'cancel', pid: a.pid, dryRun: false });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.status, 'done');
    assert.deepEqual(await a.done, { ok: false, code: '57014' }, 'the query was cancelled');
    assert.deepEqual([await activity(b.pid), await activity(own.pid)], others, 'every other backend runs on');
    const audit = await sc.get('/api/v1/resources/actions?target=enabled');
    const row = audit.json.audit.find((x: { id: number }) => x.id === r.json.auditId);
    assert.equal(row.status, 'done');
    assert.equal(row.dryRun, false);
    assert.equal(row.object, `pid ${a.pid}`);
    assert.match(row.sql, /pg_cancel_backend/);
    assert.ok(row.finishedTs >= row.ts);
    const events = await sc.get('/api/v1/resources/events?target=enabled&from=now-1h&to=now&kinds=action');
    assert.ok(events.json.events.some((e: { title: string }) => e.title === `action cancel pid ${a.pid}: done`));
  });

  it("never signals pgpulse's own connections (by backend pid) or system processes; a name proves nothing", async () => {
    const mine = [...ownBackendPids()];
    assert.ok(mine.length > 0, 'pgpulse has open connections');
    const r = await post('enabled', { action: 'terminate', pid: mine[0], dryRun: false });
    assert.equal(r.status, 403);
    assert.match(r.json.error, /is one of pgpulse's own connections/);
    assert.ok(await activity(mine[0]), 'the connection is still there (it may have run pgpulse queries meanwhile)');
    // an application session that calls itself pgpulse-… is not pgpulse
    const named = await post('enabled', { action: 'terminate', pid: own.pid, dryRun: true });
    assert.equal(named.status, 200, JSON.stringify(named.json));
    assert.equal(named.json.status, 'dry_run');
    const [cp] = await pg.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'"
    );
    const s = await post('enabled', { action: 'terminate', pid: cp.pid, dryRun: false });
    assert.equal(s.status, 403);
    assert.match(s.json.error, /is a checkpointer, not a client backend/);
  });

  it('through Grafana only an Admin runs an action; others get the dry-run', async () => {
    const c = await sleeper(pg.urlFor('postgres', 'app'), 'app-g', 298);
    sleepers.push(c);
    while ((await activity(c.pid))?.state !== 'active') {
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1100));
    const before1 = await activity(c.pid);
    const ctx = (role: string) =>
      ({
        method: 'POST',
        body: { action: 'cancel', pid: c.pid, dryRun: false },
        via: 'grafana',
        user: { login: 'bob', role },
      }) as never;
    const viewer = await sc.sidecar.service.resource(
      'actions',
      new URLSearchParams({ target: 'enabled' }),
      ctx('Viewer')
    );
    assert.equal(viewer.status, 403);
    assert.match(
      (viewer.body as { error: string }).error,
      /only a Grafana Admin may run actions through Grafana \(you are Viewer\)/
    );
    assert.deepEqual(await activity(c.pid), before1);
    // audited as what it was: a refused real action, with the reason
    const refused = (await sc.get('/api/v1/resources/actions?target=enabled')).json.audit[0];
    assert.deepEqual([refused.status, refused.dryRun, refused.trigger], ['refused', false, 'grafana:bob']);
    assert.match(refused.result, /only a Grafana Admin/);
    const admin = await sc.sidecar.service.resource(
      'actions',
      new URLSearchParams({ target: 'enabled' }),
      ctx('Admin')
    );
    assert.equal(admin.status, 200, JSON.stringify(admin.body));
    assert.deepEqual(await c.done, { ok: false, code: '57014' });
    const audit = await sc.get('/api/v1/resources/actions?target=enabled');
    assert.equal(audit.json.audit[0].trigger, 'grafana:bob');
  });

  it('rejects malformed requests naming the field', async () => {
    const r = await post('enabled', { action: 'explode' });
    assert.equal(r.status, 400);
    assert.match(r.json.error, /action must be one of cancel, terminate, analyze, vacuum, reindex, create_index/);
    const n = await post('enabled', { action: 'cancel', dryRun: false });
    assert.equal(n.status, 400);
    assert.match(n.json.error, /cancel needs pid/);
    const u = await post('enabled', { action: 'analyze', table: 'no_schema', dryRun: false });
    assert.match(u.json.error, /must be schema-qualified/);
    // every one of them is in the audit trail, refused with its reason
    const audit = (await sc.get('/api/v1/resources/actions?target=enabled')).json.audit as Array<{
      action: string;
      status: string;
      result: string;
    }>;
    assert.ok(
      audit.some(
        (e) =>
          e.action === 'explode' &&
          e.status === 'refused' &&
          /invalid action request: .*action must be one of/.test(e.result)
      ),
      JSON.stringify(audit.slice(0, 3))
    );
    assert.ok(audit.some((e) => e.action === 'cancel' && e.status === 'refused' && /cancel needs pid/.test(e.result)));
    assert.ok(
      audit.some((e) => e.action === 'analyze' && e.status === 'refused' && /must be schema-qualified/.test(e.result))
    );
  });

  it('a VACUUM PostgreSQL skips with a WARNING (table not owned by the actions role) is "skipped", not "done"', async () => {
    const [s0] = await pg.query<{ vacuums: string }>(
      "SELECT vacuum_count::text AS vacuums FROM pg_stat_user_tables WHERE relname = 't_not_ours'"
    );
    const r = await post('enabled', { action: 'vacuum', table: 'public.t_not_ours', dryRun: false });
    assert.equal(r.json.status, 'skipped', JSON.stringify(r.json));
    assert.equal(r.status, 409);
    assert.match(r.json.message, /skipping/);
    const [s1] = await pg.query<{ vacuums: string }>(
      "SELECT vacuum_count::text AS vacuums FROM pg_stat_user_tables WHERE relname = 't_not_ours'"
    );
    assert.equal(s1.vacuums, s0.vacuums, 'PostgreSQL really did not vacuum it');
    const audit = (await sc.get('/api/v1/resources/actions?target=enabled')).json.audit[0];
    assert.deepEqual([audit.action, audit.status], ['vacuum', 'skipped']);
  });

  it('runs an enabled VACUUM with the actions role', async () => {
    const r = await post('enabled', { action: 'vacuum', table: 'public.t_dead', dryRun: false });
    assert.equal(r.json.status, 'done', JSON.stringify(r.json));
    const [s] = await pg.query<{ dead: string; vacuums: string }>(
      "SELECT n_dead_tup::text AS dead, vacuum_count::text AS vacuums FROM pg_stat_user_tables WHERE relname = 't_dead'"
    );
    assert.equal(Number(s.vacuums), 1);
    assert.equal(Number(s.dead), 0);
  });

  it('the automatic policy is dry-run by default, acts once per query, and cancels only what matches when enabled', async () => {
    const runner = actionRunners(sc.sidecar).get('enabled')!;
    const cfg = runner.cfg as ActionsConfig;
    const pool = sc.sidecar.samplers.get('enabled')!.pool;
    const dry = new PolicyEngine(runner, cfg, pool);
    const hits = await dry.tick();
    // b (pg_sleep(301)) and the session that only calls itself pgpulse-x (302) match
    const byPid = (x: Array<{ pid: number; outcome: { status: string } }>) =>
      x.map((h) => [h.pid, h.outcome.status]).sort((p, q) => Number(p[0]) - Number(q[0]));
    assert.deepEqual(
      byPid(hits),
      byPid([
        { pid: b.pid, outcome: { status: 'dry_run' } },
        { pid: own.pid, outcome: { status: 'dry_run' } },
      ])
    );
    assert.equal((await activity(b.pid)).state, 'active');
    assert.deepEqual(await dry.tick(), [], 'the same query is reported once');
    const audit = await sc.get('/api/v1/resources/actions?target=enabled');
    assert.equal(audit.json.audit[0].trigger, 'policy:sleepers');
    const live = new PolicyEngine(
      runner,
      { ...cfg, policies: cfg.policies.map((p) => ({ ...p, dryRun: false })) },
      pool
    );
    const done = await live.tick();
    assert.deepEqual(
      byPid(done),
      byPid([
        { pid: b.pid, outcome: { status: 'done' } },
        { pid: own.pid, outcome: { status: 'done' } },
      ])
    );
    assert.deepEqual(await b.done, { ok: false, code: '57014' });
    assert.deepEqual(await own.done, { ok: false, code: '57014' });
  });

  it('pgpulse act: dry-run by default from the CLI, refused when disabled; explain_analyze only when allowed', async () => {
    const c = await sleeper(pg.urlFor('postgres', 'app'), 'app-c', 299);
    sleepers.push(c);
    const dir = mkdtempSync(join(tmpdir(), 'pgpulse-act-'));
    try {
      const cfgFile = join(dir, 'pgpulse.yaml');
      writeFileSync(
        cfgFile,
        `targets:\n  - name: enabled\n    url: ${pg.url}\n    actions:\n      enabled: true\n      url: ${pg.urlFor('postgres', 'pgpulse_actions')}\n      minQueryDuration: 0s\n  - name: off\n    url: ${pg.url}\n`
      );
      const run = (args: string[]) =>
        new Promise<{ code: number; stdout: string; stderr: string }>((res) => {
          execFile(
            process.execPath,
            ['--import', 'tsx', join(ROOT, 'tests/integration/advisors/run-cli.ts'), ...args],
            { cwd: ROOT, env: { ...process.env, PGPULSE_CONFIG: cfgFile, PGPULSE_DATA_DIR: join(dir, 'data') } },
            (err, stdout, stderr) => res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })
          );
        });
      const before1 = await activity(c.pid);
      const dry = await run(['act', 'cancel', '--pid', String(c.pid)]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /^dry_run: dry-run: nothing was changed/);
      assert.match(dry.stdout, /pg_cancel_backend/);
      assert.deepEqual(await activity(c.pid), before1);
      const off = await run(['act', 'cancel', '--target', 'off', '--pid', String(c.pid), '--execute']);
      assert.equal(off.code, 1);
      assert.match(off.stdout, /refused: actions are disabled for target off/);
      assert.deepEqual(await activity(c.pid), before1);
      // explain_analyze: dry-run shows the EXPLAIN and the value; not allowed unless listed in allow
      await pg.query('SELECT count(*) FROM t_not_ours WHERE id < $1', [5]);
      const qid = (
        await pg.query<{ q: string }>(
          `SELECT queryid::text AS q FROM pg_stat_statements WHERE query LIKE 'SELECT count(*) FROM t_not_ours WHERE id <%'`
        )
      )[0].q;
      const ea = await run(['act', 'explain_analyze', '--queryid', qid, '--params', '[5]']);
      assert.equal(ea.code, 0, ea.stderr);
      assert.match(
        ea.stdout,
        /EXPLAIN \(ANALYZE, BUFFERS, FORMAT JSON\) SELECT count\(\*\) FROM t_not_ours WHERE id < \$1;\n-- \$1 = 5 \(sent as a bind parameter\)/
      );
      const notAllowed = await run(['act', 'explain_analyze', '--queryid', qid, '--params', '[5]', '--execute']);
      assert.equal(notAllowed.code, 1);
      assert.match(
        notAllowed.stdout,
        /refused: action explain_analyze is not allowed for target enabled: targets\[\]\.actions\.allow is \[cancel, terminate, analyze, vacuum, reindex, create_index\]/
      );
      const badParams = await run(['act', 'explain_analyze', '--queryid', qid, '--params', 'five']);
      assert.equal(badParams.code, 2);
      assert.match(badParams.stderr + badParams.stdout, /--params must be a JSON array/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
