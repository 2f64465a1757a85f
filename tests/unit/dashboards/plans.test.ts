/**
 * The plan panels on the committed Queries dashboard: the nodes table and the node graph follow
 * $queryid, and every queryid cell of a statements table links to that dashboard with the queryid
 * set (the data link from Top queries to the plan).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { committedDashboards, panelsOf } from './helpers';

const queries = committedDashboards().find((d) => d.file.endsWith('/queries.json'))!.json;
const panels = panelsOf(queries);

describe('plan panels on the Queries dashboard', () => {
  it('a table of plan nodes and a Node graph panel, both for $queryid', () => {
    const table = panels.find((p) => p.targets?.[0]?.metric === 'query_plan');
    const graph = panels.find((p) => p.targets?.[0]?.metric === 'query_plan_graph');
    assert.equal(table?.type, 'table');
    assert.equal(graph?.type, 'nodeGraph');
    for (const p of [table, graph]) {
      assert.equal(p.targets[0].queryid, '$queryid');
      assert.equal(p.targets[0].target, '$target');
    }
    assert.ok(
      queries.templating.list.some((v: { name: string }) => v.name === 'queryid'),
      'the dashboard has the queryid variable'
    );
  });

  it('queryid cells of the Top queries tables link to this dashboard with var-queryid', () => {
    const tops = panels.filter((p) => p.targets?.[0]?.metric === 'top_queries');
    assert.ok(tops.length > 0);
    for (const p of tops) {
      const link = p.fieldConfig.overrides
        .find((o: any) => o.matcher.options === 'queryid')
        ?.properties.find((x: any) => x.id === 'links')?.value[0];
      assert.ok(link, `${p.title}: queryid link`);
      assert.match(link.url, new RegExp(`^/d/${queries.uid}\\?var-queryid=\\$\\{__value\\.raw\\}`));
      assert.match(link.title, /plan/);
    }
  });
});
