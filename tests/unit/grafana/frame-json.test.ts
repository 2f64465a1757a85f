import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frameToSdkJSON } from '../../../src/sidecar/grafana/frame-json';
import type { Frame } from '../../../src/model/frames';

test('every field carries the typeInfo the Go SDK needs; numbers nullable', () => {
  const frame: Frame = {
    name: 'x',
    meta: { type: 'table' },
    fields: [
      { name: 'time', type: 'time', values: [1, 2] },
      { name: 'v', type: 'number', values: [1, null], labels: { a: 'b' }, config: { unit: 'ms' } },
      { name: 's', type: 'string', values: ['a', 'b'] },
      { name: 'ok', type: 'boolean', values: [true, null] },
    ],
  };
  const j = frameToSdkJSON(frame, 'A') as any;
  assert.deepEqual(
    j.schema.fields.map((f: any) => [f.name, f.type, f.typeInfo]),
    [
      ['time', 'time', { frame: 'time.Time' }],
      ['v', 'number', { frame: 'float64', nullable: true }],
      ['s', 'string', { frame: 'string' }],
      ['ok', 'boolean', { frame: 'bool', nullable: true }],
    ]
  );
  assert.equal(j.schema.refId, 'A');
  assert.deepEqual(j.schema.fields[1].labels, { a: 'b' });
  assert.deepEqual(
    j.data.values,
    frame.fields.map((f) => f.values)
  );
  assert.equal(j.data.entities, undefined);
});

test('NaN and ±Inf travel as entities with null in the values', () => {
  const j = frameToSdkJSON({ fields: [{ name: 'v', type: 'number', values: [NaN, 1, Infinity, -Infinity] }] }) as any;
  assert.deepEqual(j.data.values, [[null, 1, null, null]]);
  assert.deepEqual(j.data.entities, [{ NaN: [0], Inf: [2], NegInf: [3] }]);
  // and the whole thing is valid JSON
  assert.deepEqual(JSON.parse(JSON.stringify(j)).data.entities, j.data.entities);
});
