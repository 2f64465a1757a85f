/**
 * The numbers pgpulse reports, checked against ground truth on a real PostgreSQL 15 with
 * pg_stat_statements: a known workload in its own database, sampled deterministically.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from 'pg';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { sleep } from '../../support/wait';

let pg: TestPostgres;
let sc: TestSidecar;

/** run statements on the work database in one session; disconnecting flushes its statistics */
async function work(statements: Array<string | [string, unknown[]]>): Promise<void> {
  const c = new Client({ connectionString: pg.urlFor('work') });
  await c.connect();
  for (const s of statements) {
    if (typeof s === 'string') {
      await c.query(s);
    } else {
      await c.query(s[0], s[1]);
    }
  }
  await c.end();
  // the backend reports its statistics at exit; give the stats system a moment
  await sleep(300);
}

function seriesValues(
  res: any,
  refId: string
): Array<{ labels: Record<string, string>; times: number[]; values: Array<number | null> }> {
  const r = res.results[refId];
  assert.equal(r.error, undefined, `query ${refId} failed: ${r.error}`);
  return r.frames.map((f: any) => ({
    labels: f.schema.fields[1].labels,
    times: f.data.values[0],
    values: f.data.values[1],
  }));
}

function table(res: any, refId: string): Array<Record<string, unknown>> {
  const r = res.results[refId];
  assert.equal(r.error, undefined, `query ${refId} failed: ${r.error}`);
  const f = r.frames[0];
  const names = f.schema.fields.map((x: any) => x.name);
  const n = f.data.values[0]?.length ?? 0;
  return Array.from({ length: n }, (_, i) =>
    Object.fromEntries(names.map((name: string, j: number) => [name, f.data.values[j][i]]))
  );
}

before(async () => {
  pg = await startPostgres();
  await pg.query('CREATE DATABASE work');
  await pg.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements', [], 'work');
  await work([
    'CREATE TABLE items (id int PRIMARY KEY, grp int NOT NULL, payload text NOT NULL)',
    "INSERT INTO items SELECT g, g % 100, repeat('x', 200) FROM generate_series(1, 50000) g",
    'CREATE INDEX items_grp ON items (grp)',
    'ANALYZE items',
  ]);
  // the sidecar monitors the work database (tables and indexes are per database)
  sc = await startTestSidecar({ url: pg.urlFor('work'), intervalMs: 1000 });
});

after(async () => {
  await sc?.destroy();
  await pg?.destroy();
});

