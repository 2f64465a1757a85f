import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metrics, type MetricDef } from '../../../src/model/catalog';
import { validateCatalog } from '../../../src/sidecar/catalog-check';
import { assemble } from '../../../src/sidecar/feature';
import { sidecarFeatures } from '../../../src/sidecar/features';

const parts = assemble(sidecarFeatures);

test('every catalog metric names fields, labels and handlers its collector really has', () => {
  assert.deepEqual(validateCatalog(parts), []);
});

test('a misspelt compute field fails the check, naming the metric and the field', () => {
  const tps = metrics.find((m) => m.id === 'tps') as MetricDef;
  const typo: MetricDef = {
    ...tps,
    compute: { op: 'rate', collector: 'database', fields: [{ field: 'xact_comit', name: 'commits' }], by: ['datname'] },
  };
  const problems = validateCatalog(parts, [typo]);
  assert.equal(problems.length, 1);
  assert.match(problems[0], /metric tps .*no counter "xact_comit"/);
});

test('a rate over a gauge, a group-by on a non-key label, an unknown handler and an unknown collector all fail', () => {
  const base = metrics.find((m) => m.id === 'tps') as MetricDef;
  const bad: MetricDef[] = [
    {
      ...base,
      id: 'g',
      compute: { op: 'rate', collector: 'database', fields: [{ field: 'numbackends', name: 'x' }], by: [] },
    },
    {
      ...base,
      id: 'b',
      compute: { op: 'rate', collector: 'database', fields: [{ field: 'xact_commit', name: 'x' }], by: ['relname'] },
    },
    { ...base, id: 'h', compute: { op: 'custom', handler: 'no_such_handler', collector: 'server' } },
    {
      ...base,
      id: 'c',
      compute: {
        op: 'gauge',
        collector: 'nope' as 'server',
        fields: [{ field: 'x', name: 'x' }],
        by: [],
        rowAgg: 'sum',
        stepAgg: 'last',
      },
    },
  ];
  const problems = validateCatalog(parts, bad);
  assert.equal(problems.length, 4, problems.join('\n'));
  assert.match(problems[0], /metric g .*"numbackends" .* is a gauge/);
  assert.match(problems[1], /metric b .*cannot group by "relname"/);
  assert.match(problems[2], /metric h .*handler "no_such_handler" is not registered/);
  assert.match(problems[3], /metric c .*collector "nope" does not exist/);
});

test('an option listed twice, or used by a variant without being listed, fails naming the metric and the option', () => {
  const base =
    metrics.find((m) => m.id === 'cache_hit_ratio' && m.variants?.length) ??
    (metrics.find((m) => m.variants?.length) as MetricDef);
  const v = base.variants![0].when;
  const problems = validateCatalog(parts, [
    { ...base, id: 'twice', options: [...base.options, base.options[0]] },
    { ...base, id: 'unlisted', options: base.options.filter((o) => o !== v) },
  ]);
  assert.equal(problems.length, 2, problems.join('\n'));
  assert.match(problems[0], new RegExp(`metric twice: option ${base.options[0]} listed more than once`));
  assert.match(problems[1], new RegExp(`metric unlisted: uses option ${v} .* does not list it`));
});

test('a metric using an option the vocabulary does not declare fails, naming the metric and the option', () => {
  const base = metrics.find((m) => m.id === 'top_queries') as MetricDef;
  assert.ok(base.defaults && base.orderBy?.length, 'top_queries has defaults and orderBy choices');
  const problems = validateCatalog(parts, [
    // a misspelt option (topn for topN), and target, which every query takes
    { ...base, id: 'typo', options: [...base.options, 'topn' as never] },
    { ...base, id: 'target', options: [...base.options, 'target' as never] },
    // a default for an option it does not take, and an orderBy value nobody declared
    { ...base, id: 'default', options: base.options.filter((o) => o !== 'minCalls'), defaults: { minCalls: 3 } },
    { ...base, id: 'order', orderBy: [...base.orderBy!, 'speed' as never] },
  ]);
  assert.equal(problems.length, 4, problems.join('\n'));
  assert.match(
    problems[0],
    /metric typo: option "topn" is not declared in model\/options\.ts \(declared: database, .*topN/
  );
  assert.match(problems[1], /metric target: option "target" is taken by every query/);
  assert.match(problems[2], /metric default: uses option minCalls \(has a default\) but does not list it/);
  assert.match(problems[3], /metric order: orderBy "speed" is not declared/);
});
