/**
 * The Fleet dashboard against a real Prometheus (Debian's prometheus 2.x) scraping a real sidecar
 * with the scrape config docs/prometheus.md gives (bearer token from a credentials file): every
 * panel's PromQL evaluates without error, the per-target panels return the sidecar's target, and a
 * job with a wrong token is refused (the target is down with a 401), so /metrics stays guarded.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from 'pg';
import { stringify } from 'yaml';
import { fleetRows } from '../../../src/dashboards/boards/fleet';
import { freePort, startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';

const PROMETHEUS = '/usr/bin/prometheus';
let pg: TestPostgres;
let sc: TestSidecar;
let prom: ChildProcess | undefined;
let promUrl = '';
let dir = '';
let promLog = '';
/** one client session held open: pg_stat_activity has a client backend to count */
let idle: Client | undefined;

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function instant(expr: string): Promise<{
  status: string;
  error?: string;
  data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}> {
  const res = await fetch(`${promUrl}/api/v1/query?${new URLSearchParams({ query: expr })}`);
  return (await res.json()) as never;
}

before(async () => {
  assert.ok(existsSync(PROMETHEUS), `${PROMETHEUS} is missing: apt-get install prometheus`);
  pg = await startPostgres();
  idle = new Client({ connectionString: pg.url });
  await idle.connect();
  sc = await startTestSidecar({ targets: [{ name: 'fleet-a', url: pg.url }], sampling: true, intervalMs: 1000 });
  dir = mkdtempSync(join(tmpdir(), 'pgpulse-prom-'));
  writeFileSync(join(dir, 'token'), sc.token);
  writeFileSync(join(dir, 'wrong-token'), 'not-the-token');
  const target = sc.baseUrl.replace('http://', '');
  const job = (name: string, file: string) => ({
    job_name: name,
    scrape_interval: '1s',
    scrape_timeout: '1s',
    metrics_path: '/metrics',
    authorization: { type: 'Bearer', credentials_file: join(dir, file) },
    static_configs: [{ targets: [target] }],
  });
  writeFileSync(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { evaluation_interval: '1s' },
      scrape_configs: [job('pgpulse', 'token'), job('pgpulse-wrong-token', 'wrong-token')],
    })
  );
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  prom = spawn(
    PROMETHEUS,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] }
  );
  prom.stderr!.on('data', (d: Buffer) => (promLog = (promLog + d.toString()).slice(-4000)));
  // until a rate over the scraped counters and an interval ratio both have values
  for (let i = 0; i < 120; i++) {
    const r = await instant(
      'count(rate(pgpulse_database_xact_commit_total{job="pgpulse"}[5s])) and count(pgpulse_cache_hit_ratio{job="pgpulse"})'
    ).catch(() => undefined);
    if (r?.status === 'success' && (r.data?.result.length ?? 0) > 0) {
      return;
    }
    await pause(250);
  }
  assert.fail(`Prometheus never had two scrapes of the sidecar: ${promLog}`);
});

after(async () => {
  if (prom && prom.exitCode === null) {
    const exited = new Promise((r) => prom!.once('exit', r));
    prom.kill('SIGTERM');
    await exited;
  }
  await sc?.destroy();
  await idle?.end();
  await pg?.destroy();
  if (dir) {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("every Fleet panel query evaluates on a real Prometheus, and the per-target ones answer for the sidecar's target", async () => {
  const perTarget = new Set([
    'Cache hit ratio',
    'Transactions per second',
    'Client connections',
    'Database size',
    'Collector time on the database',
    'Targets up',
  ]);
  for (const p of fleetRows.flatMap((r) => r.panels)) {
    const expr = p.expr.replace(/\$__rate_interval/g, '5s').replace(/\$target/g, '.*');
    const r = await instant(expr);
    assert.equal(r.status, 'success', `${p.title}: ${r.error}`);
    if (perTarget.has(p.title)) {
      const result = r.data?.result ?? [];
      assert.ok(result.length > 0, `${p.title}: no series for ${expr}`);
      for (const s of result) {
        if (s.metric.target !== undefined) {
          assert.equal(s.metric.target, 'fleet-a', p.title);
        }
      }
    }
  }
  const up = await instant('sum(pgpulse_target_up{job="pgpulse"})');
  assert.equal(up.data?.result[0]?.value[1], '1');
});

test('the scrape job with a wrong token is refused: its target is down with a 401', async () => {
  const res = (await (await fetch(`${promUrl}/api/v1/targets`)).json()) as {
    data: { activeTargets: Array<{ labels: { job: string }; health: string; lastError: string }> };
  };
  const wrong = res.data.activeTargets.find((t) => t.labels.job === 'pgpulse-wrong-token');
  const good = res.data.activeTargets.find((t) => t.labels.job === 'pgpulse');
  assert.equal(good?.health, 'up', good?.lastError);
  assert.equal(wrong?.health, 'down');
  assert.match(wrong!.lastError, /401/);
  const leaked = await instant('count(pgpulse_target_up{job="pgpulse-wrong-token"})');
  assert.deepEqual(leaked.data?.result, []);
});
