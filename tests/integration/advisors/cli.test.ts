/**
 * `pgpulse doctor`, `advise` and `report` run as real processes against a real PostgreSQL 15:
 * what they print, their exit codes, the webhook POST, and advise going through a running
 * sidecar when one answers.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar } from '../../support/sidecar';

const ROOT = resolve(__dirname, '..', '..', '..');

function run(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('PGPULSE_') && k !== 'DATABASE_URL')
    );
    execFile(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'tests/integration/advisors/run-cli.ts'), ...args],
      { cwd: ROOT, env: { ...clean, PGPULSE_LOG_LEVEL: 'silent', ...env }, timeout: 120_000 },
      (err, stdout, stderr) => res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })
    );
  });
}

describe('pgpulse doctor / advise / report', () => {
  let pg: TestPostgres;
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    pg = await startPostgres();
    await pg.query('CREATE EXTENSION hypopg');
    await pg.query(`
      CREATE TABLE t_dup (a int, b int);
      INSERT INTO t_dup SELECT g, g FROM generate_series(1, 5000) g;
      CREATE INDEX t_dup_1 ON t_dup (a);
      CREATE INDEX t_dup_2 ON t_dup (a);
      CREATE TABLE t_dead (id int) WITH (autovacuum_enabled = false);
      INSERT INTO t_dead SELECT g FROM generate_series(1, 20000) g;
      DELETE FROM t_dead WHERE id % 4 <> 0;
    `);
    await pg.query('CREATE DATABASE nopgss');
    dir = mkdtempSync(join(tmpdir(), 'pgpulse-cli-'));
    env = {
      DATABASE_URL: pg.url,
      PGPULSE_DATA_DIR: join(dir, 'data'),
      PGPULSE_ADVISE_UNUSED_DAYS: '0',
      PGPULSE_ADVISE_INDEX_FLOOR: '0',
    };
  });

  after(async () => {
    await pg?.destroy();
    if (dir) {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('doctor: checks connectivity, role, extensions and says what will work', async () => {
    const r = await run(['doctor'], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /✔ connect: connected in \d+ ms/);
    assert.match(r.stdout, /! role: postgres is a superuser/);
    // pgpulse's own statements: a superuser is shared with the application, so doctor names the fix
    assert.match(
      r.stdout,
      /! own statements: pgpulse connects as role postgres, which is shared with the application \(postgres is a superuser\).*CREATE ROLE pgpulse LOGIN/
    );
    assert.match(r.stdout, /✔ pg_stat_statements: version [\d.]+, readable/);
    assert.match(r.stdout, /✔ hypopg: version/);
    assert.match(r.stdout, /✔ Queries \(top queries/);
    assert.match(r.stdout, /- actions: disabled \(the default\)/);
    const j = await run(['doctor', '--json'], env);
    const parsed = JSON.parse(j.stdout) as {
      targets: Array<{ reachable: boolean; features: Array<{ feature: string; works: boolean }> }>;
    };
    assert.equal(parsed.targets[0].reachable, true);
  });

  it("doctor: names what won't work and why, and fails on an unreachable target", async () => {
    const r = await run(['doctor'], { ...env, DATABASE_URL: pg.urlFor('nopgss') });
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /✖ pg_stat_statements: preloaded but not created in this database: CREATE EXTENSION pg_stat_statements;/
    );
    assert.match(
      r.stdout,
      /✖ Queries \(top queries, latency, slow statements\) — extension pg_stat_statements is not installed/
    );
    const port = await freePort();
    const down = await run(['doctor'], {
      ...env,
      DATABASE_URL: `postgres://postgres:secret-pw@127.0.0.1:${port}/postgres`,
    });
    assert.equal(down.code, 1);
    assert.match(down.stdout, /✖ connect: target default: connection refused/);
    assert.ok(!down.stdout.includes('secret-pw') && !down.stderr.includes('secret-pw'), 'no password in the output');
  });

  it('advise --json: findings computed from a fresh sample plus the stored history', async () => {
    const r = await run(['advise', '--json', '--wait', '1s'], env);
    assert.equal(r.code, 1, 'findings reported → exit 1: ' + r.stderr);
    const j = JSON.parse(r.stdout) as {
      source: string;
      targets: Array<{
        healthScore: number;
        findings: Array<{ id: string; rule: string; evidence: { values: Record<string, unknown> } }>;
      }>;
    };
    assert.equal(j.source, 'local');
    const ids = j.targets[0].findings.map((f) => f.id);
    assert.ok(ids.includes('duplicate_index:public.t_dup_2'), ids.join(', '));
    const [dead] = await pg.query<{ dead: string }>(
      "SELECT n_dead_tup::text AS dead FROM pg_stat_user_tables WHERE relname = 't_dead'"
    );
    const f = j.targets[0].findings.find((x) => x.id === 'dead_tuples:public.t_dead');
    assert.equal(f?.evidence.values.n_dead_tup, Number(dead.dead));
    assert.ok(j.targets[0].healthScore < 100);
    const text = await run(['advise', '--no-sample'], env);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /^target default: health score \d+\/100/);
    assert.match(text.stdout, /fix:\n {4}DROP INDEX CONCURRENTLY public\.t_dup_2;/);
  });

  it('report: markdown, JSON and the webhook POST carry the same report', async () => {
    const md = await run(['report', '--no-sample'], env);
    assert.equal(md.code, 0, md.stderr);
    assert.match(md.stdout, /^# pgpulse health report — default/);
    assert.match(md.stdout, /\*\*Health score: \d+\/100\*\*/);
    assert.match(md.stdout, /## Findings/);
    assert.match(md.stdout, /```sql\nVACUUM \(ANALYZE\) public\.t_dead;\n```/);
    let received: any;
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received = { path: req.url, type: req.headers['content-type'], body: JSON.parse(body) };
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      const js = await run(
        ['report', '--format', 'json', '--no-sample', '--webhook', `http://127.0.0.1:${port}/hooks/secret-token`],
        env
      );
      assert.equal(js.code, 0, js.stderr);
      const rep = JSON.parse(js.stdout);
      assert.equal(received.path, '/hooks/secret-token');
      assert.equal(received.type, 'application/json');
      assert.equal(received.body.report.healthScore, rep.healthScore);
      assert.deepEqual(
        received.body.report.findings.map((f: { id: string }) => f.id),
        rep.findings.map((f: { id: string }) => f.id)
      );
      assert.match(received.body.text, /^# pgpulse health report/);
      assert.match(js.stderr, new RegExp(`posted to http://127\\.0\\.0\\.1:${port}/…: HTTP 204`));
      assert.ok(!js.stderr.includes('secret-token'), 'the webhook path is not printed');
      assert.ok(rep.metrics.some((m: { id: string; value: number | null }) => m.id === 'cache_hit_ratio'));
    } finally {
      server.close();
    }
  });

  it('advise asks a running sidecar when one answers with the token', async () => {
    const sc = await startTestSidecar({ url: pg.url });
    try {
      await sc.sampleNow();
      const r = await run(['advise', '--json'], {
        ...env,
        PGPULSE_TOKEN: sc.token,
        PGPULSE_HTTP_ADDR: `127.0.0.1:${new URL(sc.baseUrl).port}`,
        PGPULSE_DATA_DIR: join(dir, 'other'),
      });
      assert.equal(r.code, 1, r.stderr);
      const j = JSON.parse(r.stdout);
      assert.equal(j.source, 'remote');
      const open = await sc.get('/api/v1/resources/recommendations');
      assert.deepEqual(
        j.targets[0].findings.map((f: { id: string }) => f.id),
        open.json.findings.map((f: { id: string }) => f.id)
      );
    } finally {
      await sc.destroy();
    }
  });

  it('advise and report find the running sidecar from its address and token file alone (no DATABASE_URL)', async () => {
    const sc = await startTestSidecar({ url: pg.url });
    try {
      await sc.sampleNow();
      const tokDir = join(dir, 'tok');
      mkdirSync(tokDir);
      writeFileSync(join(tokDir, 'token'), sc.token + '\n', { mode: 0o600 });
      const port = new URL(sc.baseUrl).port;
      // the token file in PGPULSE_DATA_DIR, as the demo writes it; no PGPULSE_LOG_LEVEL: quiet by default
      const a = await run(['advise', '--json'], {
        PGPULSE_DATA_DIR: tokDir,
        PGPULSE_HTTP_ADDR: `127.0.0.1:${port}`,
        PGPULSE_LOG_LEVEL: '',
      });
      const open = await sc.get('/api/v1/resources/recommendations');
      assert.ok(open.json.findings.length > 0);
      assert.equal(a.code, 1, a.stderr);
      assert.equal(JSON.parse(a.stdout).source, 'remote');
      assert.deepEqual(
        JSON.parse(a.stdout).targets[0].findings.map((f: { id: string }) => f.id),
        open.json.findings.map((f: { id: string }) => f.id)
      );
      assert.equal(a.stderr, '');
      // --sidecar and PGPULSE_TOKEN_FILE
      const rep = await run(['report', '--json', '--sidecar', `http://127.0.0.1:${port}`], {
        PGPULSE_TOKEN_FILE: join(tokDir, 'token'),
        PGPULSE_LOG_LEVEL: '',
      });
      assert.equal(rep.code, 0, rep.stderr);
      assert.deepEqual(
        JSON.parse(rep.stdout).findings.map((f: { id: string }) => f.id),
        open.json.findings.map((f: { id: string }) => f.id)
      );
      // a wrong token is named as such
      const bad = await run(['advise'], { PGPULSE_TOKEN: 'wrong', PGPULSE_HTTP_ADDR: `127.0.0.1:${port}` });
      assert.equal(bad.code, 1);
      assert.match(
        bad.stderr,
        new RegExp(`the sidecar at http://127\\.0\\.0\\.1:${port} refused the token from PGPULSE_TOKEN`)
      );
      assert.ok(!bad.stderr.includes('wrong'), 'the token is not printed');
    } finally {
      await sc.destroy();
    }
  });

  it('in-process one-shot commands log nothing but errors by default: stdout is only the report', async () => {
    const r = await run(['advise', '--json', '--local', '--no-sample'], { ...env, PGPULSE_LOG_LEVEL: '' });
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotThrow(() => JSON.parse(r.stdout));
    assert.doesNotMatch(r.stderr, /\{"level"/);
    const d = await run(['doctor', '--json'], { ...env, PGPULSE_LOG_LEVEL: '' });
    assert.doesNotThrow(() => JSON.parse(d.stdout));
    assert.doesNotMatch(d.stderr, /\{"level"/);
  });

  it('report --format html: one self-contained file with the same numbers as --format json', async () => {
    const sc = await startTestSidecar({ url: pg.url });
    try {
      await sc.sampleNow();
      await pg.query('SELECT count(*) FROM t_dup WHERE b = 42');
      await new Promise((r) => setTimeout(r, 1100));
      await sc.sampleNow();
      const e = { PGPULSE_TOKEN: sc.token, PGPULSE_HTTP_ADDR: `127.0.0.1:${new URL(sc.baseUrl).port}` };
      const html = await run(['report', '--format', 'html', '--window', '1h'], e);
      assert.equal(html.code, 0, html.stderr);
      const json = await run(['report', '--format', 'json', '--window', '1h'], e);
      const rep = JSON.parse(json.stdout);
      const doc = html.stdout;
      assert.match(doc, /^<!doctype html>/);
      assert.doesNotMatch(
        doc,
        /<script|<link|<img|<iframe|\ssrc=|\shref=|url\(|@import|https?:\/\//i,
        'nothing loaded from anywhere'
      );
      assert.equal(
        (doc.match(/<svg /g) ?? []).length + (doc.match(/no data in this window/g) ?? []).length,
        4,
        'four charts'
      );
      assert.ok(
        (doc.match(/<polyline /g) ?? []).length + (doc.match(/<circle /g) ?? []).length > 0,
        'at least one plotted series'
      );
      for (const m of rep.metrics as Array<{ id: string; value: number | null }>) {
        assert.match(doc, new RegExp(`data-metric="${m.id}" data-value="${m.value ?? ''}"`), m.id);
      }
      assert.match(doc, new RegExp(`data-health-score="${rep.healthScore}"`));
      for (const q of rep.topQueries as Array<{ queryid: string }>) {
        assert.ok(doc.includes(`data-queryid="${q.queryid}"`), q.queryid);
      }
      for (const f of rep.findings as Array<{ id: string }>) {
        assert.ok(doc.includes(`data-finding="${f.id}"`), f.id);
      }
      // text from the database is escaped, never markup
      const { reportHtml } = await import('../../../src/sidecar/cli/report-html');
      const evil = reportHtml([
        {
          report: {
            ...rep,
            target: '<b>t</b>',
            topQueries: [{ queryid: '1', query: 'SELECT "<script>x</script>"', calls: 1, total_ms: 1, mean_ms: 1 }],
          },
          charts: [],
        },
      ]);
      assert.ok(!evil.includes('<script>') && evil.includes('&lt;script&gt;') && !evil.includes('<b>t</b>'));
    } finally {
      await sc.destroy();
    }
  });

  it('bad flags exit 2 with the reason', async () => {
    const r = await run(['advise', '--bogus'], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option --bogus/);
    const f = await run(['report', '--format', 'pdf'], env);
    assert.equal(f.code, 2);
    assert.match(f.stderr, /--format must be md, json or html/);
  });
});
