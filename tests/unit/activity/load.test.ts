/**
 * Database load without PostgreSQL: the activity sampler's bucket (LoadAccumulator), and the load
 * metrics the real engine computes from buckets written with chosen contents into a real store.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LoadAccumulator, type ActivityRow } from '../../../src/sidecar/activity/accumulator';
import { parseActivityConfig } from '../../../src/sidecar/activity/config';
import { Engine } from '../../../src/sidecar/engine/engine';
import type { ResolvedQuery } from '../../../src/sidecar/engine/context';
import { assemble } from '../../../src/sidecar/feature';
import { Store } from '../../../src/sidecar/store/store';
import type { SampleRow } from '../../../src/sidecar/store/types';
import { activityFeature } from '../../../src/sidecar/activity';

const parts = assemble([activityFeature]);

const row = (over: Partial<ActivityRow>): ActivityRow => ({
  wait_event_type: 'CPU',
  wait_event: 'CPU',
  queryid: '11',
  datname: 'app',
  usename: 'u',
  application_name: 'web',
  client: true,
  sessions: 1,
  ...over,
});

describe('LoadAccumulator', () => {
  it('sums sessions per group over its ticks, counts ticks, skipped and failed ones, and starts afresh after drain', () => {
    const acc = new LoadAccumulator();
    assert.equal(acc.empty, true);
    acc.add([
      row({ sessions: 2 }),
      row({ wait_event_type: 'Lock', wait_event: 'transactionid', queryid: '22', sessions: 3 }),
    ]);
    acc.add([row({ sessions: 1 })]);
    acc.add([]); // a tick with nobody active
    acc.skip();
    acc.fail();
    const b = acc.drain({ vcpus: 4, computeQueryIdOff: false });
    const byEvent = Object.fromEntries(
      b.load.map((r) => [`${r.key.wait_event_type}/${r.key.wait_event}/${r.key.queryid}`, r.values.samples])
    );
    assert.deepEqual(byEvent, { 'CPU/CPU/11': 3, 'Lock/transactionid/22': 3 });
    assert.deepEqual(b.ticks.values, {
      ticks: 3,
      skipped: 1,
      failed: 1,
      vcpus: 4,
      client_samples: 6,
      query_id_missing: 0,
      compute_query_id_off: 0,
    });
    assert.equal(acc.empty, true);
    const next = acc.drain({ vcpus: null, computeQueryIdOff: null });
    assert.deepEqual(next.load, []);
    assert.equal(next.ticks.values.ticks, 0);
  });

  it('counts client sessions without a query_id, but not workers (they never carry a client statement)', () => {
    const acc = new LoadAccumulator();
    acc.add([
      row({ queryid: null, sessions: 2 }),
      row({ queryid: null, client: false, application_name: '', sessions: 1 }),
    ]);
    const b = acc.drain({ vcpus: null, computeQueryIdOff: true });
    assert.equal(b.ticks.values.client_samples, 2);
    assert.equal(b.ticks.values.query_id_missing, 2);
    assert.equal(b.ticks.values.compute_query_id_off, 1);
    assert.deepEqual(
      b.load.map((r) => r.key.queryid),
      ['', '']
    );
  });
});

describe('activity config', () => {
  it('is on by default with 1 s ticks and no vCPUs; a wrong key names the field', () => {
    assert.deepEqual(parseActivityConfig(undefined), { enabled: true, interval: 1000 });
    assert.deepEqual(parseActivityConfig({ enabled: false, interval: '500ms', vcpus: 8 }), {
      enabled: false,
      interval: 500,
      vcpus: 8,
    });
    assert.throws(
      () => parseActivityConfig({ vcpu: 8 }, 'targets[0].activity'),
      /targets\[0\]\.activity: unknown key\(s\) "vcpu"/
    );
    assert.throws(
      () => parseActivityConfig({ interval: '10ms' }, 'targets[0].activity'),
      /targets\[0\]\.activity\.interval: must be between 100ms/
    );
  });
});

const T0 = 1_700_000_040_000; // a whole minute

function tmpStore() {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-load-'));
  return { store: Store.open(dir), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function bucket(
  store: Store,
  ts: number,
  ticks: number,
  load: Array<[Partial<Record<string, string>>, number]>,
  extra: Partial<Record<string, number | null>> = {}
) {
  const rows: SampleRow[] = load.map(([k, samples]) => ({
    key: {
      wait_event_type: 'CPU',
      wait_event: 'CPU',
      queryid: '11',
      datname: 'app',
      usename: 'u',
      application_name: 'web',
      ...k,
    } as Record<string, string>,
    values: { samples },
  }));
  store.writeSample({ target: 't', collector: 'load', ts, ok: true, rows });
  store.writeSample({
    target: 't',
    collector: 'load_ticks',
    ts,
    ok: true,
    rows: [
      {
        key: {},
        values: {
          ticks,
          skipped: 0,
          failed: 0,
          vcpus: 2,
          client_samples: 0,
          query_id_missing: 0,
          compute_query_id_off: 0,
          ...extra,
        },
      },
    ],
  });
}

function run(
  store: Store,
  metric: string,
  from: number,
  to: number,
  stepMs: number,
  extra: Record<string, unknown> = {}
) {
  return new Engine(store, parts).run({
    query: { refId: 'A', metric, target: 't', ...extra } as ResolvedQuery,
    range: { from, to },
    intervalMs: stepMs,
    targetIntervalMs: 15_000,
  });
}

const seriesOf = (res: ReturnType<typeof run>, label: string) =>
  Object.fromEntries(
    res.frames.map((f) => [String(f.fields[1].labels?.[label]), f.fields[1].values as Array<number | null>])
  );

describe('load metrics', () => {
  it('db_load per step = Σ sessions / Σ ticks of the buckets in it: a group absent from a bucket counts zero, a short bucket weighs less', () => {
    const { store, cleanup } = tmpStore();
    try {
      // step 1 (60 s): four buckets of 15 ticks, Lock present in two of them with 3 sessions each tick
      bucket(store, T0 + 15_000, 15, [
        [{}, 15],
        [{ wait_event_type: 'Lock', wait_event: 'transactionid', queryid: '22' }, 45],
      ]);
      bucket(store, T0 + 30_000, 15, [[{}, 15]]);
      bucket(store, T0 + 45_000, 15, [
        [{}, 15],
        [{ wait_event_type: 'Lock', wait_event: 'transactionid', queryid: '22' }, 45],
      ]);
      bucket(store, T0 + 59_000, 15, [[{}, 15]]);
      // step 2: one bucket of 15 ticks and one of 5 (the sampler stopped): IO 2 sessions in the short one only
      bucket(store, T0 + 75_000, 15, [[{}, 30]]);
      bucket(store, T0 + 90_000, 5, [
        [{}, 10],
        [{ wait_event_type: 'IO', wait_event: 'DataFileRead' }, 10],
      ]);
      const res = run(store, 'db_load', T0, T0 + 119_000, 60_000);
      const s = seriesOf(res, 'wait_event_type');
      assert.deepEqual(s.CPU, [1, 2]);
      assert.deepEqual(s.Lock, [90 / 60, 0]);
      assert.deepEqual(s.IO, [0, 10 / 20]);
      // a type alone, or type/event, narrows to those sessions
      const lock = seriesOf(
        run(store, 'db_load', T0, T0 + 119_000, 60_000, { waitEvent: 'Lock/transactionid' }),
        'wait_event_type'
      );
      assert.deepEqual(Object.keys(lock), ['Lock']);
      const byDb = seriesOf(run(store, 'db_load_by_database', T0, T0 + 119_000, 60_000), 'datname');
      assert.deepEqual(byDb.app, [(60 + 90) / 60, 50 / 20]);
      const ratio = run(store, 'db_load_vcpu_ratio', T0, T0 + 119_000, 60_000).frames[0].fields[1].values;
      assert.deepEqual(ratio, [150 / 60 / 2, 50 / 20 / 2]);
    } finally {
      cleanup();
    }
  });

  it('top wait events and top statements over the range, texts joined, drill-down to one wait event', () => {
    const { store, cleanup } = tmpStore();
    try {
      bucket(store, T0 + 15_000, 10, [
        [{}, 10],
        [{ wait_event_type: 'Lock', wait_event: 'transactionid', queryid: '22' }, 30],
        [{ wait_event_type: 'IO', wait_event: 'DataFileRead', queryid: '22' }, 5],
        [{ wait_event_type: 'Lock', wait_event: 'transactionid', queryid: '33', datname: 'other' }, 5],
      ]);
      store.putStatementTexts('t', [{ queryid: '22', text: 'UPDATE t SET v = $1' }], T0);
      const table = (res: ReturnType<typeof run>) => {
        const f = res.frames[0];
        return f.fields[0].values.map((_, i) => Object.fromEntries(f.fields.map((x) => [x.name, x.values[i]])));
      };
      const events = table(run(store, 'db_load_wait_events', T0, T0 + 30_000, 15_000));
      assert.deepEqual(
        events.map((e) => [e.wait_event_type, e.wait_event, e.load, e.share]),
        [
          ['Lock', 'transactionid', 3.5, 35 / 50],
          ['CPU', 'CPU', 1, 10 / 50],
          ['IO', 'DataFileRead', 0.5, 5 / 50],
        ]
      );
      const stmts = table(run(store, 'db_load_statements', T0, T0 + 30_000, 15_000));
      assert.deepEqual(
        stmts.map((s) => [s.queryid, s.datname, s.load, s.top_wait_event, s.query]),
        [
          ['22', 'app', 3.5, 'Lock/transactionid', 'UPDATE t SET v = $1'],
          ['11', 'app', 1, 'CPU/CPU', ''],
          ['33', 'other', 0.5, 'Lock/transactionid', ''],
        ]
      );
      const drill = table(run(store, 'db_load_statements', T0, T0 + 30_000, 15_000, { waitEvent: 'IO/DataFileRead' }));
      assert.deepEqual(
        drill.map((s) => [s.queryid, s.load, s.share]),
        [['22', 0.5, 5 / 50]]
      );
      const inDb = table(run(store, 'db_load_statements', T0, T0 + 30_000, 15_000, { database: 'other' }));
      assert.deepEqual(
        inDb.map((s) => s.queryid),
        ['33']
      );
    } finally {
      cleanup();
    }
  });

  it('says why: no vCPUs configured, compute_query_id off, no bucket in the range', () => {
    const { store, cleanup } = tmpStore();
    try {
      bucket(store, T0 + 15_000, 10, [[{ queryid: '' }, 10]], {
        vcpus: null,
        compute_query_id_off: 1,
        client_samples: 10,
        query_id_missing: 10,
      });
      const notices = (res: ReturnType<typeof run>) =>
        (res.frames[0].meta?.notices ?? []).map((n) => n.text).join('\n');
      const ratio = run(store, 'db_load_vcpu_ratio', T0, T0 + 30_000, 15_000);
      assert.match(notices(ratio), /vCPUs of target t are unknown: set activity\.vcpus/);
      assert.ok((ratio.frames[0].fields[1].values as unknown[]).every((v) => v === null));
      assert.match(notices(run(store, 'db_load_statements', T0, T0 + 30_000, 15_000)), /compute_query_id = off/);
      assert.match(
        notices(run(store, 'db_load', T0 + 60_000, T0 + 120_000, 15_000)),
        /no database load buckets for target t/
      );
    } finally {
      cleanup();
    }
  });
});
