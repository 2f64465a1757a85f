/**
 * The Load board as provisioned: load stacked by wait event type against a vCPU line that is not
 * stacked, a wait event click that drills down to the statements waiting on it, and the
 * load-above-vCPUs rule linking to the graph of its metric.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alertRules, committedDashboards, panelsOf } from './helpers';

const board = committedDashboards().find((b) => b.json.uid === 'pgpulse-load')?.json;

describe('Load dashboard', () => {
  it('draws the load stacked by wait event type with the vCPUs as an unstacked dashed line', () => {
    assert.ok(board, 'provisioning/dashboards/load.json');
    const p = panelsOf(board).find(
      (x) =>
        (x.targets ?? []).some((t: any) => t.metric === 'db_load') &&
        (x.targets ?? []).some((t: any) => t.metric === 'db_load_vcpus')
    );
    assert.ok(p, 'one panel with db_load and db_load_vcpus');
    assert.equal(p.type, 'timeseries');
    assert.equal(p.fieldConfig.defaults.custom.stacking.mode, 'normal');
    const o = p.fieldConfig.overrides.find((x: any) => x.matcher.id === 'byName' && x.matcher.options === 'vCPUs');
    assert.ok(o, 'an override for the vCPUs series (its legend is "vCPUs")');
    const prop = (id: string) => o.properties.find((x: any) => x.id === id)?.value;
    assert.equal(prop('custom.stacking').mode, 'none');
    assert.equal(prop('custom.lineStyle').fill, 'dash');
  });

  it('a wait event click sets $wait_event to type/event, which the statements table and the per-client graphs follow', () => {
    const panels = panelsOf(board);
    const events = panels.find((x) => x.targets?.[0]?.metric === 'db_load_wait_events');
    const link = events.fieldConfig.overrides.find((x: any) => x.matcher.options === 'wait_event').properties[0]
      .value[0].url as string;
    assert.match(link, /var-wait_event=\$\{__data\.fields\.wait_event_type\}\/\$\{__data\.fields\.wait_event\}/);
    assert.match(link, /^\/d\/pgpulse-load\?/);
    for (const metric of ['db_load_statements', 'db_load_by_database', 'db_load_by_user', 'db_load_by_application']) {
      const p = panels.find((x) => x.targets?.[0]?.metric === metric);
      assert.equal(p?.targets[0].waitEvent, '$wait_event', metric);
    }
    const v = board.templating.list.find((x: any) => x.name === 'wait_event');
    assert.equal(v?.type, 'textbox');
  });

  it('the load-above-vCPUs rule watches db_load_vcpu_ratio above 1 for 15 minutes and links to its graph', () => {
    const r = alertRules().find((x) => x.uid === 'pgpulse-load-above-vcpus');
    assert.ok(r);
    assert.equal(r.for, '15m');
    assert.equal(r.data.find((d: any) => d.model?.metric).model.metric, 'db_load_vcpu_ratio');
    const threshold = r.data.find((d: any) => d.refId === r.condition).model;
    assert.equal(threshold.conditions[0].evaluator.params[0], 1);
    assert.equal(r.dashboardUid, 'pgpulse-load');
    assert.ok(r.annotations.runbook.includes('pgpulse / Load'));
  });
});
