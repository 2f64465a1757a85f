/**
 * The Fleet dashboard (provisioning/dashboards/fleet.json): a Prometheus datasource variable, the
 * target variable from label_values, and PromQL that Prometheus' own parser accepts (promtool
 * check rules) and that names only families the sidecar's /metrics serves.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { metrics as catalogMetrics, findMetric } from '../../../src/model/catalog';
import { promDerivedMetric } from '../../../src/model/catalog/prometheus';
import { fleetRows } from '../../../src/dashboards/boards/fleet';
import { assemble } from '../../../src/sidecar/feature';
import { sidecarFeatures } from '../../../src/sidecar/features';
import { columnFamily, metricFamily } from '../../../src/sidecar/prom/exposition';
import { SelfMetrics } from '../../../src/sidecar/self-metrics';
import { committedDashboards, panelsOf } from './helpers';

const board = committedDashboards().find((b) => b.json.uid === 'pgpulse-fleet')!.json;
const panels = panelsOf(board).filter((p) => p.type !== 'row');
const exprs = panels.flatMap((p) =>
  (p.targets ?? []).map((t: any) => ({ title: p.title as string, expr: t.expr as string, ds: t.datasource }))
);

/** Every family name /metrics can serve, with a histogram's _bucket/_sum/_count series. */
async function servedFamilies(): Promise<Set<string>> {
  const names = new Set<string>(['pgpulse_metrics_rows_omitted']);
  for (const c of assemble(sidecarFeatures).collectors) {
    for (const f of c.shape?.counters ?? []) {
      names.add(columnFamily(c.id, f, true).name);
    }
    for (const f of c.shape?.gauges ?? []) {
      names.add(columnFamily(c.id, f, false).name);
    }
  }
  for (const m of catalogMetrics.filter(promDerivedMetric)) {
    names.add(metricFamily(m.id, m.unit).name);
  }
  for (const m of await new SelfMetrics().registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') {
      for (const s of ['_bucket', '_sum', '_count']) {
        names.add(m.name + s);
      }
    }
  }
  return names;
}

describe('Fleet dashboard', () => {
  it('has a Prometheus datasource variable and a target variable from label_values on it', () => {
    const vars = Object.fromEntries((board.templating?.list ?? []).map((v: any) => [v.name, v]));
    assert.equal(vars.prometheus?.type, 'datasource');
    assert.equal(vars.prometheus.query, 'prometheus');
    assert.equal(vars.target?.type, 'query');
    assert.deepEqual(vars.target.datasource, { type: 'prometheus', uid: '${prometheus}' });
    assert.equal(vars.target.query.query, 'label_values(pgpulse_target_up, target)');
    assert.equal(vars.target.includeAll, true);
    assert.equal(vars.target.allValue, '.*');
    assert.equal(
      vars.datasource,
      undefined,
      'no `datasource` variable: pgpulse dashboard links carry var-datasource=<pgpulse uid>'
    );
    assert.ok(board.tags.includes('pgpulse'), "listed by the pgpulse dashboards' link");
  });

  it('every panel queries the Prometheus variable, narrowed to $target wherever a target label exists', () => {
    assert.ok(exprs.length >= 15);
    for (const { title, expr, ds } of exprs) {
      assert.deepEqual(ds, { type: 'prometheus', uid: '${prometheus}' }, title);
      const perProcess = /^(count\(count by \(instance\) \()?pgpulse_process_/.test(expr);
      if (!perProcess) {
        for (const sel of expr.match(/pgpulse_\w+(\{[^}]*\})?/g) ?? []) {
          assert.match(sel, /\{[^}]*target=~"\$target"/, `${title}: ${sel} follows $target`);
        }
      }
    }
  });

  it('names only families the sidecar serves on /metrics', async () => {
    const served = await servedFamilies();
    for (const { title, expr } of exprs) {
      for (const name of expr.match(/pgpulse_\w+/g) ?? []) {
        assert.ok(served.has(name), `${title}: ${name} is not on /metrics`);
      }
    }
  });

  it("every expression parses with Prometheus' own parser (promtool check rules)", () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgpulse-fleet-'));
    try {
      const rules = exprs.map((e, i) => ({
        record: `pgpulse:fleet_check_${i}`,
        expr: e.expr.replace(/\$__rate_interval/g, '1m').replace(/\$target/g, '.*'),
      }));
      const file = join(dir, 'fleet-rules.yaml');
      writeFileSync(file, stringify({ groups: [{ name: 'fleet', rules }] }));
      const r = spawnSync('/usr/bin/promtool', ['check', 'rules', file], { encoding: 'utf8' });
      assert.equal(r.error, undefined, 'promtool runs (apt-get install prometheus ships it)');
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      assert.match(r.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('panel descriptions open with the catalog text of the metric they mirror and end with their PromQL', () => {
    const mirrored = fleetRows.flatMap((r) => r.panels);
    for (const p of panels) {
      const spec = mirrored.find((s) => s.title === p.title);
      assert.ok(spec, p.title);
      if (spec.metric) {
        assert.ok(p.description.startsWith(findMetric(spec.metric)!.description), p.title);
      }
      assert.ok(p.description.endsWith(`PromQL: ${spec.expr}`), p.title);
      assert.match(p.description, /Window: /);
    }
  });

  it('panel ids are unique and panels do not overlap on the grid', () => {
    const all = panelsOf(board);
    assert.equal(new Set(all.map((p) => p.id)).size, all.length);
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) {
        const a = all[i].gridPos;
        const c = all[j].gridPos;
        assert.ok(
          !(a.x < c.x + c.w && c.x < a.x + a.w && a.y < c.y + c.h && c.y < a.y + a.h),
          `"${all[i].title}" and "${all[j].title}" overlap`
        );
      }
      assert.ok(all[i].gridPos.x + all[i].gridPos.w <= 24);
    }
  });
});
