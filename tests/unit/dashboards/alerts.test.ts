/**
 * The alert provisioning YAML has every field Grafana's file provisioning requires, its
 * expressions only reference refIds it defines, and its queries ask the catalog for alertable
 * metrics with options they take.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findMetric } from '../../../src/model/catalog';
import { queryOptionsSchema, describeQueryError } from '../../../src/model/query';
import { alertRules, committedDashboards, panelsOf, readRepoFile, readYaml } from './helpers';

const DS_UID = readYaml('provisioning/datasources/pgpulse.yaml').datasources[0].uid as string;
const durationRe = /^(\d+(ms|s|m|h|d|w|y))+$/;
const states = { noData: ['OK', 'NoData', 'Alerting', 'KeepLast'], execErr: ['OK', 'Error', 'Alerting', 'KeepLast'] };

/** refIds an expression model reads from. */
function referencedRefIds(model: any): string[] {
  switch (model.type) {
    case 'reduce':
    case 'threshold':
    case 'resample':
      return [String(model.expression)];
    case 'math':
      return [...String(model.expression).matchAll(/\$\{?([A-Za-z_]\w*)\}?/g)].map((m) => m[1]);
    case 'classic_conditions':
      return (model.conditions ?? []).map((c: any) => c.query?.params?.[0]).filter(Boolean);
    default:
      throw new Error(`unknown expression type ${model.type}`);
  }
}

