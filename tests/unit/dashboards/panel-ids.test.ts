import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assignPanelIds, type IdPanel } from '../../../src/dashboards/board';
import { committedDashboards, readYaml } from './helpers';

const strip = (panels: IdPanel[]): IdPanel[] =>
  panels.map((p) => ({ ...p, id: undefined, panels: p.panels ? strip(p.panels) : undefined }));
const idsOf = (panels: IdPanel[]): number[] => panels.flatMap((p) => [p.id as number, ...idsOf(p.panels ?? [])]);

test('panel ids come from what a panel shows: a panel added anywhere changes no other id', () => {
  for (const { file, json } of committedDashboards()) {
    const panels = strip(json.panels as IdPanel[]);
    assignPanelIds(panels);
    assert.deepEqual(idsOf(panels), idsOf(json.panels), `${file}: the committed ids are the derived ones`);
    const added = [
      { type: 'timeseries', title: 'New', targets: [{ metric: 'a_new_metric' }] },
      ...strip(json.panels as IdPanel[]),
    ];
    assignPanelIds(added);
    assert.deepEqual(idsOf(added).slice(1), idsOf(json.panels), `${file}: a new first panel renumbers nothing`);
    assert.ok(!idsOf(json.panels).includes(added[0].id as number));
  }
});

test("alert rules' panelId names a panel of their dashboard that shows the rule's metric", () => {
  const byUid = new Map(committedDashboards().map((d) => [d.json.uid as string, d.json]));
  const rules = readYaml('provisioning/alerting/rules.yaml').groups.flatMap((g: any) => g.rules);
  let linked = 0;
  for (const r of rules) {
    const panelId = r.annotations?.__panelId__ ?? r.panelId;
    if (panelId === undefined) {
      continue;
    }
    const dash = byUid.get(r.annotations?.__dashboardUid__ ?? r.dashboardUid);
    const all: IdPanel[] = (dash?.panels ?? []).flatMap((p: IdPanel) => [p, ...(p.panels ?? [])]);
    const panel = all.find((p) => p.id === Number(panelId));
    assert.ok(panel, `rule ${r.title}: no panel ${panelId}`);
    const metrics = r.data.map((d: any) => d.model?.metric).filter(Boolean);
    assert.ok(
      panel.targets?.some((t) => metrics.includes(t.metric)),
      `rule ${r.title}: panel ${panel.title} does not show ${metrics.join(', ')}`
    );
    linked++;
  }
  assert.ok(linked > 0, 'some rules link to a panel');
});
