/**
 * The catalog on /metrics: names and units from the catalog's rules, interval ratios, the
 * cardinality cut, and an exposition that Prometheus' own parser (promtool) accepts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { metrics as catalogMetrics } from '../../../src/model/catalog';
import { promDerivedMetric } from '../../../src/model/catalog/prometheus';
import { assemble } from '../../../src/sidecar/feature';
import { sidecarFeatures } from '../../../src/sidecar/features';
import { PromExposition, columnFamily, metricFamily } from '../../../src/sidecar/prom/exposition';
import { LatestSamples, intervalRatio } from '../../../src/sidecar/prom/latest';
import { SelfMetrics } from '../../../src/sidecar/self-metrics';
import type { SampleRow } from '../../../src/sidecar/store/types';

const PROMTOOL = '/usr/bin/promtool';

/** promtool's verdict: parse errors fail with 1, lint findings with 3 (one line each on stdout/stderr). */
function promtool(text: string): { status: number | null; problems: string[] } {
  assert.ok(
    existsSync(PROMTOOL),
    `${PROMTOOL} is missing: apt-get install prometheus (Debian's package ships promtool)`
  );
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, problems: `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '') };
}

test('column names become Prometheus names with base units, counters end in _total', () => {
  assert.deepEqual(columnFamily('database', 'xact_commit', true), {
    name: 'pgpulse_database_xact_commit_total',
    scale: 1,
  });
  assert.deepEqual(columnFamily('statements', 'total_exec_time', true), {
    name: 'pgpulse_statements_total_exec_time_seconds_total',
    scale: 1 / 1000,
  });
  assert.deepEqual(columnFamily('tables', 'last_autovacuum_ms', false), {
    name: 'pgpulse_tables_last_autovacuum_timestamp_seconds',
    scale: 1 / 1000,
  });
  assert.deepEqual(columnFamily('server', 'postmaster_start_ms', false), {
    name: 'pgpulse_server_postmaster_start_timestamp_seconds',
    scale: 1 / 1000,
  });
  assert.deepEqual(columnFamily('neon_activity', 'active_time_user_dbs_ms', false), {
    name: 'pgpulse_neon_activity_active_time_user_dbs_seconds',
    scale: 1 / 1000,
  });
  assert.deepEqual(columnFamily('activity', 'longest_query_s', false), {
    name: 'pgpulse_activity_longest_query_seconds',
    scale: 1,
  });
  assert.deepEqual(columnFamily('neon', 'pageserver_disconnects_total', true), {
    name: 'pgpulse_neon_pageserver_disconnects_total',
    scale: 1,
  });
  assert.deepEqual(metricFamily('cache_hit_ratio', 'percentunit'), { name: 'pgpulse_cache_hit_ratio', scale: 1 });
  assert.deepEqual(metricFamily('statement_latency', 'ms'), {
    name: 'pgpulse_statement_latency_seconds',
    scale: 1 / 1000,
  });
});

test('every family name of every collector and catalog ratio is valid, and no two columns share one', async () => {
  const names = new Map<string, string>();
  const nameRe = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  const own = new SelfMetrics();
  const ownNames = new Set((await own.registry.getMetricsAsJSON()).map((m) => m.name));
  for (const c of assemble(sidecarFeatures).collectors) {
    if (!c.shape) {
      continue;
    }
    for (const [field, counter] of [
      ...c.shape.counters.map((f) => [f, true] as const),
      ...c.shape.gauges.map((f) => [f, false] as const),
    ]) {
      const { name } = columnFamily(c.id, field, counter);
      assert.match(name, nameRe);
      assert.ok(!names.has(name), `${c.id}.${field} and ${names.get(name)} both map to ${name}`);
      assert.ok(
        !ownNames.has(name) && !ownNames.has(name.replace(/_total$/, '')),
        `${name} collides with a sidecar self-metric`
      );
      names.set(name, `${c.id}.${field}`);
    }
  }
  for (const m of catalogMetrics.filter(promDerivedMetric)) {
    const { name } = metricFamily(m.id, m.unit);
    assert.match(name, nameRe);
    assert.ok(!names.has(name), `catalog metric ${m.id} and ${names.get(name)} both map to ${name}`);
    names.set(name, m.id);
  }
});

const shape = { key: ['datname'], counters: ['blks_hit', 'blks_read', 'xact_commit'], gauges: ['size_bytes'] };
const row = (datname: string, v: Record<string, number | null>): SampleRow => ({ key: { datname }, values: v });

test('interval ratio: Σ Δnum / Σ Δden per group; reset rows, new rows and idle groups are left out', () => {
  const c = {
    op: 'ratio' as const,
    collector: 'database' as const,
    num: ['blks_hit'],
    den: ['blks_hit', 'blks_read'],
    by: ['datname'],
    name: 'r',
  };
  const prev = [
    row('a', { blks_hit: 100, blks_read: 50 }),
    row('b', { blks_hit: 500, blks_read: 5 }),
    row('idle', { blks_hit: 7, blks_read: 3 }),
  ];
  const cur = [
    row('a', { blks_hit: 190, blks_read: 60 }), // Δhit 90, Δread 10
    row('b', { blks_hit: 3, blks_read: 1 }), // reset between the samples
    row('idle', { blks_hit: 7, blks_read: 3 }), // no block touched: no ratio
    row('new', { blks_hit: 10, blks_read: 0 }), // no baseline
  ];
  assert.deepEqual(intervalRatio(c, shape, prev, cur), [{ labels: { datname: 'a' }, value: 0.9 }]);
  // by [] sums every row's deltas before dividing (statement_latency over all statements)
  const all = intervalRatio({ ...c, by: [], num: ['blks_read'], den: ['blks_hit'] }, shape, prev, [
    row('a', { blks_hit: 110, blks_read: 53 }),
    row('idle', { blks_hit: 17, blks_read: 4 }),
  ]);
  assert.deepEqual(all, [{ labels: {}, value: (3 + 1) / (10 + 10) }]);
});

test('statements are cut to the top N by total time, the cut is counted, and promtool accepts the whole exposition', async () => {
  const latest = new LatestSamples();
  const stmtShape = {
    key: ['queryid', 'datname', 'username'],
    counters: ['calls', 'total_exec_time'],
    gauges: ['max_exec_time'],
  };
  // deterministic spread of totals; label values with the characters the format must escape
  const rows: SampleRow[] = Array.from({ length: 250 }, (_, i) => ({
    key: { queryid: String(1_000_000 + i), datname: i % 7 === 0 ? 'we"ird\\db\nname' : 'app', username: 'u' },
    values: { calls: 10 + i, total_exec_time: ((i * 7919) % 250) * 3.5, max_exec_time: i },
  }));
  latest.record('t1', 'statements', stmtShape, 1, rows);
  latest.record('t1', 'database', shape, 1, [
    row('app', { blks_hit: 10, blks_read: 10, xact_commit: 5, size_bytes: 8192 }),
  ]);
  latest.record('t1', 'database', shape, 2, [
    row('app', { blks_hit: 40, blks_read: 20, xact_commit: 9, size_bytes: 8192 }),
  ]);
  const expo = new PromExposition(latest, { topStatements: 100, topRelations: 1000 });
  const text = expo.text();

  const calls = text.split('\n').filter((l) => l.startsWith('pgpulse_statements_calls_total{'));
  assert.equal(calls.length, 100);
  const want = [...rows]
    .sort((a, b) => (b.values.total_exec_time as number) - (a.values.total_exec_time as number))
    .slice(0, 100)
    .map((r) => r.key.queryid)
    .sort();
  const got = calls.map((l) => /queryid="(\d+)"/.exec(l)?.[1]).sort();
  assert.deepEqual(got, want);
  assert.match(text, /^pgpulse_metrics_rows_omitted\{target="t1",collector="statements"\} 150$/m);
  // ms → s
  const top = rows.find((r) => r.key.queryid === want[0])!;
  assert.match(
    text,
    new RegExp(
      `^pgpulse_statements_total_exec_time_seconds_total\\{target="t1",queryid="${want[0]}",[^}]*\\} ${(top.values.total_exec_time as number) / 1000}$`,
      'm'
    )
  );
  assert.match(text, /^pgpulse_database_xact_commit_total\{target="t1",datname="app"\} 9$/m);
  assert.match(text, /^pgpulse_cache_hit_ratio\{target="t1",datname="app"\} 0\.75$/m); // Δhit 30 / (30 + 10)
  assert.match(text, /^# TYPE pgpulse_database_xact_commit_total counter$/m);
  assert.match(text, /^# TYPE pgpulse_database_size_bytes gauge$/m);
  assert.match(text, /datname="we\\"ird\\\\db\\nname"/);

  const checked = promtool(text);
  assert.equal(checked.status, 0, checked.problems.join('\n'));

  // the sidecar's own families in front, as /metrics serves them: only prom-client's own
  // nodejs_active_*_total gauges draw a lint finding (its naming, not a format error)
  const own = new SelfMetrics();
  const full = promtool((await own.registry.metrics()) + text);
  assert.ok(full.status === 0 || full.status === 3, full.problems.join('\n'));
  assert.deepEqual(
    full.problems.filter(
      (l) => !/^pgpulse_nodejs_active_\w+_total non-counter metrics should not have "_total" suffix$/.test(l)
    ),
    []
  );
});

test('a scrape re-renders only after a new sample, and a failed collector drops its series', () => {
  const latest = new LatestSamples();
  latest.record('t1', 'database', shape, 1, [row('app', { blks_hit: 1, blks_read: 1, xact_commit: 1, size_bytes: 1 })]);
  const expo = new PromExposition(latest);
  const a = expo.text();
  assert.equal(expo.text(), a);
  latest.record('t1', 'database', shape, 2, [row('app', { blks_hit: 2, blks_read: 1, xact_commit: 3, size_bytes: 1 })]);
  assert.match(expo.text(), /xact_commit_total\{target="t1",datname="app"\} 3$/m);
  latest.forget('t1', 'database');
  assert.doesNotMatch(expo.text(), /pgpulse_database_/);
  assert.doesNotMatch(expo.text(), /pgpulse_cache_hit_ratio\{/);
});