describe('alert rules (provisioning/alerting/rules.yaml)', () => {
  const file = readYaml('provisioning/alerting/rules.yaml');
  const rules = alertRules();

  it('groups have orgId, name, folder and an interval', () => {
    assert.equal(file.apiVersion, 1);
    for (const g of file.groups) {
      assert.equal(typeof g.orgId, 'number');
      assert.ok(g.name && g.folder, 'name and folder');
      assert.match(g.interval, durationRe);
    }
  });

  it('cover the rules the issue asks for', () => {
    const metricsUsed = new Set(rules.map((r) => r.data.find((d: any) => d.datasourceUid === DS_UID).model.metric));
    for (const m of [
      'cache_hit_ratio',
      'slow_statements',
      'longest_query_seconds',
      'blocked_queries',
      'connection_utilization',
      'sampler_staleness',
      'deadlocks',
      'wraparound_limit_ratio',
      'inactive_slot_retained_wal',
      'standby_replay_lag_seconds',
      'idle_in_transaction_age',
      'oldest_transaction_age',
      'sequence_used_ratio',
      'db_load_vcpu_ratio',
    ]) {
      assert.ok(metricsUsed.has(m), `a rule on ${m}`);
    }
    if (findMetric('vector_recall')?.alertable) {
      assert.ok(metricsUsed.has('vector_recall'), 'a vector recall rule');
    }
    if (findMetric('vector_probe_latency')?.alertable) {
      assert.ok(metricsUsed.has('vector_probe_latency'), 'a vector latency rule');
    }
  });

  it('every rule has the fields Grafana requires', () => {
    const uids = new Set<string>();
    for (const r of rules) {
      const where = `rule ${r.uid ?? r.title}`;
      assert.match(r.uid, /^[a-zA-Z0-9_-]{1,40}$/, `${where}: uid (≤ 40 chars of letters, digits, - and _)`);
      assert.ok(!uids.has(r.uid), `${where}: duplicate uid`);
      uids.add(r.uid);
      assert.ok(typeof r.title === 'string' && r.title.length > 0, `${where}: title`);
      assert.ok(typeof r.condition === 'string' && r.condition.length > 0, `${where}: condition`);
      assert.ok(Array.isArray(r.data) && r.data.length > 0, `${where}: data`);
      for (const d of r.data) {
        assert.ok(d.refId, `${where}: data refId`);
        assert.equal(typeof d.relativeTimeRange?.from, 'number', `${where} ${d.refId}: relativeTimeRange.from`);
        assert.equal(typeof d.relativeTimeRange?.to, 'number', `${where} ${d.refId}: relativeTimeRange.to`);
        assert.ok(
          d.relativeTimeRange.from > d.relativeTimeRange.to || d.datasourceUid === '__expr__',
          `${where} ${d.refId}: a non-empty range`
        );
        assert.ok(d.datasourceUid, `${where} ${d.refId}: datasourceUid`);
        assert.equal(typeof d.model, 'object', `${where} ${d.refId}: model`);
        assert.equal(d.model.refId, d.refId, `${where} ${d.refId}: model.refId matches`);
      }
      assert.match(r.for, durationRe, `${where}: for`);
      assert.ok(states.noData.includes(r.noDataState), `${where}: noDataState`);
      assert.ok(states.execErr.includes(r.execErrState), `${where}: execErrState`);
      for (const k of ['summary', 'description', 'runbook']) {
        assert.ok(typeof r.annotations?.[k] === 'string' && r.annotations[k].length > 20, `${where}: annotation ${k}`);
      }
      assert.ok(['warning', 'critical'].includes(r.labels?.severity), `${where}: severity label`);
      // labels are env-interpolated by Grafana's file provisioning: a $ would be eaten
      for (const v of Object.values(r.labels)) {
        assert.ok(!String(v).includes('$'), `${where}: label value with $`);
      }
    }
  });

  it('the condition and every expression reference only refIds the rule defines, without cycles', () => {
    for (const r of rules) {
      const defined = new Set(r.data.map((d: any) => d.refId));
      assert.equal(defined.size, r.data.length, `rule ${r.uid}: refIds unique`);
      assert.ok(defined.has(r.condition), `rule ${r.uid}: condition ${r.condition} is defined`);
      const seen = new Set<string>();
      for (const d of r.data) {
        if (d.datasourceUid !== '__expr__') {
          seen.add(d.refId);
          continue;
        }
        assert.equal(d.model.datasource?.uid, '__expr__', `rule ${r.uid} ${d.refId}: expression datasource`);
        for (const ref of referencedRefIds(d.model)) {
          assert.ok(defined.has(ref), `rule ${r.uid} ${d.refId}: references undefined ${ref}`);
          assert.ok(seen.has(ref), `rule ${r.uid} ${d.refId}: references ${ref} defined after it`);
        }
        seen.add(d.refId);
      }
      const cond = r.data.find((d: any) => d.refId === r.condition);
      assert.equal(cond.datasourceUid, '__expr__', `rule ${r.uid}: the condition is an expression`);
      assert.equal(cond.model.type, 'threshold', `rule ${r.uid}: condition is a threshold`);
    }
  });

  it('reduce + threshold on a pgpulse query: the query is a catalog alertable metric with options it takes', () => {
    for (const r of rules) {
      const queries = r.data.filter((d: any) => d.datasourceUid !== '__expr__');
      assert.equal(queries.length, 1, `rule ${r.uid}: one pgpulse query`);
      const q = queries[0];
      assert.equal(q.datasourceUid, DS_UID, `rule ${r.uid}: queries the provisioned datasource`);
      const def = findMetric(q.model.metric);
      assert.ok(def, `rule ${r.uid}: metric ${q.model.metric} in catalog`);
      assert.ok(def.alertable && def.kind !== 'table', `rule ${r.uid}: ${def.id} is alertable`);
      for (const key of Object.keys(q.model)) {
        if (['refId', 'datasource', 'metric', 'intervalMs', 'maxDataPoints'].includes(key)) {
          continue;
        }
        assert.ok((def.options as string[]).includes(key), `rule ${r.uid}: ${def.id} does not take ${key}`);
      }
      const { datasource: _ds, intervalMs: _i, maxDataPoints: _m, ...opts } = q.model;
      const parsed = queryOptionsSchema.safeParse(opts);
      assert.ok(parsed.success, `rule ${r.uid}: ${parsed.success ? '' : describeQueryError(parsed.error)}`);
      assert.ok(!JSON.stringify(q.model).includes('$'), `rule ${r.uid}: alert queries cannot use dashboard variables`);
      const types = r.data.filter((d: any) => d.datasourceUid === '__expr__').map((d: any) => d.model.type);
      assert.deepEqual(types, ['reduce', 'threshold'], `rule ${r.uid}: reduce then threshold`);
      const reduce = r.data.find((d: any) => d.model.type === 'reduce');
      assert.equal(reduce.model.settings?.mode, 'dropNN', `rule ${r.uid}: gaps are dropped, not zeros`);
    }
  });

  it('link to a panel that shows the same metric', () => {
    const boards = Object.fromEntries(committedDashboards().map((b) => [b.json.uid, b.json]));
    for (const r of rules) {
      assert.ok(r.dashboardUid && boards[r.dashboardUid], `rule ${r.uid}: dashboardUid`);
      const panel = panelsOf(boards[r.dashboardUid]).find((p) => p.id === r.panelId);
      const metric = r.data.find((d: any) => d.datasourceUid === DS_UID).model.metric;
      assert.ok(
        panel?.targets?.some((t: any) => t.metric === metric),
        `rule ${r.uid}: panel ${r.panelId} shows ${metric}`
      );
    }
  });

  it('the sampler rule alerts when pgpulse cannot answer; workload rules stay quiet on no data; optional-extension rules never page on errors', () => {
    for (const r of rules) {
      const metric = r.data.find((d: any) => d.datasourceUid === DS_UID).model.metric;
      if (metric === 'sampler_staleness') {
        assert.equal(r.noDataState, 'Alerting');
        assert.equal(r.execErrState, 'Alerting');
      } else if (findMetric(metric)?.requires?.some((x) => x !== 'pg_stat_statements')) {
        // an optional extension: targets without it answer with an error by design
        assert.equal(r.noDataState, 'OK', `rule ${r.uid}`);
        assert.equal(
          r.execErrState,
          'OK',
          `rule ${r.uid}: targets without ${findMetric(metric)?.requires} must not page`
        );
      } else {
        assert.equal(r.noDataState, 'OK', `rule ${r.uid}: an idle / scaled-to-zero database is not an incident`);
        assert.equal(r.execErrState, 'Error', `rule ${r.uid}`);
      }
    }
  });

  it('alert-queries.json (for the Go conformance harness) matches the rules', () => {
    const qf = JSON.parse(readRepoFile('provisioning/alert-queries.json'));
    assert.equal(qf.queries.length, rules.length);
    for (const r of rules) {
      const entry = qf.queries.find((q: any) => q.rule === r.uid);
      assert.ok(entry, `alert-queries.json has ${r.uid}`);
      const a = r.data.find((d: any) => d.datasourceUid === DS_UID);
      const { datasource: _ds, intervalMs, maxDataPoints: _m, ...query } = a.model;
      assert.deepEqual(entry.query, query);
      assert.deepEqual(entry.relativeTimeRange, a.relativeTimeRange);
      assert.equal(entry.intervalMs, intervalMs);
    }
  });
});

describe('contact point and notification policy (provisioning/alerting/notifications.yaml)', () => {
  const f = readYaml('provisioning/alerting/notifications.yaml');

  it('a webhook contact point whose URL comes from PGPULSE_ALERT_WEBHOOK_URL', () => {
    assert.equal(f.apiVersion, 1);
    const cp = f.contactPoints[0];
    assert.equal(cp.orgId, 1);
    const recv = cp.receivers[0];
    assert.equal(recv.type, 'webhook');
    assert.ok(recv.uid);
    assert.equal(recv.settings.url, '$PGPULSE_ALERT_WEBHOOK_URL');
  });

  it('the root policy routes to that contact point', () => {
    const p = f.policies[0];
    assert.equal(p.orgId, 1);
    assert.equal(p.receiver, f.contactPoints[0].name);
    assert.ok(p.group_by.includes('alertname'));
  });
});
