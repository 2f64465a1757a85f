/**
 * First-run advice: on a fresh install (no stored history) `pgpulse advise` must still see what
 * pg_stat_statements and pg_stat_user_tables have counted since their last reset — a
 * 200,000-row table read by 361 sequential scans gets its missing-index finding, labelled with
 * the lifetime window it comes from.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, it } from 'node:test';
import { startPostgres, type TestPostgres } from '../../support/pg';

const ROOT = resolve(__dirname, '..', '..', '..');
const CALLS = 361;
let pg: TestPostgres;
let dir: string;

before(async () => {
  pg = await startPostgres();
  await pg.query('CREATE EXTENSION hypopg');
  await pg.query(
    'CREATE TABLE big (id bigint, x int, pad text); INSERT INTO big SELECT g, g % 50000, md5(g::text) FROM generate_series(1, 200000) g; ANALYZE big'
  );
  for (let i = 0; i < CALLS; i++) {
    await pg.query('SELECT id FROM big WHERE x = $1', [i]);
  }
  dir = mkdtempSync(join(tmpdir(), 'pgpulse-first-run-'));
});

after(async () => {
  await pg?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

it('a fresh install proposes the missing index from lifetime counters, and says so', async () => {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('PGPULSE_') && k !== 'DATABASE_URL')
  );
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((res) =>
    execFile(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'tests/integration/advisors/run-cli.ts'),
        'advise',
        '--json',
        '--local',
        '--wait',
        '1s',
      ],
      { cwd: ROOT, env: { ...clean, DATABASE_URL: pg.url, PGPULSE_DATA_DIR: join(dir, 'data') }, timeout: 120_000 },
      (err, stdout, stderr) => res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })
    )
  );
  assert.equal(r.code, 1, 'findings → exit 1: ' + r.stderr);
  const t = JSON.parse(r.stdout).targets[0] as {
    notes: string[];
    findings: Array<{
      id: string;
      severity: string;
      evidence: { values: Record<string, number>; window: { description: string } };
    }>;
  };
  const f = t.findings.find((x) => x.id === 'missing_index:public.big(x)');
  assert.ok(f, t.findings.map((x) => x.id).join(', '));
  const [truth] = await pg.query<{ calls: string; seq_scan: string; reset: Date }>(
    `SELECT s.calls::text, u.seq_scan::text, (SELECT stats_reset FROM pg_stat_statements_info) AS reset
       FROM pg_stat_statements s, pg_stat_user_tables u WHERE s.query = 'SELECT id FROM big WHERE x = $1' AND u.relname = 'big'`
  );
  assert.equal(f.evidence.values.statement_calls, Number(truth.calls));
  assert.equal(Number(truth.calls), CALLS);
  assert.ok(
    f.evidence.values.seq_scans >= CALLS && f.evidence.values.seq_scans <= Number(truth.seq_scan),
    `${f.evidence.values.seq_scans} vs ${truth.seq_scan}`
  );
  assert.equal(f.severity, 'warning', 'proven with hypopg');
  assert.match(
    f.evidence.window.description,
    /^since statistics reset on \d{4}-\d{2}-\d{2} \([\d.]+ days\): lifetime counters/
  );
  assert.ok(
    t.notes.some((n) => n.startsWith('first run: statement and table findings use lifetime counters')),
    t.notes.join(' | ')
  );
});
