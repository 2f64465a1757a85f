/**
 * `pgpulse top` against a real sidecar sampling a real PostgreSQL 15: frames rendered to a string
 * show what the database did (N calls of a statement, a blocked query, a duplicate index finding),
 * the vector/Neon sections say why they are unavailable, and the command honours NO_COLOR, a
 * non-terminal stdout and narrow widths.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { fetchSnapshot, type Snapshot } from '../../../src/sidecar/top/data';
import { render } from '../../../src/sidecar/top/render';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';

const ROOT = resolve(__dirname, '../../..');
const CALLS = 37;

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('PGPULSE_') && k !== 'DATABASE_URL' && k !== 'NO_COLOR')
  );
  return new Promise((res) =>
    execFile(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'tests/integration/advisors/run-cli.ts'), ...args],
      { cwd: ROOT, env: { ...clean, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })
    )
  );
}

describe('pgpulse top', () => {
  let pg: TestPostgres;
  let sc: TestSidecar;
  let holder: Client;
  let waiter: Client;
  let waiting: Promise<unknown>;
  let snap: Snapshot;
  let env: Record<string, string>;
  let blockedAtSample: number;

  before(async () => {
    process.env.PGPULSE_ADVISE_INDEX_FLOOR = '0'; // the duplicate index is tiny
    pg = await startPostgres();
    await pg.query(`
      CREATE TABLE top_probe AS SELECT g AS x FROM generate_series(1, 2000) g;
      CREATE TABLE top_lock (id int);
      CREATE TABLE top_dup (a int); CREATE INDEX top_dup_1 ON top_dup (a); CREATE INDEX top_dup_2 ON top_dup (a);
    `);
    sc = await startTestSidecar({ url: pg.url });
    await sc.sampleNow();
    for (let i = 0; i < CALLS; i++) {
      await pg.query('SELECT count(*) FROM top_probe WHERE x < $1', [i]);
    }
    // one backend holds a lock, another waits for it: a blocked query at the next sample
    holder = new Client({ connectionString: pg.url });
    waiter = new Client({ connectionString: pg.url });
    await holder.connect();
    await waiter.connect();
    await holder.query('BEGIN; LOCK TABLE top_lock IN ACCESS EXCLUSIVE MODE');
    waiting = waiter.query('SELECT count(*) FROM top_lock').catch(() => undefined);
    for (let i = 0; i < 100; i++) {
      const [r] = await pg.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0'
      );
      if (r.n > 0) {
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1100)); // the next sample is a new step
    await sc.sampleNow();
    [{ n: blockedAtSample }] = await pg.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0'
    );
    await sc.get('/api/v1/resources/recommendations?refresh=1');
    env = { PGPULSE_TOKEN: sc.token, PGPULSE_HTTP_ADDR: `127.0.0.1:${new URL(sc.baseUrl).port}` };
    snap = await fetchSnapshot({ base: sc.baseUrl, token: sc.token, tokenFrom: 'test' }, undefined);
  });

  after(async () => {
    await holder?.query('COMMIT').catch(() => undefined);
    await waiting;
    await holder?.end();
    await waiter?.end();
    await sc?.destroy();
    await pg?.destroy();
  });

  it('statements view: the statement run N times shows N calls, with the database’s own mean time', async () => {
    const text = render(snap, { view: 'statements', width: 120, color: false });
    const line = text.split('\n').find((l) => l.includes('FROM top_probe WHERE x <'));
    assert.ok(line, text);
    const [calls, total, mean] = line.trim().split(/\s+/);
    assert.equal(Number(calls), CALLS);
    const [truth] = await pg.query<{ calls: string; mean: number; total: number }>(
      "SELECT calls::text, mean_exec_time AS mean, total_exec_time AS total FROM pg_stat_statements WHERE query LIKE 'SELECT count(*) FROM top_probe%'"
    );
    assert.equal(Number(truth.calls), CALLS);
    assert.equal(total, truth.total.toFixed(1));
    assert.equal(mean, truth.mean.toFixed(2));
  });

  it('activity view: the blocked query the database reports', () => {
    assert.equal(blockedAtSample, 1);
    const text = render(snap, { view: 'activity', width: 100, color: false });
    assert.match(text, new RegExp(`^blocked queries\\s+${blockedAtSample}\\b`, 'm'));
    // the overview's connection count is the sum over states the API returned
    const byState = snap.connectionsByState.reduce((a, s) => a + (s.last ?? 0), 0);
    assert.match(
      render(snap, { view: 'overview', width: 100, color: false }),
      new RegExp(`^connections\\s+${byState}\\b`, 'm')
    );
    assert.ok(byState >= 2, `holder and waiter are connected: ${byState}`);
  });

  it('findings view: the duplicate index, as the recommendations API lists it', async () => {
    const rec = await sc.get('/api/v1/resources/recommendations');
    const dup = rec.json.findings.find((f: { id: string }) => f.id === 'duplicate_index:public.top_dup_2');
    assert.ok(dup, JSON.stringify(rec.json.findings.map((f: { id: string }) => f.id)));
    const text = render(snap, { view: 'findings', width: 200, color: false });
    assert.ok(text.includes(`[${dup.severity}] ${dup.title}`), text);
    assert.ok(text.includes('DROP INDEX CONCURRENTLY public.top_dup_2;'), text);
    assert.match(text, new RegExp(`health ${rec.json.healthScore}/100`));
  });

  it('overview: cache hit ratio and sparklines from the API series', async () => {
    const r = await sc.query({
      from: snap.at - 3_600_000,
      to: snap.at,
      maxDataPoints: 60,
      queries: [{ refId: 'A', metric: 'cache_hit_ratio' }],
    });
    const frame = r.json.results.A.frames[0];
    const values: Array<number | null> = frame.data.values[1];
    const last = [...values].reverse().find((v) => v !== null) as number;
    const text = render(snap, { view: 'overview', width: 100, color: false });
    assert.match(
      text,
      new RegExp(`cache hit postgres\\s+${(last * 100).toFixed(2).replace('.', '\\.')}%\\s+[▁-█ ]+$`, 'm')
    );
  });

  it('vector and Neon say why they are unavailable on plain PostgreSQL', () => {
    const text = render(snap, { view: 'vector', width: 200, color: false });
    assert.match(text, /pgvector\n {2}unavailable: .*vector extension.*CREATE EXTENSION vector/);
    assert.match(text, /Neon\n {2}unavailable: /);
  });

  it('the command: --once on a pipe has no escape codes; NO_COLOR; narrow widths; every view', async () => {
    for (const view of ['overview', 'statements', 'activity', 'findings', 'vector']) {
      const r = await cli(['top', '--once', '--view', view, '--width', '44'], env);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /\x1b/, 'no escape codes when stdout is not a terminal');
      for (const l of r.stdout.trimEnd().split('\n')) {
        assert.ok([...l].length <= 44, `${view}: "${l}" is wider than 44`);
      }
      assert.match(r.stdout, /^pgpulse top · default/);
    }
    const narrow = render(snap, { view: 'overview', width: 40, color: false });
    assert.doesNotMatch(narrow, /[▁▂▃▄▅▆▇█]/, 'no room for sparklines at 40 columns');
    const coloured = render(snap, { view: 'findings', width: 100, color: true });
    assert.match(coloured, /\x1b\[/);
    assert.equal(coloured.replace(/\x1b\[[0-9;]*m/g, ''), render(snap, { view: 'findings', width: 100, color: false }));
    const bad = await cli(['top', '--view', 'nope'], env);
    assert.equal(bad.code, 2);
    const wrong = await cli(['top', '--once'], { ...env, PGPULSE_TOKEN: 'wrong' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /refused the token/);
  });
});
