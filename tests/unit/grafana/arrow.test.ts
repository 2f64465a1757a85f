import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tableFromIPC, Type, TimeUnit, type Timestamp } from 'apache-arrow';
import { frameToArrow, FrameEncodingError } from '../../../src/sidecar/grafana/arrow';
import type { Frame } from '../../../src/model/frames';

const t0 = Date.UTC(2026, 0, 2, 3, 4, 5);

const series: Frame = {
  name: 'tps',
  meta: { type: 'timeseries-multi', typeVersion: [0, 1], executedQueryString: 'rate of xact_commit+xact_rollback' },
  fields: [
    { name: 'time', type: 'time', values: [t0, t0 + 15_000, t0 + 30_000] },
    {
      name: 'value',
      type: 'number',
      values: [1.5, null, 3.25],
      labels: { database: 'app', target: 'default' },
      config: { unit: 'reqps', displayNameFromDS: 'tps app', description: 'transactions per second' },
    },
  ],
};

test('Arrow IPC file format: bytes start and end with ARROW1', () => {
  const bytes = frameToArrow(series, 'A');
  assert.equal(Buffer.from(bytes.subarray(0, 6)).toString(), 'ARROW1');
  assert.equal(Buffer.from(bytes.subarray(bytes.length - 6)).toString(), 'ARROW1');
});

test('series frame: ns timestamps non-null, Float64 nullable with labels/config, schema metadata', () => {
  const table = tableFromIPC(frameToArrow(series, 'A'));
  const [tf, vf] = table.schema.fields;
  assert.equal(tf.name, 'time');
  assert.equal(tf.typeId, Type.Timestamp);
  assert.equal((tf.type as Timestamp).unit, TimeUnit.NANOSECOND);
  assert.equal((tf.type as Timestamp).timezone ?? null, null);
  assert.equal(tf.nullable, false);
  assert.equal(tf.metadata.get('tstype'), 'time');
  assert.equal(vf.typeId, Type.Float);
  assert.equal(vf.type.toString(), 'Float64');
  assert.equal(vf.nullable, true);
  assert.deepEqual(JSON.parse(vf.metadata.get('labels')!), series.fields[1].labels);
  assert.deepEqual(JSON.parse(vf.metadata.get('config')!), series.fields[1].config);
  assert.equal(vf.metadata.get('tstype'), 'number');
  assert.equal(table.schema.metadata.get('name'), 'tps');
  assert.equal(table.schema.metadata.get('refId'), 'A');
  assert.deepEqual(JSON.parse(table.schema.metadata.get('meta')!), series.meta);
  const ns = table.getChild('time')!.data[0].values as BigInt64Array;
  assert.deepEqual(
    [...ns],
    series.fields[0].values.map((v) => BigInt(v as number) * 1_000_000n)
  );
  const values = table.getChild('value')!;
  assert.deepEqual(
    [0, 1, 2].map((i) => values.get(i)),
    [1.5, null, 3.25]
  );
});

test('table frame: strings are Utf8 (never Dictionary), booleans Bool, nulls kept', () => {
  const frame: Frame = {
    name: 'top_queries',
    refId: 'B',
    meta: { type: 'table' },
    fields: [
      { name: 'query', type: 'string', values: ['SELECT 1', null, 'SELECT $1'] },
      { name: 'calls', type: 'number', values: [10, 20, 30] },
      { name: 'blocked', type: 'boolean', values: [true, false, null] },
      { name: 'last_vacuum', type: 'time', values: [t0, null, t0 + 1], nullable: true },
    ],
  };
  const table = tableFromIPC(frameToArrow(frame));
  const types = table.schema.fields.map((f) => [f.name, f.type.toString(), f.nullable]);
  assert.deepEqual(types, [
    ['query', 'Utf8', true],
    ['calls', 'Float64', true],
    ['blocked', 'Bool', true],
    ['last_vacuum', 'Timestamp<NANOSECOND>', true],
  ]);
  assert.equal(table.getChild('query')!.get(1), null);
  assert.equal(table.getChild('query')!.get(2), 'SELECT $1');
  assert.equal(table.getChild('blocked')!.get(0), true);
  assert.equal(table.getChild('blocked')!.get(2), null);
  assert.equal(table.getChild('last_vacuum')!.get(1), null);
  assert.equal(table.schema.metadata.get('refId'), 'B');
});

test('string column without nulls is non-nullable Utf8; frame refId wins over the argument', () => {
  const table = tableFromIPC(
    frameToArrow({ refId: 'Z', fields: [{ name: 's', type: 'string', values: ['a', 'b'] }] }, 'A')
  );
  assert.equal(table.schema.fields[0].type.toString(), 'Utf8');
  assert.equal(table.schema.fields[0].nullable, false);
  assert.equal(table.schema.metadata.get('refId'), 'Z');
});

test('a frame with no fields (no data) encodes and decodes', () => {
  const table = tableFromIPC(frameToArrow({ name: 'empty', fields: [] }, 'C'));
  assert.equal(table.schema.fields.length, 0);
  assert.equal(table.numRows, 0);
  assert.equal(table.schema.metadata.get('refId'), 'C');
  assert.equal(table.schema.metadata.has('meta'), false);
});

test('zero-row typed fields encode', () => {
  const table = tableFromIPC(
    frameToArrow({
      fields: [
        { name: 'time', type: 'time', values: [] },
        { name: 'v', type: 'number', values: [] },
      ],
    })
  );
  assert.equal(table.numRows, 0);
  assert.equal(table.schema.fields[0].type.toString(), 'Timestamp<NANOSECOND>');
});

test('fields of different lengths are refused with a message naming them', () => {
  assert.throws(
    () =>
      frameToArrow({
        name: 'bad',
        fields: [
          { name: 'a', type: 'number', values: [1] },
          { name: 'b', type: 'number', values: [] },
        ],
      }),
    (e: Error) => e instanceof FrameEncodingError && /"b" has 0 values/.test(e.message)
  );
});
