/**
 * Fleet: every target of every sidecar, from Prometheus (or Mimir / Thanos) scraping the sidecars'
 * /metrics (docs/prometheus.md). The per-target dashboards stay on the pgpulse datasource; this
 * one compares targets side by side. Panels are data: their PromQL names only families that
 * /metrics serves (checked in tests/unit/dashboards/fleet.test.ts with promtool).
 */
import {
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
  VariableSort,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  type Dashboard,
} from '@grafana/grafana-foundation-sdk/dashboard';
import {
  LegendDisplayMode,
  LegendPlacement,
  VizLegendOptionsBuilder,
  BigValueColorMode,
  BigValueGraphMode,
  ReduceDataOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import { DataqueryBuilder as PromQueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { findMetric } from '../../model/catalog';
import { finish } from '../board';
import { DASHBOARD_TAG, DASHBOARD_UIDS } from '../constants';

/** The Prometheus datasource variable; not `datasource`, which the pgpulse dashboards' links carry. */
export const FLEET_DS_VAR = 'prometheus';
const DS = { type: 'prometheus', uid: `\${${FLEET_DS_VAR}}` };
/** every selector of the board narrows to the chosen targets */
const T = 'target=~"$target"';

export interface FleetPanel {
  title: string;
  expr: string;
  legend: string;
  unit: string;
  /** the catalog metric the panel mirrors: its description opens the panel's */
  metric?: string;
  /** how to read it, and how it differs from the pgpulse panel */
  note: string;
  viz?: 'stat' | 'timeseries';
  width?: number;
  thresholds?: Array<{ value: number | null; color: string }>;
}

export const fleetRows: Array<{ title: string; panels: FleetPanel[] }> = [
  {
    title: 'Fleet at a glance',
    panels: [
      {
        title: 'Targets up',
        expr: `sum(pgpulse_target_up{${T}})`,
        legend: 'up',
        unit: 'short',
        viz: 'stat',
        width: 4,
        note: 'Targets whose last connection attempt succeeded, over every scraped sidecar.',
      },
      {
        title: 'Targets down',
        expr: `count(pgpulse_target_up{${T}} == 0) or vector(0)`,
        legend: 'down',
        unit: 'short',
        viz: 'stat',
        width: 4,
        thresholds: [
          { value: null, color: 'green' },
          { value: 1, color: 'red' },
        ],
        note: 'Targets a sidecar cannot reach (pgpulse_target_up 0). Their per-target series are absent until they are reachable again.',
      },
      {
        title: 'Oldest sample',
        expr: `max(time() - pgpulse_last_sample_timestamp_seconds{${T}})`,
        legend: 'staleness',
        unit: 's',
        viz: 'stat',
        width: 4,
        thresholds: [
          { value: null, color: 'green' },
          { value: 120, color: 'orange' },
          { value: 600, color: 'red' },
        ],
        note: 'Seconds since the least recently sampled target was sampled: a stuck or paused sampler (an idle Neon compute is paused by design).',
      },
      {
        title: 'Sidecars',
        expr: 'count(count by (instance) (pgpulse_process_start_time_seconds))',
        legend: 'sidecars',
        unit: 'short',
        viz: 'stat',
        width: 4,
        note: 'pgpulse sidecars Prometheus scrapes.',
      },
      {
        title: 'Lowest cache hit ratio',
        expr: `min(pgpulse_cache_hit_ratio{${T}})`,
        legend: 'min',
        unit: 'percentunit',
        metric: 'cache_hit_ratio',
        viz: 'stat',
        width: 4,
        thresholds: [
          { value: null, color: 'red' },
          { value: 0.95, color: 'orange' },
          { value: 0.99, color: 'green' },
        ],
        note: 'On this board: the lowest ratio of any database of the chosen targets.',
      },
      {
        title: 'Worst XID wraparound',
        expr: `max(pgpulse_wraparound_xid_freeze_ratio{${T}})`,
        legend: 'max',
        unit: 'percentunit',
        viz: 'stat',
        width: 4,
        thresholds: [
          { value: null, color: 'green' },
          { value: 0.8, color: 'orange' },
          { value: 1, color: 'red' },
        ],
        note: 'Highest age(datfrozenxid) / autovacuum_freeze_max_age of any database: above 1 autovacuum is forcing anti-wraparound vacuums.',
      },
    ],
  },
  {
    title: 'Targets side by side',
    panels: [
      {
        title: 'Cache hit ratio',
        expr: `pgpulse_cache_hit_ratio{${T}}`,
        legend: '{{target}} {{datname}}',
        unit: 'percentunit',
        metric: 'cache_hit_ratio',
        note: 'On this board: one series per target and database, each value between two samples of the sidecar.',
      },
      {
        title: 'Transactions per second',
        expr: `sum by (target) (rate(pgpulse_database_xact_commit_total{${T}}[$__rate_interval]) + rate(pgpulse_database_xact_rollback_total{${T}}[$__rate_interval]))`,
        legend: '{{target}}',
        unit: 'ops',
        metric: 'tps',
        note: 'On this board: commits + rollbacks per target, rate() over the scraped counters.',
      },
      {
        title: 'Mean statement latency',
        expr: `pgpulse_statement_latency_seconds{${T}}`,
        legend: '{{target}}',
        unit: 's',
        metric: 'statement_latency',
        note: 'On this board: per target, in seconds, between two samples of the sidecar.',
      },
      {
        title: 'Client connections',
        expr: `sum by (target) (pgpulse_activity_count{${T}})`,
        legend: '{{target}}',
        unit: 'short',
        metric: 'connections',
        note: 'On this board: every state summed per target.',
      },
      {
        title: 'Client connections / max_connections',
        expr: `sum by (target) (pgpulse_activity_count{${T}}) / on (target) pgpulse_settings_value{${T},name="max_connections"}`,
        legend: '{{target}}',
        unit: 'percentunit',
        note: 'Client backends / max_connections per target (the pgpulse panel also counts background workers).',
      },
      {
        title: 'Longest running query',
        expr: `max by (target) (pgpulse_activity_longest_query_seconds{${T}})`,
        legend: '{{target}}',
        unit: 's',
        metric: 'longest_query_seconds',
        note: 'On this board: the longest of each target.',
      },
      {
        title: 'Blocked queries',
        expr: `sum by (target) (pgpulse_locks_blocked{${T}})`,
        legend: '{{target}}',
        unit: 'short',
        metric: 'blocked_queries',
        note: 'On this board: per target, at each sample.',
      },
      {
        title: 'Deadlocks',
        expr: `sum by (target) (increase(pgpulse_database_deadlocks_total{${T}}[$__rate_interval]))`,
        legend: '{{target}}',
        unit: 'short',
        metric: 'deadlocks',
        note: 'On this board: increase() per target over each step.',
      },
      {
        title: 'Database size',
        expr: `sum by (target) (pgpulse_database_size_bytes{${T}})`,
        legend: '{{target}}',
        unit: 'bytes',
        metric: 'database_size',
        note: 'On this board: all databases of a target summed.',
      },
      {
        title: 'WAL kept by replication slots',
        expr: `max by (target) (pgpulse_slots_retained_bytes{${T}})`,
        legend: '{{target}}',
        unit: 'bytes',
        metric: 'slot_retained_wal',
        note: 'On this board: the slot keeping the most WAL on each target.',
      },
      {
        title: 'Standby replay lag',
        expr: `max by (target, application_name) (pgpulse_replication_replay_lag_bytes{${T}})`,
        legend: '{{target}} {{application_name}}',
        unit: 'bytes',
        metric: 'replication_lag_bytes',
        note: 'On this board: WAL each standby has not replayed yet, in bytes, as its primary reports it (pg_stat_replication); only primaries with standbys have series.',
      },
      {
        title: 'WAL generated',
        expr: `sum by (target) (rate(pgpulse_wal_wal_bytes_total{${T}}[$__rate_interval]))`,
        legend: '{{target}}',
        unit: 'Bps',
        metric: 'wal_rate',
        note: 'On this board: WAL bytes per second of each target (pg_stat_wal.wal_bytes), rate() over each step.',
      },
      {
        title: 'Statement time by target (top 10 statements)',
        expr: `topk(10, sum by (target, datname, queryid) (rate(pgpulse_statements_total_exec_time_seconds_total{${T}}[$__rate_interval])))`,
        legend: '{{target}} {{datname}} {{queryid}}',
        unit: 's',
        note: "Execution seconds per second of the 10 busiest statements across the chosen targets, from the statements each sidecar exposes (its top metrics.topStatements by total time). Open the target's Queries dashboard for the text and plan.",
        width: 24,
      },
    ],
  },
  {
    title: 'pgpulse itself',
    panels: [
      {
        title: 'Collector time on the database',
        expr: `sum by (target, collector) (rate(pgpulse_collector_db_seconds_total{${T}}[$__rate_interval]))`,
        legend: '{{target}} {{collector}}',
        unit: 's',
        note: "Seconds per second each collector waits for its target's answers (pgpulse_collector_db_seconds_total): what pgpulse costs the database. Its wall time with row processing and the store write: pgpulse_collector_run_seconds_total.",
      },
      {
        title: 'Collector errors',
        expr: `sum by (target, collector) (increase(pgpulse_collector_errors_total{${T}}[$__rate_interval]))`,
        legend: '{{target}} {{collector}}',
        unit: 'short',
        note: "Failed collector runs per step; the sidecar's health and logs say why.",
      },
      {
        title: 'Sampling cycle p95',
        expr: `histogram_quantile(0.95, sum by (target, le) (rate(pgpulse_sampling_cycle_duration_seconds_bucket{${T}}[$__rate_interval])))`,
        legend: '{{target}}',
        unit: 's',
        note: 'Wall time of a whole sampling cycle per target; above the sampling interval, cycles are skipped (pgpulse_cycles_skipped_total).',
      },
      {
        title: 'Sidecar memory (RSS)',
        expr: 'pgpulse_process_resident_memory_bytes',
        legend: '{{instance}}',
        unit: 'bytes',
        note: 'Resident memory of each sidecar process.',
      },
      {
        title: 'Rows left off /metrics',
        expr: `pgpulse_metrics_rows_omitted{${T}}`,
        legend: '{{target}} {{collector}}',
        unit: 'short',
        note: "Statements / relations beyond metrics.topStatements / topRelations that each sidecar did not expose (they stay in pgpulse's own history).",
      },
    ],
  },
];

function panelDescription(p: FleetPanel): string {
  const def = p.metric ? findMetric(p.metric) : undefined;
  if (p.metric && !def) {
    throw new Error(`fleet panel "${p.title}": metric ${p.metric} is not in src/model/catalog`);
  }
  const window =
    p.viz === 'stat'
      ? 'Window: the latest scrape at the end of the selected time range.'
      : 'Window: each step is one Prometheus step ($__rate_interval for rates); a gap means no scrape, not zero.';
  return [def?.description, p.note, window, `PromQL: ${p.expr}`].filter(Boolean).join(' ');
}

function fleetPanel(p: FleetPanel, refId: string) {
  const query = new PromQueryBuilder().expr(p.expr).legendFormat(p.legend).refId(refId).datasource(DS);
  const width = p.width ?? (p.viz === 'stat' ? 4 : 12);
  if (p.viz === 'stat') {
    const s = new StatPanelBuilder()
      .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
      .graphMode(BigValueGraphMode.Area)
      .colorMode(p.thresholds ? BigValueColorMode.Background : BigValueColorMode.Value)
      .title(p.title)
      .description(panelDescription(p))
      .datasource(DS)
      .unit(p.unit)
      .span(width)
      .height(5)
      .withTarget(query.instant());
    if (p.thresholds) {
      s.thresholds(new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(p.thresholds));
    }
    return s;
  }
  const t = new TimeseriesPanelBuilder()
    .legend(
      new VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.List)
        .placement(LegendPlacement.Bottom)
        .calcs([])
    )
    .spanNulls(false)
    .fillOpacity(10)
    .title(p.title)
    .description(panelDescription(p))
    .datasource(DS)
    .unit(p.unit)
    .span(width)
    .height(8)
    .withTarget(query.range());
  if (p.unit === 'percentunit') {
    t.min(0).max(1);
  }
  return t;
}

export function fleetDashboard(): Dashboard {
  const b = new DashboardBuilder('pgpulse / Fleet')
    .uid(DASHBOARD_UIDS.fleet)
    .description(
      "Every target of every pgpulse sidecar side by side, from Prometheus scraping the sidecars' /metrics (docs/prometheus.md). Per-target detail stays in the pgpulse dashboards."
    )
    .tags([DASHBOARD_TAG, 'prometheus'])
    .editable()
    .timezone('browser')
    .time({ from: 'now-6h', to: 'now' })
    .refresh('1m')
    .tooltip(DashboardCursorSync.Crosshair)
    .withVariable(
      new DatasourceVariableBuilder(FLEET_DS_VAR)
        .label('Prometheus')
        .description('The Prometheus (or Mimir / Thanos) datasource that scrapes the pgpulse sidecars.')
        .type('prometheus')
    )
    .withVariable(
      new QueryVariableBuilder('target')
        .label('Target')
        .description('Targets of every scraped sidecar (the target label of pgpulse_target_up).')
        .datasource(DS)
        .query({
          query: 'label_values(pgpulse_target_up, target)',
          refId: 'PrometheusVariableQueryEditor-VariableQuery',
          qryType: 1,
        })
        .definition('label_values(pgpulse_target_up, target)')
        .multi(true)
        .includeAll(true)
        .allValue('.*')
        .current({ text: 'All', value: '$__all', selected: true })
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
    )
    .link(
      new DashboardLinkBuilder('pgpulse dashboards')
        .type(DashboardLinkType.Dashboards)
        .tags([DASHBOARD_TAG])
        .asDropdown(true)
        .includeVars(false)
        .keepTime(true)
        .targetBlank(false)
        .icon('external link')
        .tooltip('')
    );
  for (const row of fleetRows) {
    b.withRow(new RowBuilder(row.title));
    row.panels.forEach((p, i) => b.withPanel(fleetPanel(p, String.fromCharCode(65 + (i % 26)))));
  }
  return finish(b);
}
