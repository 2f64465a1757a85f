/**
 * Every dashboard panel query, annotation query and alert rule query, run through the sidecar's
 * POST /api/v1/query against a real PostgreSQL with some workload: frames come back without
 * error, and alert queries come back in a shape Grafana alerting accepts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { startSidecar, type Sidecar } from '../../../src/sidecar/app';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { findMetric } from '../../../src/model/catalog';
import { alertRules, dashboardQueries, interpolate } from '../../unit/dashboards/helpers';

const ROOT = resolve(__dirname, '..', '..', '..');
const TOKEN = 'dashboards-it-token';
const DB = 'app';

interface FrameJson {
  schema: {
    name?: string;
    refId?: string;
    meta?: { type?: string };
    fields: Array<{ name: string; type: string; labels?: Record<string, string> }>;
  };
  data: { values: unknown[][] };
}
interface QueryResponse {
  results: Record<string, { frames?: FrameJson[]; error?: string }>;
}

/** Some of everything the dashboards show: transactions, a slow-ish statement, an index, dead tuples. */
async function workload(url: string, round: number): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('CREATE TABLE IF NOT EXISTS t (id int PRIMARY KEY, v int, pad text)');
    await c.query('CREATE INDEX IF NOT EXISTS t_v_idx ON t (v)');
    await c.query(
      `INSERT INTO t SELECT i, i % 97, repeat('x', 50) FROM generate_series($1::int * 5000 + 1, ($1::int + 1) * 5000) i`,
      [round]
    );
    await c.query('UPDATE t SET v = v + 1 WHERE id % 7 = 0');
    for (let i = 0; i < 20; i++) {
      await c.query('SELECT count(*) FROM t WHERE pad LIKE $1', [`%${i}%`]);
      await c.query('SELECT * FROM t WHERE v = $1', [i]);
    }
    await c.query('BEGIN');
    await c.query('SELECT 1');
    await c.query('ROLLBACK');
  } finally {
    await c.end();
  }
}

