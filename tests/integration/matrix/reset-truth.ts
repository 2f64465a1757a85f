/**
 * Restarts, resets and loud failures against ground truth, on one real server of any major
 * (registered in matrix.ts SUITES, so it runs on PG14–18 and Debian's PG15).
 *
 * Ground truth is PostgreSQL's own counters read by the test (pg_stat_user_indexes.idx_scan of a
 * table only the test touches, pg_stat_database.xact_commit), compared with what pgpulse answers
 * through its HTTP API for a window between two of its samples. Sampling is driven by the test
 * (sampleNow), so every sample's place relative to a restart or reset is known.
 *
 * Reuse: `resetTruthSuite(server, getPg)` takes the matrix's server label and a TestPostgres
 * handle (url, urlFor, query, stop = fast shutdown, crash = immediate shutdown, start, dataDir).
 * It restarts that server several times and leaves it running, with its own databases (rt_*)
 * and roles (rt_*) apart from other suites.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import type { TestPostgres } from '../../support/pg';
import type { MatrixServer } from '../../support/pg-matrix';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { buildReport } from '../../../src/sidecar/cli/report';
import { diagnose } from '../../../src/sidecar/cli/doctor';
import { Progress, type AdvisorClient } from '../../../src/sidecar/cli/support';
import { Store } from '../../../src/sidecar/store/store';
import { pause } from './frames';

const DB = 'rt_truth';
const TARGET = 'default';

export function resetTruthSuite(server: MatrixServer, getPg: () => TestPostgres): void {
  describe(`${server.label}: restarts and resets against ground truth`, () => {
    let pg: TestPostgres;
    let sc: TestSidecar;

    /** one sampling cycle that reached the server (a restart leaves dead pooled connections) */
    const sampleOk = async (s: TestSidecar = sc): Promise<number> => {
      for (let i = 0; i < 40; i++) {
        await s.sampleNow().catch(() => undefined);
        const st = s.sidecar.samplers.get(TARGET)!.status;
        const last = s.sidecar.store.lastSample(TARGET, 'indexes', false);
        if (st.reachable && last?.ok) {
          return last.ts;
        }
        await pause(250);
      }
      throw new Error('the sidecar could not sample the server');
    };

    const idxScans = async (index: string): Promise<number> =>
      Number(
        (
          await pg.query<{ n: string }>(
            'SELECT idx_scan AS n FROM pg_catalog.pg_stat_user_indexes WHERE indexrelname = $1',
            [index],
            DB
          )
        )[0]?.n ?? 0
      );

    const commits = async (): Promise<number> =>
      Number(
        (
          await pg.query<{ n: string }>('SELECT xact_commit AS n FROM pg_catalog.pg_stat_database WHERE datname = $1', [
            DB,
          ])
        )[0].n
      );

    /** n index scans of `table` in one session; returns once the statistics show them */
    const scans = async (table: string, n: number, expectAfter?: number): Promise<void> => {
      const index = `${table}_pkey`;
      const before = expectAfter === undefined ? await idxScans(index) : 0;
      const c = new Client({ connectionString: pg.urlFor(DB) });
      await c.connect();
      try {
        await c.query('SET enable_seqscan = off');
        for (let i = 0; i < n; i++) {
          await c.query(`SELECT v FROM public.${table} WHERE id = $1`, [1 + (i % 50)]);
        }
      } finally {
        await c.end();
      }
      const want = expectAfter ?? before + n;
      for (let i = 0; i < 60 && (await idxScans(index)) < want; i++) {
        await pause(100);
      }
      assert.equal(await idxScans(index), want, `${index}: the statistics show the scans`);
    };

    /**
     * Window edges: a sample, a quiet second (nothing the test counts happens), another sample.
     * A window runs from one edge's `from` to a later edge's `to`.
     * Each 1 s step inside [start, end] is then covered by sample pairs from edge to edge, so
     * Σ rate × step is exactly what happened — a step only partly covered (the current one) shows
     * the rate over the part that is known, which integrated over the whole step would over-count.
     */
    const quietEdge = async (): Promise<{ from: number; to: number }> => {
      await sampleOk();
      await pause(1100);
      // every collector of the next cycle samples after `from` (each stamps its own time), and
      // the one before lies more than a step earlier: the step holding `from` is fully covered
      const from = Date.now();
      await sampleOk();
      return { from, to: Date.now() };
    };

    /** index_usage "scans in range": Σ of reset-aware deltas of samples in [from, to] (the store's range path) */
    const scansInRange = async (table: string, from: number, to: number, s: TestSidecar = sc): Promise<number> => {
      const res = await s.query({ from, to, queries: [{ refId: 'U', metric: 'index_usage', index: `${table}_pkey` }] });
      const u = res.json.results.U;
      assert.equal(u.error, undefined, u.error);
      const names = u.frames[0].schema.fields.map((x: any) => x.name);
      const v = u.frames[0].data.values[names.indexOf('scans')] as Array<number | null>;
      assert.equal(v.length, 1, `one row for ${table}_pkey`);
      return v[0] ?? 0;
    };

    /** the answer of one series metric over [from, to] at a 1 s step */
    const series = async (
      metric: string,
      extra: Record<string, unknown>,
      from: number,
      to: number,
      s: TestSidecar = sc
    ) => {
      const res = await s.query({ from, to, intervalMs: 1000, queries: [{ refId: 'A', metric, ...extra }] });
      const r = res.json.results.A;
      assert.equal(r.error, undefined, `${metric}: ${r.error}`);
      return (r.frames as any[]).map((f) => ({
        labels: f.schema.fields[1].labels as Record<string, string>,
        step: f.schema.meta.custom.stepMs as number,
        times: f.data.values[0] as number[],
        values: f.data.values[1] as Array<number | null>,
      }));
    };

    /** Σ rate × step: how many events pgpulse says happened in the window */
    const integrate = (f: { step: number; values: Array<number | null> }) =>
      f.values.reduce<number>((a, v) => a + (v ?? 0) * (f.step / 1000), 0);

    const indexSeries = async (table: string, from: number, to: number, s: TestSidecar = sc) => {
      const frames = await series('index_scans', { index: `${table}_pkey` }, from, to, s);
      assert.equal(frames.length, 1, `one series for ${table}_pkey`);
      return frames[0];
    };

    const events = (from: number) =>
      sc.sidecar.store.events(TARGET, from, Date.now() + 1000).map((e) => `${e.kind}: ${e.title}`);

    before(async () => {
      pg = getPg();
      if ((await pg.query(`SELECT 1 FROM pg_catalog.pg_database WHERE datname = '${DB}'`)).length === 0) {
        await pg.query(`CREATE DATABASE ${DB}`);
      }
      await pg.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements', [], DB);
      for (const t of ['rt_items', 'rt_clean', 'rt_crash', 'rt_reset', 'rt_side', 'rt_dl']) {
        await pg.query(
          `DROP TABLE IF EXISTS public.${t}; CREATE TABLE public.${t} (id int PRIMARY KEY, v int NOT NULL); INSERT INTO public.${t} SELECT g, g FROM generate_series(1, 200) g; ANALYZE public.${t}`,
          [],
          DB
        );
      }
      sc = await startTestSidecar({ url: pg.urlFor(DB), intervalMs: 500, grpc: false });
      // a lifetime worth counting: a restart counted as one step would show all of it at once
      await scans('rt_items', 1500);
      await sampleOk();
    });

    after(async () => {
      await sc?.destroy();
    });

    it('clean restart: index scans across it equal pg_stat_user_indexes, nothing of the lifetime shows up', async () => {
      await scans('rt_clean', 300);
      const a = (await quietEdge()).from;
      const truthA = await idxScans('rt_clean_pkey');
      const since = Date.now();
      await pg.stop();
      await pg.start();
      await scans('rt_clean', 120, truthA + 120); // statistics kept: the ground truth itself shows it
      const b = (await quietEdge()).to;
      const f = await indexSeries('rt_clean', a, b);
      assert.ok(
        Math.abs(integrate(f) - 120) < 1e-6,
        `integrated ${integrate(f)} vs 120 scans (lifetime ${truthA + 120}): ${JSON.stringify(f.values)}`
      );
      assert.equal(await scansInRange('rt_clean', a, b), 120);
      assert.ok(
        f.values.every((v) => v === null || v >= 0),
        'no negative rate'
      );
      assert.ok(
        events(since).some((e) => e.startsWith('restart:') && !e.includes('discarded')),
        events(since).join('\n')
      );
    });

    it('clean restart mid-workload: integrated commits and index scans = pg_stat_* deltas ±2 %, no step above the true peak', async () => {
      const a = (await quietEdge()).from;
      const commitsA = await commits();
      const scansA = await idxScans('rt_items_pkey');
      let stop = false;
      const truthPolls: Array<{ t: number; n: number }> = [];
      const poller = (async () => {
        while (!stop) {
          const n = await commits().catch(() => null);
          if (n !== null) {
            truthPolls.push({ t: Date.now(), n });
          }
          await pause(400);
        }
      })();
      const sampler = (async () => {
        while (!stop) {
          await sc.sampleNow().catch(() => undefined);
          await pause(500);
        }
      })();
      const worker = async () => {
        while (!stop) {
          const c = new Client({ connectionString: pg.urlFor(DB) });
          c.on('error', () => undefined);
          try {
            await c.connect();
            await c.query('SET enable_seqscan = off');
            while (!stop) {
              await c.query('SELECT v FROM public.rt_items WHERE id = $1', [1 + Math.floor(Math.random() * 200)]);
            }
          } catch {
            await pause(50); // the restart cut the session: reconnect, as an application would
          } finally {
            await c.end().catch(() => undefined);
          }
        }
      };
      const workers = [worker(), worker(), worker(), worker()];
      await pause(2500);
      await pg.stop();
      await pg.start();
      await pause(2500);
      stop = true;
      await Promise.all([...workers, poller, sampler]);
      // every backend has reported (PG14's collector takes its time): read until the numbers settle
      const settled = async (read: () => Promise<number>) => {
        let v = await read();
        for (let i = 0; i < 20; i++) {
          await pause(600);
          const w = await read();
          if (w === v) {
            break;
          }
          v = w;
        }
        return v;
      };
      const commitsB = await settled(commits);
      const scansB = await settled(() => idxScans('rt_items_pkey'));
      const b = (await quietEdge()).to;

      const tps = (await series('tps', { database: DB }, a, b)).find((f) => f.labels.kind === 'commits')!;
      const trueCommits = commitsB - commitsA;
      const got = integrate(tps);
      // the only slack: pgpulse's own read-only transactions in this database (a dozen per cycle),
      // which a backend may report up to a second late, at the two ends of the window
      assert.ok(
        Math.abs(got - trueCommits) <= Math.max(0.02 * trueCommits, 60),
        `commits: pgpulse ${got.toFixed(1)} vs pg_stat_database ${trueCommits}`
      );
      const idx = await indexSeries('rt_items', a, b);
      const trueScans = scansB - scansA;
      assert.ok(trueScans > 300, `the workload ran (${trueScans} scans)`);
      assert.ok(
        Math.abs(integrate(idx) - trueScans) <= 0.02 * trueScans,
        `index scans: pgpulse ${integrate(idx).toFixed(1)} vs pg_stat_user_indexes ${trueScans}`
      );

      let peak = 0;
      for (let i = 1; i < truthPolls.length; i++) {
        const dt = (truthPolls[i].t - truthPolls[i - 1].t) / 1000;
        const dn = truthPolls[i].n - truthPolls[i - 1].n;
        if (dt >= 0.3 && dn >= 0) {
          peak = Math.max(peak, dn / dt);
        }
      }
      const maxStep = Math.max(...tps.values.map((v) => v ?? 0));
      assert.ok(peak > 0, 'the truth poller saw the workload');
      assert.ok(
        maxStep <= peak * 1.5,
        `highest tps step ${maxStep.toFixed(0)}/s vs true peak ${peak.toFixed(0)}/s: ${JSON.stringify(tps.values)}`
      );
      assert.ok(tps.values.every((v) => v === null || v >= 0));
    });

    it('crash restart (immediate shutdown): no negative, no spike, the outage is a gap, and counts that climbed past the old value are not lost', async () => {
      await scans('rt_crash', 20);
      const a = (await quietEdge()).from;
      const since = Date.now();
      await pg.crash();
      // the sidecar keeps trying while the server is down: those samples fail and mark the gap
      const downFrom = Date.now();
      while (Date.now() - downFrom < 2600) {
        await sc.sampleNow().catch(() => undefined);
        await pause(400);
      }
      await pg.start();
      // the crash discarded the statistics: 60 new scans, more than the 20 before it
      await scans('rt_crash', 60, 60);
      const c = (await quietEdge()).to;
      // pg_stat_bgwriter.stats_reset moved with the postmaster start: evidence of a discard, so the
      // 60 count in full (without it, 60 − 20 = 40 would be under-counted; never over-counted)
      assert.equal(await scansInRange('rt_crash', a, c), 60);
      const f = await indexSeries('rt_crash', a, c);
      assert.ok(
        f.values.every((v) => v === null || v >= 0),
        'no negative rate'
      );
      const failed = sc.sidecar.store.samples(TARGET, 'indexes', a, c).filter((s) => !s.ok);
      assert.ok(failed.length >= 2, 'samples failed during the outage');
      const lastFailed = failed[failed.length - 1].ts;
      // the outage runs from the last sample that reached the server to the last that did not
      const lastOk = sc.sidecar.store
        .samples(TARGET, 'indexes', a, c)
        .filter((x) => x.ok && x.ts < failed[0].ts)
        .pop()!.ts;
      f.times.forEach((t, i) => {
        if (t >= lastOk && t + f.step <= lastFailed) {
          assert.equal(
            f.values[i],
            null,
            `step ${new Date(t).toISOString()} lies inside the outage: a gap, not a number`
          );
        }
      });
      // the 60 happened after the outage, faster than spread over everything from the outage's
      // end to the next sample: no step may show more
      const b = sc.sidecar.store
        .samples(TARGET, 'indexes', lastFailed + 1, c)
        .find((x) => x.ok && x.ts > lastFailed)!.ts;
      const ceiling = 60 / ((b - lastFailed) / 1000);
      assert.ok(
        f.values.every((v) => v === null || v <= ceiling + 1e-6),
        `no spike: ${JSON.stringify(f.values)} vs ${ceiling}/s`
      );
      const tps = (await series('tps', { database: DB }, a, c)).find((x) => x.labels.kind === 'commits')!;
      assert.ok(
        tps.values.every((v) => v === null || v >= 0),
        'tps: no negative'
      );
      // everything committed since the crash, spread from the outage's end to the first sample
      // after it, is the most any step may show: the lifetime before the crash never appears
      const firstAfter = sc.sidecar.store
        .samples(TARGET, 'database', lastFailed + 1, c)
        .find((x) => x.ok && x.ts > lastFailed)!.ts;
      const tpsCeiling = ((await commits()) + 50) / ((firstAfter - lastFailed) / 1000);
      assert.ok(
        tps.values.every((v) => v === null || v <= tpsCeiling),
        `tps across the crash: ${JSON.stringify(tps.values)} vs ceiling ${tpsCeiling}/s`
      );
      assert.ok(
        events(since).some((e) => e.startsWith('restart:') && e.includes('discarded')),
        events(since).join('\n')
      );
    });

    it('pg_stat_reset() and pg_stat_statements_reset() mid-run: counts after the reset, even when they climb past the old value', async () => {
      const marker = `rt_marker_${server.major}`;
      const runMarker = async (n: number) => {
        const c = new Client({ connectionString: pg.urlFor(DB) });
        await c.connect();
        for (let i = 0; i < n; i++) {
          await c.query(`SELECT $1::int AS ${marker}`, [i]);
        }
        await c.end();
      };
      await scans('rt_reset', 30);
      await runMarker(30);
      await pause(300);
      const a = (await quietEdge()).from;
      await pg.query('SELECT pg_catalog.pg_stat_reset()', [], DB);
      await pg.query('SELECT pg_stat_statements_reset()', [], DB);
      await scans('rt_reset', 80, 80);
      await runMarker(80);
      await pause(300);
      const b = (await quietEdge()).to;
      const f = await indexSeries('rt_reset', a, b);
      // pg_stat_database.stats_reset of the connected database moved: the 80 are all new
      assert.ok(Math.abs(integrate(f) - 80) < 1e-6, `index scans after pg_stat_reset(): ${integrate(f)} vs 80`);
      assert.equal(await scansInRange('rt_reset', a, b), 80);
      const qid = (
        await pg.query<{ q: string }>(
          `SELECT queryid::text AS q FROM pg_stat_statements WHERE query LIKE '%${marker}%' AND query NOT LIKE '%pg_stat_statements%'`,
          [],
          DB
        )
      )[0].q;
      const res = await sc.query({
        from: a,
        to: b,
        queries: [{ refId: 'T', metric: 'top_queries', topN: 500, orderBy: 'calls' }],
      });
      const t = res.json.results.T;
      assert.equal(t.error, undefined, t.error);
      const cols = t.frames[0].schema.fields.map((x: any) => x.name);
      const at = (t.frames[0].data.values[cols.indexOf('queryid')] as string[]).indexOf(qid);
      assert.ok(at >= 0, `${marker} is listed`);
      // pg_stat_statements_info.stats_reset moved: 80 calls, not 80 − 30
      assert.equal(t.frames[0].data.values[cols.indexOf('calls')][at], 80);
    });

    it('Neon-style resume (clean restart, statistics kept): a deadlock from before does not fire again', async () => {
      const c1 = new Client({ connectionString: pg.urlFor(DB) });
      const c2 = new Client({ connectionString: pg.urlFor(DB) });
      await c1.connect();
      await c2.connect();
      try {
        for (const c of [c1, c2]) {
          await c.query("BEGIN; SET LOCAL deadlock_timeout = '100ms'");
        }
        await c1.query('UPDATE public.rt_dl SET v = v + 1 WHERE id = 1');
        await c2.query('UPDATE public.rt_dl SET v = v + 1 WHERE id = 2');
        const p1 = c1.query('UPDATE public.rt_dl SET v = v + 1 WHERE id = 2').catch((e: Error) => e);
        const p2 = c2.query('UPDATE public.rt_dl SET v = v + 1 WHERE id = 1').catch((e: Error) => e);
        const outcomes = await Promise.all([p1, p2]);
        assert.ok(
          outcomes.some((o) => o instanceof Error && /deadlock/.test(o.message)),
          'a deadlock happened'
        );
      } finally {
        await c1.query('ROLLBACK').catch(() => undefined);
        await c2.query('ROLLBACK').catch(() => undefined);
        await c1.end();
        await c2.end();
      }
      const lifetime = async () =>
        Number(
          (
            await pg.query<{ n: string }>('SELECT deadlocks AS n FROM pg_catalog.pg_stat_database WHERE datname = $1', [
              DB,
            ])
          )[0].n
        );
      for (let i = 0; i < 30 && (await lifetime()) < 1; i++) {
        await pause(100);
      }
      await sampleOk();
      await pause(1200);
      const a = await sampleOk();
      await pg.stop();
      await pg.start();
      assert.ok((await lifetime()) >= 1, 'the deadlock count survived the clean restart (ground truth)');
      await sampleOk();
      await pause(600);
      const b = await sampleOk();
      const dl = await series('deadlocks', { database: DB }, a, b);
      assert.equal(dl.length, 1);
      assert.ok(
        dl[0].values.every((v) => v === null || v === 0),
        `no deadlock after the resume: ${JSON.stringify(dl[0].values)}`
      );
    });

    it('sidecar restart (and a server restart while it was down): the series continue without a cut', async () => {
      await scans('rt_side', 100); // a lifetime a cut would count again
      const a = (await quietEdge()).from;
      const dataDir = sc.dataDir;
      await sc.stop();
      await scans('rt_side', 40);
      await pg.stop();
      await pg.start();
      await scans('rt_side', 25);
      sc = await startTestSidecar({ url: pg.urlFor(DB), intervalMs: 500, grpc: false, dataDir });
      const b = (await quietEdge()).to;
      const f = await indexSeries('rt_side', a, b);
      assert.ok(
        Math.abs(integrate(f) - 65) < 1e-6,
        `integrated ${integrate(f)} vs 65 scans across both restarts (lifetime 165)`
      );
      assert.equal(await scansInRange('rt_side', a, b), 65);
    });

    it('upgrade over history epoched the old way (postmaster start): no cut at the first sample', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'pgpulse-legacy-'));
      try {
        const lifetime = await idxScans('rt_side_pkey');
        const store = Store.open(dir);
        store.writeSample({
          target: TARGET,
          collector: 'indexes',
          ts: Date.now() - 2000,
          ok: true,
          epoch: 12345,
          rows: [
            {
              key: { datname: DB, schemaname: 'public', relname: 'rt_side', indexrelname: 'rt_side_pkey' },
              values: { idx_scan: lifetime },
            },
          ],
        });
        store.close();
        const from = Date.now() - 3000;
        const upgraded = await startTestSidecar({ url: pg.urlFor(DB), intervalMs: 500, grpc: false, dataDir: dir });
        try {
          await upgraded.sampleNow();
          await scans('rt_side', 10);
          await upgraded.sampleNow();
          assert.equal(
            await scansInRange('rt_side', from, Date.now(), upgraded),
            10,
            `not the lifetime ${lifetime} again`
          );
        } finally {
          await upgraded.destroy();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('report numbers are the API numbers (Transactions/s sums commits and rollbacks like the API does)', async () => {
      await runRollbacks(pg, 20);
      await sampleOk();
      const client = {
        mode: 'local',
        recommendations: async (target: string) => {
          const r = await sc.sidecar.service.resource('recommendations', new URLSearchParams({ target }), {});
          assert.equal(r.status, 200, JSON.stringify(r.body));
          return r.body;
        },
        query: async (target: string, from: number, to: number, queries: Array<Record<string, unknown>>) => {
          const res = await sc.sidecar.service.query(
            { from, to, queries: queries.map((q) => ({ target, ...q })) },
            { defaultTarget: target }
          );
          return Object.fromEntries(Object.entries(res).map(([k, v]) => [k, { frames: v.frames, error: v.error }]));
        },
      } as unknown as AdvisorClient;
      const report = await buildReport(client, TARGET, 120_000, false);
      const from = Date.parse(report.window.from);
      const to = Date.parse(report.window.to);
      const api = (await sc.query({ from, to, queries: [{ refId: 'tps', metric: 'tps', maxDataPoints: 200 }] })).json
        .results.tps;
      assert.equal(api.error, undefined);
      // the API's transactions per second at each step: every series (commits, rollbacks, each database) summed
      const perStep = new Map<number, number>();
      for (const f of api.frames as any[]) {
        (f.data.values[1] as Array<number | null>).forEach((v, i) => {
          if (v !== null) {
            perStep.set(f.data.values[0][i], (perStep.get(f.data.values[0][i]) ?? 0) + v);
          }
        });
      }
      const expected = [...perStep.values()].reduce((x, y) => x + y, 0) / perStep.size;
      const got = report.metrics.find((m) => m.id === 'tps')!.value as number;
      assert.ok(Math.abs(got - expected) < 1e-9 * Math.max(1, expected), `report ${got} vs API ${expected}`);
      assert.ok(
        (api.frames as any[]).some((f) => f.schema.fields[1].labels.kind === 'rollbacks'),
        'rollbacks are a series of their own'
      );
    });

    it('loud failures: wrong password, a collector denied, an object that does not exist', async () => {
      // a role that must authenticate with a password (the test cluster trusts everyone else)
      const hba = join(pg.dataDir, 'pg_hba.conf');
      const original = readFileSync(hba, 'utf8');
      if (!original.includes('rt_pw')) {
        writeFileSync(hba, `host all rt_pw 127.0.0.1/32 scram-sha-256\n${original}`);
      }
      await pg.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'rt_pw') THEN CREATE ROLE rt_pw LOGIN PASSWORD 'right-pw'; END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'rt_weak') THEN CREATE ROLE rt_weak LOGIN; END IF; END $$`);
      await pg.query('SELECT pg_catalog.pg_reload_conf()');
      await pause(300);
      const wrong = await startTestSidecar({
        url: pg.urlFor(DB, 'rt_pw', 'wrong-pw-123'),
        intervalMs: 500,
        grpc: false,
      });
      try {
        await wrong.sampleNow();
        const res = await wrong.query({
          from: Date.now() - 60_000,
          to: Date.now(),
          queries: [{ refId: 'A', metric: 'tps' }],
        });
        const r = res.json.results.A;
        assert.equal(r.status, 503, JSON.stringify(r));
        assert.match(r.error, /unreachable since .*authentication failed/);
        const h = await wrong.get('/api/v1/health');
        assert.equal(h.json.status, 'error');
        assert.doesNotMatch(JSON.stringify([res.json, h.json]), /wrong-pw-123/);
      } finally {
        await wrong.destroy();
      }

      // a role that may not execute pg_stat_statements() in this database: the collector fails
      if ((await pg.query("SELECT 1 FROM pg_catalog.pg_database WHERE datname = 'rt_denied'")).length === 0) {
        await pg.query('CREATE DATABASE rt_denied');
      }
      await pg.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements', [], 'rt_denied');
      const fn = (
        await pg.query<{ f: string }>(
          "SELECT p.oid::regprocedure::text AS f FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = 'pg_stat_statements' AND p.pronargs = 1",
          [],
          'rt_denied'
        )
      )[0].f;
      await pg.query(`REVOKE EXECUTE ON FUNCTION ${fn} FROM PUBLIC`, [], 'rt_denied');
      const denied = await startTestSidecar({ url: pg.urlFor('rt_denied', 'rt_weak'), intervalMs: 500, grpc: false });
      try {
        await denied.sampleNow();
        const st = denied.sidecar.samplers.get(TARGET)!.status;
        assert.match(
          st.failing.statements?.error ?? '',
          /permission denied for function pg_stat_statements.*GRANT EXECUTE ON FUNCTION/
        );
        const h = await denied.get('/api/v1/health');
        assert.equal(h.json.status, 'error', 'a failing collector is not "ok"');
        assert.match(h.json.message, /statements collector fails since .*GRANT EXECUTE/);
        const res = await denied.query({
          from: Date.now() - 60_000,
          to: Date.now() + 1000,
          queries: [{ refId: 'A', metric: 'top_queries' }],
        });
        assert.match(
          res.json.results.A.error ?? '',
          /statements collector fails since .*permission denied/,
          JSON.stringify(res.json.results.A)
        );
        const quiet = new Progress({ isTTY: false, write: () => true } as unknown as NodeJS.WriteStream);
        const d = await diagnose(denied.sidecar.config, undefined, quiet);
        const check = d[0].checks.find((c) => c.name === 'collector statements');
        assert.equal(check?.status, 'fail', `doctor: ${JSON.stringify(check)}`);
      } finally {
        await denied.destroy();
      }

      // a filter naming nothing that exists: a notice saying so, not a silent empty answer
      const res = await sc.query({
        from: Date.now() - 60_000,
        to: Date.now() + 1000,
        queries: [{ refId: 'A', metric: 'index_scans', index: 'rt_no_such_index' }],
      });
      const notices = (res.json.results.A.frames as any[]).flatMap((f) => f.schema.meta?.notices ?? []);
      assert.ok(
        notices.some((n: any) => n.severity === 'warning' && /rt_no_such_index/.test(n.text)),
        JSON.stringify(res.json.results.A)
      );
    });
  });
}

async function runRollbacks(pg: TestPostgres, n: number): Promise<void> {
  const c = new Client({ connectionString: pg.urlFor(DB) });
  await c.connect();
  for (let i = 0; i < n; i++) {
    await c.query('BEGIN');
    await c.query('SELECT 1');
    await c.query('ROLLBACK');
  }
  await c.end();
  await pause(300);
}
