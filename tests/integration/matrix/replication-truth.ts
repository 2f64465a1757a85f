/**
 * Replication and WAL against ground truth, on a real streaming standby of the matrix server
 * (tests/support/standby.ts), both monitored through a pg_monitor-only role:
 * - replay paused, the test writes a known amount of WAL: the replay lag the primary reports
 *   (pg_stat_replication) and the received-but-not-replayed bytes the standby reports equal
 *   pg_wal_lsn_diff of the LSNs the test reads around the sample; after resume both are 0;
 * - WAL rates equal the pg_stat_wal / pg_current_wal_lsn() deltas the test reads around two samples;
 * - the standby stopped, its (now inactive) physical slot retains the WAL the test then writes.
 *
 * "Around the sample": the test reads the truth right before and right after pgpulse samples; a
 * value that did not change between the two reads is what pgpulse saw, so the assertion is an
 * equality (the sample is retried when background WAL moved it). Counters that only grow are
 * bracketed instead. Every sample lands in its own 1 s step, so a step holds exactly one sample.
 * Objects are named rp_*; the standby and its slot are gone when the suite ends.
 */
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { Client, type ClientConfig } from 'pg';
import { after, before, describe, it } from 'node:test';
import type { TestPostgres } from '../../support/pg';
import { embeddedBinDir, type MatrixServer } from '../../support/pg-matrix';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { startStandby, type TestStandby } from '../../support/standby';
import { pause, tableRows } from './frames';

const APP = 'rp_standby';
const STEP = 1000;

interface Frame {
  labels: Record<string, string>;
  times: number[];
  values: Array<number | null>;
}

