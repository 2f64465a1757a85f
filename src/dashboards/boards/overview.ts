/** Overview: health at a glance, then every Health and Connections & locks metric over time. */
import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { areaPanels, metricsInArea } from '../area-panels';
import { finish, newDashboard } from '../board';
import { DASHBOARD_UIDS } from '../constants';
import { metricPanel } from '../panels';

const green = 'green';

export function overviewDashboard(): Dashboard {
  const b = newDashboard(
    DASHBOARD_UIDS.overview,
    'pgpulse / Overview',
    'Health of one PostgreSQL / Neon target at a glance: cache, throughput, connections, slow and blocked work, deadlocks, size.'
  ).withRow(new RowBuilder('At a glance'));

  const stats = [
    metricPanel({
      metric: 'cache_hit_ratio',
      width: 3,
      height: 5,
      viz: 'stat',
      calc: 'mean',
      thresholds: [
        { value: null, color: 'red' },
        { value: 0.95, color: 'orange' },
        { value: 0.99, color: green },
      ],
      note: 'Below 0.99 the working set no longer fits shared buffers.',
    }),
    metricPanel({ metric: 'tps', width: 3, height: 5, viz: 'stat', calc: 'mean' }),
    metricPanel({
      metric: 'connection_utilization',
      width: 3,
      height: 5,
      viz: 'stat',
      calc: 'max',
      thresholds: [
        { value: null, color: green },
        { value: 0.7, color: 'orange' },
        { value: 0.8, color: 'red' },
      ],
    }),
    metricPanel({
      metric: 'slow_statements',
      width: 3,
      height: 5,
      viz: 'stat',
      calc: 'max',
      thresholds: [
        { value: null, color: green },
        { value: 1, color: 'orange' },
        { value: 5, color: 'red' },
      ],
    }),
    metricPanel({
      metric: 'longest_query_seconds',
      width: 3,
      height: 5,
      viz: 'stat',
      calc: 'max',
      thresholds: [
        { value: null, color: green },
        { value: 60, color: 'orange' },
        { value: 300, color: 'red' },
      ],
    }),
    metricPanel({
      metric: 'blocked_queries',
      width: 3,
      height: 5,
      viz: 'stat',
      calc: 'max',
      thresholds: [
        { value: null, color: green },
        { value: 1, color: 'red' },
      ],
    }),
    metricPanel({
      metric: 'deadlocks',
      width: 3,
      height: 5,
      viz: 'stat',
      calc: 'sum',
      thresholds: [
        { value: null, color: green },
        { value: 1, color: 'red' },
      ],
    }),
    metricPanel({ metric: 'database_size', width: 3, height: 5, viz: 'stat', calc: 'lastNotNull' }),
  ];
  for (const p of stats) {
    b.withPanel(p);
  }

  b.withRow(new RowBuilder('Health over time'));
  for (const p of areaPanels('Health', new Set(['events']))) {
    b.withPanel(p);
  }
  b.withRow(new RowBuilder('Connections & locks'));
  for (const p of areaPanels('Connections & locks')) {
    b.withPanel(p);
  }
  if (metricsInArea('Advice').length > 0) {
    b.withRow(new RowBuilder('Advice'));
    for (const p of areaPanels('Advice')) {
      b.withPanel(p);
    }
  }
  b.withRow(new RowBuilder('Events'));
  b.withPanel(
    metricPanel({
      metric: 'events',
      title: 'Events in the range',
      width: 24,
      height: 8,
      note: 'The same events mark the graphs as annotations.',
    })
  );
  return finish(b);
}