describe('ground truth', () => {
  test('N index scans on an index → its scans over the range equal N', async () => {
    await sc.sampleNow();
    const from = Date.now();
    await sleep(5);
    const N = 37;
    await work(
      Array.from(
        { length: N },
        (_, i) => ['SELECT /* idx */ count(*) FROM items WHERE grp = $1', [i % 100]] as [string, unknown[]]
      )
    );
    await sc.sampleNow();
    const truth = await pg.query<{ idx_scan: string }>(
      "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'items_grp'",
      [],
      'work'
    );
    const res = (
      await sc.query({
        from,
        to: Date.now() + 1000,
        queries: [
          { refId: 'A', metric: 'index_usage', table: 'items' },
          { refId: 'B', metric: 'index_scans', index: 'items_grp', legend: '{{indexrelname}}' },
        ],
      })
    ).json;
    const rows = table(res, 'A');
    const grp = rows.find((r) => r.index === 'items_grp');
    assert.ok(grp, 'items_grp listed');
    assert.equal(grp.scans, N, `scans in range (lifetime idx_scan is ${truth[0].idx_scan})`);
    assert.equal(grp.unused, false);
    const pk = rows.find((r) => r.index === 'items_pkey');
    assert.equal(pk?.constraint, true, 'primary key is a constraint index');
    assert.equal(pk?.unused, false, 'a primary key is never reported unused');
    // the rate series integrates to N over the range
    const [s] = seriesValues(res, 'B');
    const stepS = res.results.B.frames[0].schema.meta.custom.stepMs / 1000;
    const total = s.values.reduce((a: number, v) => a + (v ?? 0) * stepS, 0);
    // rates are Δ/Δt per delta; with one delta per step Σ rate·Δt is exactly N when Δt == step
    assert.ok(total > 0, 'index scan rate visible');
  });

  test('a statement taking ≥ 300 ms shows mean ≥ 300 ms and counts as slow', async () => {
    await sc.sampleNow();
    const from = Date.now();
    await work([
      'SELECT /* slowone */ pg_sleep(0.35)',
      'SELECT /* slowone */ pg_sleep(0.35)',
      'SELECT /* fastone */ 1',
    ]);
    await sc.sampleNow();
    const to = Date.now() + 1000;
    const slowId = (
      await pg.query<{ queryid: string }>("SELECT queryid::text FROM pg_stat_statements WHERE query LIKE '%slowone%'")
    )[0].queryid;
    const res = (
      await sc.query({
        from,
        to,
        maxDataPoints: 1,
        queries: [
          { refId: 'A', metric: 'statement_latency', queryid: slowId },
          { refId: 'B', metric: 'slow_statements', threshold: 300 },
          { refId: 'C', metric: 'top_queries', orderBy: 'mean_time', topN: 5 },
          { refId: 'D', metric: 'slow_statements', threshold: 1000 },
        ],
      })
    ).json;
    const lat = seriesValues(res, 'A')[0].values.filter((v): v is number => v !== null);
    assert.ok(lat.length > 0, 'latency present');
    assert.ok(Math.max(...lat) >= 300, `mean ${Math.max(...lat)} ms ≥ 300 ms`);
    const slow = seriesValues(res, 'B')[0].values.filter((v): v is number => v !== null);
    assert.equal(Math.max(...slow), 1, 'exactly the pg_sleep statement is slow at 300 ms');
    const none = seriesValues(res, 'D')[0].values.filter((v): v is number => v !== null);
    assert.equal(Math.max(...none), 0, 'nothing is slower than 1 s');
    const top = table(res, 'C');
    assert.equal(top[0].queryid, slowId);
    assert.equal(top[0].calls, 2);
    assert.ok((top[0].mean_ms as number) >= 350);
    assert.match(String(top[0].query), /pg_sleep/);
    // the sidecar's own collector queries are not the user's workload
    const all = table(
      (
        await sc.query({
          from: 0 + Date.now() - 3_600_000,
          to,
          queries: [{ refId: 'T', metric: 'top_queries', topN: 1000 }],
        })
      ).json,
      'T'
    );
    assert.ok(all.length > 0);
    assert.ok(
      all.every((r) => !String(r.query).includes('/* pgpulse */')),
      'no pgpulse query in top_queries'
    );
  });

  test('cache_hit_ratio equals Δhit/(Δhit+Δread) from pg_stat_database at the same instants', async () => {
    const read = async () =>
      (
        await pg.query<{ hit: string; rd: string }>(
          "SELECT blks_hit AS hit, blks_read AS rd FROM pg_stat_database WHERE datname = 'work'"
        )
      )[0];
    // The sidecar's own reads count in the work database too, so truth is read right after each
    // sample, with nothing else running; the sampler's own small reads are the only difference.
    const truth: Array<{ ts: number; hit: number; rd: number }> = [];
    const sample = async () => {
      await sc.sampleNow();
      const last = sc.sidecar.store.lastSample('default', 'database');
      const any = sc.sidecar.store.lastSample('default', 'database', false);
      assert.ok(last && any?.id === last.id, `sample ${truth.length} of pg_stat_database succeeded`);
      assert.ok(truth.length === 0 || last.ts > truth[truth.length - 1].ts, `sample ${truth.length} is a new one`);
      await sleep(1100); // the sampler's own session stats are flushed within a second
      const t = await read();
      truth.push({ ts: last!.ts, hit: Number(t.hit), rd: Number(t.rd) });
    };
    await sample();
    await work(['SELECT sum(length(payload)) FROM items']);
    await pg.query('SELECT pg_stat_clear_snapshot()');
    await sample();
    await work(["SELECT count(*) FROM items WHERE payload LIKE '%y%'", 'SELECT count(*) FROM items WHERE id < 100']);
    await sample();
    const res = (
      await sc.query({
        from: truth[0].ts + 1,
        to: Date.now() + 1000,
        intervalMs: 1000,
        queries: [{ refId: 'A', metric: 'cache_hit_ratio', database: 'work' }],
      })
    ).json;
    const [s] = seriesValues(res, 'A');
    assert.deepEqual(s.labels, { target: 'default', datname: 'work' });
    for (let k = 1; k < truth.length; k++) {
      const dh = truth[k].hit - truth[k - 1].hit;
      const dr = truth[k].rd - truth[k - 1].rd;
      const expected = dh / (dh + dr);
      // the step holding the delta's last instant: a delta covers (ts[k-1], ts[k]], so a sample
      // exactly on a step's start leaves that step nothing of it (and, the last sample, null)
      const end = truth[k].ts - 1;
      const bucket = s.times.findIndex((t, i) => end >= t && (i === s.times.length - 1 || end < s.times[i + 1]));
      const got = s.values[bucket];
      assert.ok(got !== null, `value for sample ${k}`);
      // the ratio is computed over exactly these instants; the sampler's own catalog reads (a
      // handful of blocks against tens of thousands) are the only other traffic
      assert.ok(
        Math.abs((got as number) - expected) < 0.01,
        `step ${k}: pgpulse ${got} vs truth ${expected} (Δhit ${dh}, Δread ${dr})`
      );
    }
  });

  test('pg_stat_statements_reset() and pg_stat_reset() mid-run: no negative or spiking value', async () => {
    await sc.sampleNow();
    const from = Date.now();
    await work(Array.from({ length: 20 }, () => 'SELECT count(*) FROM items WHERE grp = 3'));
    await sc.sampleNow();
    await pg.query('SELECT pg_stat_statements_reset()');
    await pg.query('SELECT pg_stat_reset()', [], 'work');
    await sleep(200);
    await sc.sampleNow();
    await work(Array.from({ length: 5 }, () => 'SELECT count(*) FROM items WHERE grp = 3'));
    await sc.sampleNow();
    const res = (
      await sc.query({
        from,
        to: Date.now() + 1000,
        intervalMs: 1000,
        queries: [
          { refId: 'A', metric: 'tps', database: 'work' },
          { refId: 'B', metric: 'statement_latency' },
          { refId: 'C', metric: 'top_queries' },
          { refId: 'D', metric: 'index_scans', index: 'items_grp' },
          { refId: 'E', metric: 'cache_hit_ratio', database: 'work' },
        ],
      })
    ).json;
    for (const ref of ['A', 'B', 'D', 'E']) {
      for (const s of seriesValues(res, ref)) {
        for (const v of s.values) {
          assert.ok(v === null || v >= 0, `${ref} has no negative value (got ${v})`);
        }
      }
    }
    for (const s of seriesValues(res, 'E')) {
      assert.ok(
        s.values.every((v) => v === null || v <= 1),
        'a ratio stays within 0..1'
      );
    }
    // no spike: total index scans over the range equal the 25 queries' scans, not the lifetime count
    const idx = table(
      (
        await sc.query({
          from,
          to: Date.now() + 1000,
          queries: [{ refId: 'X', metric: 'index_usage', index: 'items_grp' }],
        })
      ).json,
      'X'
    );
    assert.equal(idx[0].scans, 25);
    const calls = table(res, 'C')
      .filter((r) => String(r.query).includes('grp = $1'))
      .reduce((a, r) => a + (r.calls as number), 0);
    assert.equal(calls, 25, 'statement calls across the reset add up to what ran');
    const ev = await sc.get(`/api/v1/resources/events?from=${from}&to=${Date.now() + 1000}`);
    const kinds = ev.json.events.map((e: any) => e.kind);
    assert.ok(kinds.includes('stats_reset'), 'the resets are recorded as events (annotations)');
  });

  test('a sidecar restart keeps history', async () => {
    await sc.sampleNow();
    const from = Date.now() - 60_000;
    const to = Date.now() + 1000;
    const q = {
      from,
      to,
      intervalMs: 1000,
      queries: [
        { refId: 'A', metric: 'tps' },
        { refId: 'B', metric: 'index_usage' },
      ],
    };
    const before1 = (await sc.query(q)).json;
    const dataDir = sc.dataDir;
    await sc.stop();
    sc = await startTestSidecar({ url: pg.urlFor('work'), intervalMs: 1000, dataDir });
    const after1 = (await sc.query(q)).json;
    assert.deepEqual(
      after1.results.A.frames.map((f: any) => f.data),
      before1.results.A.frames.map((f: any) => f.data)
    );
    assert.deepEqual(after1.results.B.frames[0].data, before1.results.B.frames[0].data);
  });

  test('database stopped and started: answers from history, gap is null, resumes by itself', async () => {
    await sc.stop();
    sc = await startTestSidecar({ url: pg.urlFor('work'), intervalMs: 1000, dataDir: sc.dataDir, sampling: true });
    const t0 = Date.now();
    await sleep(3500);
    await pg.stop();
    const down = Date.now();
    await sleep(4000);
    // while down: history still answers
    const during = (
      await sc.query({
        from: t0,
        to: Date.now(),
        intervalMs: 1000,
        queries: [{ refId: 'A', metric: 'database_size', database: 'work' }],
      })
    ).json;
    const dv = seriesValues(during, 'A')[0];
    assert.ok(
      dv.values.some((v) => v !== null),
      'values from before the stop'
    );
    const health = await sc.get('/api/v1/health');
    assert.equal(health.json.status, 'error');
    assert.match(health.json.message, /connection refused|cannot connect|unreachable/i);
    await pg.start();
    const up = Date.now();
    await sleep(4000);
    const res = (
      await sc.query({
        from: t0,
        to: Date.now(),
        intervalMs: 1000,
        queries: [
          { refId: 'A', metric: 'database_size', database: 'work' },
          { refId: 'B', metric: 'tps', database: 'work' },
        ],
      })
    ).json;
    const s = seriesValues(res, 'A')[0];
    const at = (t: number) => s.values[s.times.findIndex((x, i) => t >= x && t < (s.times[i + 1] ?? Infinity))];
    assert.ok(
      s.values.some((v, i) => v !== null && s.times[i] < down),
      'before the stop'
    );
    assert.equal(at(down + 2000), null, 'the outage is a gap (null), not a zero');
    assert.ok(
      s.values.some((v, i) => v !== null && s.times[i] > up),
      'sampling resumed by itself'
    );
    for (const f of seriesValues(res, 'B')) {
      assert.ok(
        f.values.every((v) => v === null || v >= 0),
        'no negative rate across the restart'
      );
    }
    const ev = await sc.get(`/api/v1/resources/events?from=${t0}&to=${Date.now()}`);
    const kinds = ev.json.events.map((e: any) => e.kind);
    assert.ok(
      kinds.includes('target_down') && kinds.includes('target_up') && kinds.includes('restart'),
      `events: ${kinds}`
    );
  });
});