export function replicationTruthSuite(server: MatrixServer, getPg: () => TestPostgres): void {
  describe(`${server.label}: replication and WAL against a real standby (pg_monitor-only role)`, () => {
    let pg: TestPostgres;
    let standby: TestStandby;
    let sc: TestSidecar;
    let lastTs = 0;

    const frames = async (target: string, metric: string, from: number, to: number): Promise<Frame[]> => {
      const res = await sc.query({ from, to, intervalMs: STEP, queries: [{ refId: 'A', metric, target }] });
      const r = res.json.results.A;
      assert.equal(r.error, undefined, `${target} ${metric}: ${r.error}`);
      return (r.frames as any[]).map((f) => ({
        labels: f.schema.fields[1].labels ?? {},
        times: f.data.values[0],
        values: f.data.values[1],
      }));
    };
    /** the value of the step holding ts (null when the series has none there) */
    const at = (f: Frame | undefined, ts: number): number | null => {
      const i = f ? f.times.findIndex((t) => t <= ts && ts < t + STEP) : -1;
      return i >= 0 ? (f as Frame).values[i] : null;
    };
    const valueAt = async (
      target: string,
      metric: string,
      ts: number,
      labels: Record<string, string> = {}
    ): Promise<number | null> => {
      const fs = await frames(target, metric, ts - 5 * STEP, ts + STEP);
      const f = fs.find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v));
      return at(f, ts);
    };

    /** one cycle in a step of its own; its sample time of a collector */
    const sample = async (target: string, collector: string): Promise<number> => {
      while (Math.floor(Date.now() / STEP) <= Math.floor(lastTs / STEP)) {
        await pause(50);
      }
      await sc.sampleNow(target);
      const s = sc.sidecar.store.lastSample(target, collector, false);
      assert.ok(s?.ok, `${target}: ${collector} sampled without an error: ${JSON.stringify(s)}`);
      lastTs = Math.max(lastTs, Date.now());
      return s.ts;
    };
    /**
     * a sample during which the truth did not change (as far as `stable` picks it): returns the
     * reads before and after it and the sample time
     */
    const stableSample = async <T>(
      target: string,
      collector: string,
      truth: () => Promise<T>,
      stable: (t: T) => unknown = (t) => t
    ): Promise<{ truth: T; after: T; ts: number }> => {
      for (let attempt = 0; attempt < 20; attempt++) {
        const t0 = await truth();
        const ts = await sample(target, collector);
        const t1 = await truth();
        if (isDeepStrictEqual(stable(t0), stable(t1))) {
          return { truth: t0, after: t1, ts };
        }
      }
      throw new Error(`${target}: the truth kept moving during every one of 20 samples`);
    };

    const num = (v: unknown) => Number(v);
    /** pg_stat_replication of the test's standby, lags against the current LSN */
    const primaryTruth = async () => {
      const r = await pg.query<Record<string, string | null>>(
        `SELECT pg_catalog.pg_current_wal_lsn()::text AS current, r.replay_lsn::text AS replay_lsn,
                pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.write_lsn)::text AS write,
                pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.flush_lsn)::text AS flush,
                pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.replay_lsn)::text AS replay,
                coalesce(extract(epoch from r.write_lag), 0)::text AS write_s,
                coalesce(extract(epoch from r.flush_lag), 0)::text AS flush_s,
                coalesce(extract(epoch from r.replay_lag), 0)::text AS replay_s
         FROM pg_catalog.pg_stat_replication r WHERE r.application_name = $1`,
        [APP]
      );
      assert.equal(r.length, 1, `one walsender for ${APP}: ${JSON.stringify(r)}`);
      return r[0];
    };
    const standbyTruth = async () =>
      (
        await standby.pg.query<{ recv: string; replay: string; lag: string; replayed_at: string | null }>(
          `SELECT pg_catalog.pg_last_wal_receive_lsn()::text AS recv, pg_catalog.pg_last_wal_replay_lsn()::text AS replay,
                  pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn())::text AS lag,
                  pg_catalog.pg_last_xact_replay_timestamp()::text AS replayed_at`
        )
      )[0];
    const standbyClock = async () =>
      num(
        (
          await standby.pg.query<{ d: string }>(
            `SELECT extract(epoch from (pg_catalog.clock_timestamp() - pg_catalog.pg_last_xact_replay_timestamp()))::text AS d`
          )
        )[0].d
      );
    const currentLsn = async () =>
      (await pg.query<{ lsn: string }>('SELECT pg_catalog.pg_current_wal_lsn()::text AS lsn'))[0].lsn;
    const lsnDiff = async (a: string, b: string) =>
      num(
        (
          await pg.query<{ d: string }>('SELECT pg_catalog.pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::text AS d', [a, b])
        )[0].d
      );
    const writeWal = async (table: string) => {
      const from = await currentLsn();
      await pg.query(
        `CREATE TABLE public.${table} AS SELECT g AS id, repeat('x', 200) AS pad FROM pg_catalog.generate_series(1, 20000) g`
      );
      const generated = await lsnDiff(await currentLsn(), from);
      assert.ok(generated > 1_000_000, `the test wrote ${generated} bytes of WAL`);
      return generated;
    };
    const lagOf = (metric: string, ts: number, kind?: string) =>
      valueAt('primary', metric, ts, { application_name: APP, client_addr: '127.0.0.1', ...(kind ? { kind } : {}) });

    before(async () => {
      pg = getPg();
      await pg.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'rp_monitor') THEN
          CREATE ROLE rp_monitor LOGIN PASSWORD 'rppw' IN ROLE pg_monitor;
        END IF; END $$`);
      // the role is in the base backup: the standby knows it from the start
      standby = await startStandby(pg, {
        version: server.major,
        binDir: server.source === 'embedded' ? embeddedBinDir(server.major) : undefined,
        name: APP,
      });
      sc = await startTestSidecar({
        targets: [
          { name: 'primary', url: pg.urlFor('postgres', 'rp_monitor', 'rppw') },
          { name: 'standby', url: standby.pg.urlFor('postgres', 'rp_monitor', 'rppw') },
        ],
      });
    });
    after(async () => {
      await sc?.destroy();
      await standby?.destroy();
      for (const t of ['rp_wal1', 'rp_wal2', 'rp_wal3']) {
        await pg?.query(`DROP TABLE IF EXISTS public.${t}`).catch(() => undefined);
      }
    });

    it('replay paused: the lag the primary and the standby report equals pg_wal_lsn_diff of the LSNs; resumed, it is 0', async () => {
      // a replayed commit gives pg_last_xact_replay_timestamp() a value (NULL until the first one)
      await pg.query('SELECT pg_catalog.txid_current()');
      for (let i = 0; (await standbyTruth()).replayed_at === null; i++) {
        assert.ok(i < 200, 'the standby replayed the commit within 10 s');
        await pause(50);
      }
      await standby.pauseReplay();
      const generated = await writeWal('rp_wal1');
      const target = await currentLsn();
      // the standby keeps receiving while paused: wait until it has everything the test wrote
      for (
        let i = 0;
        (await primaryTruth()).flush !== '0' || (await lsnDiff(target, (await standbyTruth()).recv)) > 0;
        i++
      ) {
        assert.ok(i < 400, 'the standby received the WAL within 20 s');
        await pause(50);
      }

      // while replay is paused the walsender raises replay_lag at every standby reply (each second
      // here): it is bracketed; the positions and the write/flush lag times stay put
      const p = await stableSample('primary', 'replication', primaryTruth, ({ replay_s, ...rest }) => rest);
      assert.ok(
        num(p.truth.replay) >= generated,
        `replay paused before the test wrote ${generated} bytes: lag ${p.truth.replay}`
      );
      assert.equal(
        await lagOf('replication_lag_bytes', p.ts, 'replay'),
        num(p.truth.replay),
        'replay lag = pg_wal_lsn_diff(current, replay_lsn)'
      );
      assert.equal(await lagOf('replication_lag_bytes', p.ts, 'write'), num(p.truth.write), 'write lag');
      assert.equal(await lagOf('replication_lag_bytes', p.ts, 'flush'), num(p.truth.flush), 'flush lag');
      for (const kind of ['write', 'flush'] as const) {
        assert.equal(
          await lagOf('replication_lag_seconds', p.ts, kind),
          num(p.truth[`${kind}_s`]),
          `${kind}_lag seconds`
        );
      }
      const [lo, hi] = [num(p.truth.replay_s), num(p.after.replay_s)];
      for (const metric of ['replication_lag_seconds', 'standby_replay_lag_seconds']) {
        const v = await lagOf(metric, p.ts, metric === 'replication_lag_seconds' ? 'replay' : undefined);
        assert.ok(
          v !== null && v >= lo && v <= hi,
          `${metric}: replay_lag ${v} within [${lo}, ${hi}] read around the sample`
        );
      }

      // the table of standbys: the primary's last replication sample is p's
      const standbys = tableRows(
        (
          await sc.query({
            from: p.ts - STEP,
            to: Date.now() + STEP,
            queries: [{ refId: 'T', metric: 'replication_standbys', target: 'primary' }],
          })
        ).json,
        'T'
      );
      const truthRow = (
        await pg.query<{ state: string; sync_state: string }>(
          'SELECT state, sync_state FROM pg_catalog.pg_stat_replication WHERE application_name = $1',
          [APP]
        )
      )[0];
      assert.deepEqual(
        standbys.map((r) => ({ ...r, replay_lag_seconds: undefined })),
        [
          {
            application_name: APP,
            client_addr: '127.0.0.1',
            state: truthRow.state,
            sync_state: truthRow.sync_state,
            write_lag_bytes: num(p.truth.write),
            flush_lag_bytes: num(p.truth.flush),
            replay_lag_bytes: num(p.truth.replay),
            replay_lag_seconds: undefined,
          },
        ],
        'one standby, as pg_stat_replication shows it'
      );
      const rs = standbys[0].replay_lag_seconds as number;
      assert.ok(rs >= lo && rs <= hi, `table replay_lag ${rs} within [${lo}, ${hi}]`);

      const s = await stableSample('standby', 'replica', async () => ({ ...(await standbyTruth()) }));
      assert.ok(num(s.truth.lag) >= generated, `received but not replayed ≥ ${generated}: ${s.truth.lag}`);
      assert.equal(
        await valueAt('standby', 'replica_receive_replay_lag', s.ts),
        num(s.truth.lag),
        'receive − replay = pg_wal_lsn_diff on the standby'
      );
      assert.equal(await valueAt('standby', 'replica_replay_paused', s.ts), 1, 'replay paused');
      assert.equal(
        await valueAt('standby', 'neon_replication_delay', s.ts, { kind: 'neon_replication_delay_bytes' }),
        num(s.truth.lag),
        'the Neon replica-lag metric reads the same collector'
      );
      // the server collector of the same cycle (its own sample time)
      assert.equal(
        await valueAt('standby', 'recovery_state', sc.sidecar.store.lastSample('standby', 'server')!.ts),
        1,
        'the standby is in recovery'
      );

      // replayed_at does not move while paused: the delay grows with the clock, bracketed by two reads
      assert.notEqual(s.truth.replayed_at, null, 'the standby has replayed a commit');
      const d0 = await standbyClock();
      const ts = await sample('standby', 'replica');
      const d1 = await standbyClock();
      const delay = await valueAt('standby', 'replica_replay_delay', ts);
      assert.ok(delay !== null && delay >= d0 && delay <= d1, `replay delay ${delay} within [${d0}, ${d1}]`);

      await standby.resumeReplay();
      await standby.waitCaughtUp();
      const p2 = await stableSample('primary', 'replication', primaryTruth);
      assert.equal(num(p2.truth.replay), 0, 'caught up');
      assert.equal(await lagOf('replication_lag_bytes', p2.ts, 'replay'), 0, 'replay lag back to 0');
      const s2 = await stableSample('standby', 'replica', standbyTruth);
      assert.equal(num(s2.truth.lag), 0, 'caught up');
      assert.equal(await valueAt('standby', 'replica_receive_replay_lag', s2.ts), 0, 'receive − replay back to 0');
      assert.equal(await valueAt('standby', 'replica_replay_paused', s2.ts), 0, 'replay running');

      // a primary has no replica-side lag: a gap, not a zero
      const onPrimary = await frames('primary', 'replica_receive_replay_lag', p.ts - 5 * STEP, Date.now() + STEP);
      assert.ok(
        onPrimary.every((f) => f.values.every((v) => v === null)),
        `no replica lag values on the primary: ${JSON.stringify(onPrimary)}`
      );
      assert.equal(
        await valueAt('primary', 'recovery_state', sc.sidecar.store.lastSample('primary', 'server')!.ts),
        0,
        'the primary is not in recovery'
      );
    });

    it("every walsender is a standby of the table except one named walproposer (Neon's storage)", async () => {
      // a replication connection holds a walsender (state startup) until it disconnects
      const conns = ['walproposer', 'rp_other'].map(
        (app) =>
          new Client({ connectionString: pg.url, replication: 'database', application_name: app } as ClientConfig)
      );
      try {
        for (const c of conns) {
          await c.connect();
        }
        for (let i = 0; (await pg.query('SELECT 1 FROM pg_catalog.pg_stat_replication')).length < 3; i++) {
          assert.ok(i < 200, 'three walsenders within 10 s');
          await pause(50);
        }
        const ts = await sample('primary', 'replication');
        const rows = tableRows(
          (
            await sc.query({
              from: ts - STEP,
              to: Date.now() + STEP,
              queries: [{ refId: 'T', metric: 'replication_standbys', target: 'primary' }],
            })
          ).json,
          'T'
        );
        assert.deepEqual(rows.map((r) => r.application_name).sort(), ['rp_other', APP]);
        assert.equal(rows.find((r) => r.application_name === 'rp_other')?.state, 'startup');
      } finally {
        for (const c of conns) {
          await c.end().catch(() => undefined);
        }
      }
    });

    it('WAL rates equal the pg_stat_wal and pg_current_wal_lsn() deltas around two samples', async () => {
      const stat = async () =>
        num((await pg.query<{ b: string }>('SELECT wal_bytes::text AS b FROM pg_catalog.pg_stat_wal'))[0].b);
      const lsn = async () => lsnDiff(await currentLsn(), '0/0');
      const around = async () => {
        const lo = { stat: await stat(), lsn: await lsn() };
        const ts = await sample('primary', 'wal');
        const tsLsn = sc.sidecar.store.lastSample('primary', 'wal_lsn', false)!.ts;
        const hi = { stat: await stat(), lsn: await lsn() };
        return { lo, hi, ts, tsLsn };
      };
      const a = await around();
      const w0 = a.hi.stat;
      const generated = await writeWal('rp_wal2');
      // pg_stat_wal is fed when the writing backend reports its statistics (at the latest on exit)
      for (let i = 0; (await stat()) - w0 < generated / 2; i++) {
        assert.ok(i < 200, 'the WAL the test wrote shows in pg_stat_wal within 10 s');
        await pause(50);
      }
      await pause(STEP); // the later sample's step starts after the earlier sample
      const b = await around();

      const check = async (
        metric: string,
        kind: string | undefined,
        lo: number,
        hi: number,
        tsA: number,
        tsB: number
      ) => {
        // the step holding the pair's last instant (a delta covers (tsA, tsB]: a tsB exactly on a step's
        // start leaves that step none of it)
        const rate = await valueAt('primary', metric, tsB - 1, kind ? { kind } : {});
        assert.ok(rate !== null, `${metric}: a rate in the step of the later sample`);
        // that step holds only (a, b]'s share: Σ Δ / Σ elapsed of the one pair = Δ / (tsB − tsA)
        const delta = (rate * (tsB - tsA)) / 1000;
        const eps = 1e-6 * Math.max(1, hi);
        assert.ok(
          delta >= lo - eps && delta <= hi + eps,
          `${metric}: rate ${rate}/s × ${(tsB - tsA) / 1000} s = ${delta} within [${lo}, ${hi}]`
        );
        return delta;
      };
      const statDelta = await check('wal_rate', 'bytes', b.lo.stat - a.hi.stat, b.hi.stat - a.lo.stat, a.ts, b.ts);
      assert.ok(
        statDelta >= generated / 2,
        `pg_stat_wal counted the generated WAL (${statDelta} of ${generated} LSN bytes)`
      );
      const lsnDelta = await check(
        'wal_position_rate',
        undefined,
        b.lo.lsn - a.hi.lsn,
        b.hi.lsn - a.lo.lsn,
        a.tsLsn,
        b.tsLsn
      );
      assert.ok(lsnDelta >= generated, `the WAL position moved by at least the generated ${generated} bytes`);
      for (const kind of ['records', 'fpi', 'buffers_full']) {
        assert.notEqual(
          await valueAt('primary', 'wal_rate', b.ts - 1, { kind }),
          null,
          `wal_rate kind ${kind} present`
        );
      }
    });

    it('the standby stopped, its inactive physical slot retains the WAL the test wrote; its lag series ends', async () => {
      await standby.stop();
      const generated = await writeWal('rp_wal3');
      const retained = async () =>
        num(
          (
            await pg.query<{ b: string }>(
              'SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn)::text AS b FROM pg_catalog.pg_replication_slots WHERE slot_name = $1',
              [standby.slotName]
            )
          )[0].b
        );
      const lo = await retained();
      const ts = await sample('primary', 'slots');
      const hi = await retained();
      assert.ok(lo >= generated, `the slot keeps at least the generated WAL (${lo} ≥ ${generated})`);
      for (const metric of ['slot_retained_wal', 'inactive_slot_retained_wal']) {
        const v = await valueAt('primary', metric, ts, { slot_name: standby.slotName });
        assert.ok(v !== null && v >= lo && v <= hi, `${metric}: ${v} within [${lo}, ${hi}]`);
      }
      const rows = tableRows(
        (
          await sc.query({
            from: ts - STEP,
            to: Date.now() + STEP,
            queries: [{ refId: 'T', metric: 'replication_slots', target: 'primary' }],
          })
        ).json,
        'T'
      );
      const row = rows.find((r) => r.slot === standby.slotName);
      assert.ok(row, `replication_slots lists ${standby.slotName}: ${JSON.stringify(rows)}`);
      assert.equal(row.active, false);
      assert.equal(row.type, 'physical');
      // no walsender any more: no lag value in that sample's step (a gone standby is not "0 behind")
      const replTs = sc.sidecar.store.lastSample('primary', 'replication', false)!.ts;
      assert.equal(
        await lagOf('replication_lag_bytes', replTs, 'replay'),
        null,
        'no replay lag value without a walsender'
      );
      const gone = tableRows(
        (
          await sc.query({
            from: replTs - STEP,
            to: Date.now() + STEP,
            queries: [{ refId: 'T', metric: 'replication_standbys', target: 'primary' }],
          })
        ).json,
        'T'
      );
      assert.deepEqual(gone, [], 'the standbys table no longer lists it');
    });
  });
}
