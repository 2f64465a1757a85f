import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { frameToArrow } from '../../../src/sidecar/grafana/arrow';
import { classifyStatement } from '../../../src/sidecar/plans/classify';
import { grantHint, splitSearchPath } from '../../../src/sidecar/plans/explain';
import {
  describeChange,
  flattenPlan,
  nodeGraphFrames,
  planFingerprint,
  planShape,
  type PlanJson,
} from '../../../src/sidecar/plans/shape';

const seq: PlanJson = {
  'Node Type': 'Seq Scan',
  'Relation Name': 'orders',
  Alias: 'orders',
  'Startup Cost': 0,
  'Total Cost': 358,
  'Plan Rows': 20,
  'Plan Width': 9,
  Filter: '(customer_id = $1)',
};
const bitmap: PlanJson = {
  'Node Type': 'Bitmap Heap Scan',
  'Relation Name': 'orders',
  'Total Cost': 60,
  'Plan Rows': 20,
  'Recheck Cond': '(customer_id = $1)',
  Plans: [
    {
      'Node Type': 'Bitmap Index Scan',
      'Index Name': 'orders_c',
      'Parent Relationship': 'Outer',
      'Total Cost': 4.4,
      'Plan Rows': 20,
      'Index Cond': '(customer_id = $1)',
    },
  ],
};

describe('plan shape and fingerprint', () => {
  it('ignores costs, rows and widths, and sees node types, relations and indexes', () => {
    assert.equal(
      planFingerprint(seq),
      planFingerprint({ ...seq, 'Total Cost': 1, 'Plan Rows': 99999, 'Plan Width': 1 })
    );
    assert.notEqual(planFingerprint(seq), planFingerprint(bitmap));
    assert.notEqual(planFingerprint(seq), planFingerprint({ ...seq, 'Relation Name': 'other' }));
    assert.deepEqual(planShape(bitmap), ['Bitmap Heap Scan on orders', '  Bitmap Index Scan using orders_c']);
  });

  it('describes a change by relation, with the index of a bitmap scan', () => {
    assert.equal(
      describeChange(planShape(seq), planShape(bitmap)),
      'Seq Scan → Bitmap Heap Scan using orders_c on orders'
    );
    const idx: PlanJson = { 'Node Type': 'Index Scan', 'Relation Name': 'orders', 'Index Name': 'orders_c' };
    assert.equal(describeChange(planShape(seq), planShape(idx)), 'Seq Scan → Index Scan using orders_c on orders');
  });

  it('flattens pre-order with parents, and the node graph arcs sum to 1', () => {
    const nodes = flattenPlan(bitmap);
    assert.deepEqual(
      nodes.map((n) => [n.id, n.parent, n.nodeType, n.index, n.indexCond]),
      [
        [1, null, 'Bitmap Heap Scan', '', 'recheck (customer_id = $1)'],
        [2, 1, 'Bitmap Index Scan', 'orders_c', '(customer_id = $1)'],
      ]
    );
    const [n, e] = nodeGraphFrames(nodes, 'A');
    const f = (name: string) => n.fields.find((x) => x.name === name)!.values as number[];
    assert.ok(Math.abs(f('arc__self')[0] - (60 - 4.4) / 60) < 1e-9);
    f('arc__self').forEach((v, i) => assert.ok(Math.abs(v + f('arc__children')[i] - 1) < 1e-9));
    assert.deepEqual(e.fields.map((x) => [x.name, x.values]).slice(0, 3), [
      ['id', ['1-2']],
      ['source', ['1']],
      ['target', ['2']],
    ]);
  });
});

describe('node graph frames over the plugin protocol', () => {
  it("encode to Arrow with the node graph field names, the arcs' colours and the frame meta Grafana reads", () => {
    for (const f of nodeGraphFrames(flattenPlan(bitmap), 'A')) {
      const t = tableFromIPC(frameToArrow(f, 'A'));
      assert.deepEqual(
        t.schema.fields.map((x) => x.name),
        f.fields.map((x) => x.name)
      );
      assert.equal(t.numRows, f.fields[0].values.length);
      assert.match(t.schema.metadata.get('meta') ?? '', /"preferredVisualisationType":"nodeGraph"/);
      const arc = t.schema.fields.find((x) => x.name === 'arc__self');
      if (arc) {
        assert.deepEqual(JSON.parse(arc.metadata.get('config') ?? '{}').color, { mode: 'fixed', fixedColor: 'orange' });
      }
    }
  });
});

describe('which statements are explained', () => {
  it('SELECT-like statements with their parameter count', async () => {
    assert.deepEqual(await classifyStatement('SELECT a FROM t WHERE id = $1 LIMIT $2'), {
      ok: true,
      params: 2,
      locking: false,
      functions: [],
    });
    assert.deepEqual(await classifyStatement('VALUES ($1)'), { ok: true, params: 1, locking: false, functions: [] });
    assert.deepEqual(await classifyStatement('SELECT * FROM t FOR UPDATE'), {
      ok: true,
      params: 0,
      locking: true,
      functions: [],
    });
    assert.deepEqual(await classifyStatement('SELECT s.f(a), lower(b), count(*) FROM t WHERE g() > $1'), {
      ok: true,
      params: 1,
      locking: false,
      functions: ['count', 'f', 'g', 'lower'],
    });
  });

  it('refuses writes, DDL, utility and hidden writes', async () => {
    for (const [sql, kind] of [
      ['UPDATE t SET a = $1', 'UPDATE'],
      ['INSERT INTO t VALUES ($1)', 'INSERT'],
      ['DELETE FROM t', 'DELETE'],
      ['CREATE TABLE x (a int)', 'CREATE'],
      ['VACUUM t', 'VACUUM'],
      ['WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', 'WITH … DELETE'],
      ['SELECT * INTO z FROM t', 'SELECT INTO'],
      ['SELECT 1; SELECT 2', 'multiple'],
    ]) {
      const c = await classifyStatement(sql);
      assert.equal(c.ok, false, sql);
      assert.equal(!c.ok && c.kind, kind, sql);
    }
  });
});

describe('search path and grants', () => {
  it('splits a search_path value like PostgreSQL', () => {
    assert.deepEqual(splitSearchPath('"$user", public'), ['$user', 'public']);
    assert.deepEqual(splitSearchPath('App, "My ""S"""'), ['app', 'My "S"']);
  });
  it('names the GRANT for a permission error', () => {
    assert.equal(grantHint('permission denied for schema pl', 'mon'), 'GRANT USAGE ON SCHEMA pl TO "mon"');
    assert.match(grantHint('permission denied for table secret', 'mon'), /^GRANT SELECT ON secret TO "mon"/);
  });
});
