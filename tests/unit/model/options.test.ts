/**
 * The one query-option vocabulary (src/model/options.ts) and everything that derives from it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { metrics, publicCatalog } from '../../../src/model/catalog';
import {
  allMeansUnfilteredKeys,
  dependentsOf,
  filterLabels,
  numberLimits,
  optionKeys,
  queryOptionDecls,
  queryOptionNames,
  templatedOptionKeys,
  type OptionDecl,
} from '../../../src/model/options';
import { queryOptionsSchema, unknownQueryKeys } from '../../../src/model/query';
import { optionProblems } from '../../../src/sidecar/catalog-check';

const decls = queryOptionDecls as Record<string, OptionDecl>;

test('every option a catalog metric uses is declared in the vocabulary', () => {
  const problems = metrics.flatMap((m) => optionProblems(m));
  assert.deepEqual(problems, []);
  // and the check does look: a metric with an undeclared option is reported
  const m = metrics[0];
  assert.match(
    optionProblems({ ...m, options: [...m.options, 'tablename' as never] }).join('\n'),
    /"tablename" is not declared/
  );
});

test('the query model takes exactly the declared options, with their limits', () => {
  const shape = Object.keys(queryOptionsSchema.shape);
  assert.deepEqual(
    shape.filter((k) => k !== 'metric' && k !== 'schemaVersion'),
    queryOptionNames
  );
  assert.equal(queryOptionsSchema.safeParse({ metric: 'top_queries', topN: 5000 }).success, false);
  assert.equal(queryOptionsSchema.safeParse({ metric: 'top_queries', orderBy: 'speed' }).success, false);
  assert.equal(queryOptionsSchema.safeParse({ metric: 'top_queries', topN: 5, orderBy: 'calls' }).success, true);
  assert.deepEqual(unknownQueryKeys({ metric: 'x', topn: 5, database: 'a' }), [{ key: 'topn', suggestion: 'topN' }]);
});

test('dependents name declared options, and a filter never depends on a narrower one', () => {
  for (const name of queryOptionNames) {
    for (const d of dependentsOf(name)) {
      assert.ok(decls[d], `${name} lists dependent ${d}, which is not declared`);
      assert.ok(!dependentsOf(d).includes(name), `${name} and ${d} clear each other`);
      assert.ok(
        queryOptionNames.indexOf(d) > queryOptionNames.indexOf(name),
        `${d} depends on ${name} but comes before it in the editor`
      );
    }
  }
  assert.deepEqual(dependentsOf('table'), ['index']);
});

test('templated and All-means-unfiltered options are strings; filters carry a collector label', () => {
  for (const name of templatedOptionKeys) {
    // a template variable is text until Grafana replaces it: a number option could not hold "$x"
    assert.ok(decls[name].schema.safeParse('x').success || name === 'queryid', `${name} is templated but not a string`);
  }
  for (const name of allMeansUnfilteredKeys) {
    assert.ok(
      templatedOptionKeys.includes(name),
      `${name}: All comes from a template variable, so it must be templated`
    );
  }
  assert.deepEqual(Object.keys(filterLabels), ['database', 'schema', 'table', 'index', 'queryid']);
  assert.ok(!(optionKeys as string[]).includes('target'), 'target is taken by every query, not listed per metric');
});

test('the public catalog describes every option with the vocabulary’s words', () => {
  const cat = publicCatalog();
  assert.deepEqual(
    cat.options.map((o) => o.name),
    queryOptionNames
  );
  for (const o of cat.options) {
    assert.equal(o.description, decls[o.name].description);
    assert.ok(o.description.length > 10 && o.label.length > 0, o.name);
  }
});

test('the limits of a number option are read from its schema (the editor’s min, max and step)', () => {
  assert.deepEqual(numberLimits('topN'), { min: 1, max: 1000, step: 1 });
  assert.deepEqual(numberLimits('threshold'), { min: 0, max: 86_400_000 });
  assert.deepEqual(numberLimits('legend'), {});
});