describe('dashboard and alert queries through the sidecar (PostgreSQL 15)', () => {
  let pg: TestPostgres;
  let sidecar: Sidecar;
  let base: string;
  let dataDir: string;
  let t0: number;
  let installed: Set<string>;

  /** The extensions a metric needs that the test database lacks (Debian has no pgvector, no neon). */
  function missingExtensions(metric: unknown): string[] {
    return (findMetric(String(metric))?.requires ?? []).filter((x) => !installed.has(x));
  }

  /** No error, or exactly the error naming the missing extension or the PostgreSQL version the metric needs. */
  function assertAnswer(where: string, metric: unknown, error: string | undefined): boolean {
    const needs = findMetric(String(metric))?.minPgVersion;
    if (needs !== undefined && needs > 15) {
      assert.match(
        String(error),
        new RegExp(`needs PostgreSQL ${needs} or newer \\(this server is PostgreSQL 15\\)`),
        `${where}: on PostgreSQL 15`
      );
      return false;
    }
    const missing = missingExtensions(metric);
    if (missing.length === 0) {
      assert.equal(error, undefined, `${where}: ${error}`);
      return true;
    }
    assert.ok(
      error && missing.some((x) => error.includes(x)),
      `${where}: expected an error naming ${missing.join(', ')}, got ${error}`
    );
    return false;
  }

  async function query(body: Record<string, unknown>): Promise<QueryResponse> {
    const res = await fetch(`${base}/api/v1/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    assert.equal(res.status, 200, `POST /api/v1/query: ${res.status} ${text.slice(0, 500)}`);
    return JSON.parse(text) as QueryResponse;
  }

  before(async () => {
    pg = await startPostgres();
    await pg.query(`CREATE DATABASE ${DB}`);
    await pg.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements', [], DB);
    installed = new Set(
      (await pg.query<{ extname: string }>('SELECT extname FROM pg_extension', [], DB)).map((r) => r.extname)
    );
    dataDir = mkdtempSync(join(tmpdir(), 'pgpulse-dash-'));
    t0 = Date.now();
    sidecar = await startSidecar({
      env: {
        DATABASE_URL: pg.urlFor(DB),
        PGPULSE_TOKEN: TOKEN,
        PGPULSE_DATA_DIR: dataDir,
        PGPULSE_HTTP_ADDR: '127.0.0.1:0',
        PGPULSE_GRPC_ADDR: '127.0.0.1:0',
        PGPULSE_LOG_LEVEL: 'error',
      },
      grpc: false,
      sampling: false,
    });
    base = `http://127.0.0.1:${sidecar.httpPort}`;
    // Three sampling cycles with workload in between: rates, ratios and top-N need deltas.
    const sampler = sidecar.samplers.get('default');
    assert.ok(sampler, 'DATABASE_URL is the target named default');
    for (let round = 0; round < 3; round++) {
      await workload(pg.urlFor(DB), round);
      await sampler.runCycle(true);
    }
  });

  after(async () => {
    await sidecar?.stop();
    await pg?.destroy();
    if (dataDir) {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('every dashboard panel and annotation query returns frames without error, for a database and for All', async () => {
    const range = { from: t0 - 60_000, to: Date.now() + 60_000, maxDataPoints: 500, intervalMs: 1000 };
    const qs = dashboardQueries();
    assert.ok(qs.length > 20);
    // a real queryid for the drill-down panels, from the sidecar itself
    const top = await query({ ...range, queries: [{ refId: 'A', metric: 'top_queries', database: DB, topN: 1 }] });
    const topFrame = top.results.A.frames?.[0];
    const qidField = topFrame?.schema.fields.findIndex((f) => f.name === 'queryid') ?? -1;
    const queryid = qidField >= 0 && topFrame ? String(topFrame.data.values[qidField][0]) : '*';
    for (const vars of [
      { target: 'default', database: DB, queryid, wait_event: 'CPU', datasource: 'pgpulse' },
      { target: 'default', database: '*', queryid: '*', wait_event: '', datasource: 'pgpulse' },
    ]) {
      const queries = qs.map((q, i) => ({ ...interpolate(q.query, vars), refId: `Q${i}` }));
      // the API takes at most 100 queries per request (src/sidecar/limits.ts); Grafana sends one panel at a time
      const res: QueryResponse = { results: {} };
      for (let at = 0; at < queries.length; at += 100) {
        Object.assign(res.results, (await query({ ...range, queries: queries.slice(at, at + 100) })).results);
      }
      qs.forEach((q, i) => {
        const r = res.results[`Q${i}`];
        assert.ok(r, `${q.where}: no result`);
        if (!assertAnswer(`${q.where} (${JSON.stringify(vars)})`, q.query.metric, r.error)) {
          return;
        }
        assert.ok(Array.isArray(r.frames), `${q.where}: frames`);
        // ground truth: the workload ran statements in this database, so the statement table is not empty
        if (q.query.metric === 'top_queries' && vars.database === DB) {
          const f = r.frames![0];
          const dbCol = f.schema.fields.findIndex((x) => x.name === 'database');
          assert.ok(f.data.values[0].length > 0, `${q.where}: statements listed`);
          if (dbCol >= 0) {
            assert.ok(
              f.data.values[dbCol].every((d) => d === DB),
              `${q.where}: only database ${DB}`
            );
          }
        }
      });
    }
  });

  it('every alert rule query returns alerting-shaped frames (timeseries-multi or numeric-multi)', async () => {
    const rules = alertRules();
    const file = JSON.parse(readFileSync(join(ROOT, 'provisioning/alert-queries.json'), 'utf8'));
    assert.equal(file.queries.length, rules.length);
    const now = Date.now() + 60_000;
    for (const entry of file.queries) {
      const res = await query({
        from: now - entry.relativeTimeRange.from * 1000,
        to: now - entry.relativeTimeRange.to * 1000,
        intervalMs: 1000, // the test's samples are seconds apart; the rules ask for 60 s steps
        maxDataPoints: 43200,
        queries: [entry.query],
      });
      const r = res.results[entry.refId];
      assert.ok(r, `${entry.rule}: no result`);
      if (!assertAnswer(entry.rule, entry.query.metric, r.error)) {
        // the rule must then treat the error as OK, or every target without the extension pages someone
        assert.equal(rules.find((x) => x.uid === entry.rule).execErrState, 'OK', `${entry.rule}: execErrState`);
        continue;
      }
      for (const f of r.frames ?? []) {
        const type = f.schema.meta?.type;
        assert.ok(entry.acceptedFrameTypes.includes(type), `${entry.rule}: frame type ${type}`);
        assert.ok(!f.schema.fields.some((x) => x.type === 'string'), `${entry.rule}: no string fields in alert frames`);
        const numeric = f.schema.fields.filter((x) => x.type === 'number');
        assert.equal(numeric.length, 1, `${entry.rule}: one value field per frame`);
        if (type === 'timeseries-multi') {
          assert.equal(f.schema.fields[0].type, 'time', `${entry.rule}: time first`);
          const times = f.data.values[0] as number[];
          for (let i = 1; i < times.length; i++) {
            assert.ok(times[i] > times[i - 1], `${entry.rule}: ascending time`);
          }
        }
      }
    }
  });

  it('alert queries that always have data once sampled do return frames', async () => {
    const file = JSON.parse(readFileSync(join(ROOT, 'provisioning/alert-queries.json'), 'utf8'));
    const now = Date.now() + 60_000;
    for (const metric of ['cache_hit_ratio', 'connection_utilization', 'sampler_staleness', 'deadlocks']) {
      const entry = file.queries.find((q: any) => q.query.metric === metric);
      const res = await query({ from: t0 - 60_000, to: now, intervalMs: 1000, queries: [entry.query] });
      const frames = res.results[entry.refId].frames ?? [];
      assert.ok(
        frames.length > 0 && frames.some((f) => (f.data.values[1] ?? f.data.values[0]).length > 0),
        `${metric}: data after three samples`
      );
    }
  });
});
