/** Queries: what pg_stat_statements says over the selected range, with a queryid drill-down. */
import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { areaPanels } from '../area-panels';
import { finish, newDashboard } from '../board';
import { DASHBOARD_UIDS } from '../constants';
import { metricDef, metricPanel } from '../panels';

export function queriesDashboard(): Dashboard {
  const b = newDashboard(
    DASHBOARD_UIDS.queries,
    'pgpulse / Queries',
    'Statements from pg_stat_statements ranked over the selected range from deltas inside it; pick a queryid to follow one statement.',
    { queryid: true }
  ).withRow(new RowBuilder('Top statements'));

  b.withPanel(
    metricPanel({
      metric: 'top_queries',
      title: 'Top queries by total time',
      width: 24,
      height: 10,
      options: { topN: 20, orderBy: 'total_time' },
      note: 'Click a queryid to drill down.',
    })
  );
  b.withPanel(
    metricPanel({
      metric: 'top_queries',
      title: 'Slowest queries (mean time per call)',
      width: 12,
      height: 9,
      options: { topN: 10, orderBy: 'mean_time', minCalls: 5 },
      note: 'Only statements with at least 5 calls in the range.',
    })
  );
  b.withPanel(
    metricPanel({
      metric: 'top_queries',
      title: 'Most called',
      width: 12,
      height: 9,
      options: { topN: 10, orderBy: 'calls' },
    })
  );

  b.withRow(new RowBuilder('Latency'));
  b.withPanel(
    metricPanel({ metric: 'statement_latency', title: 'Mean latency, all statements', width: 12, height: 8 })
  );
  b.withPanel(
    metricPanel({
      metric: 'statement_latency',
      title: 'Mean latency, selected statement ($queryid)',
      width: 12,
      height: 8,
      options: { queryid: '$queryid' },
      note: 'With queryid = All this equals the panel on the left.',
    })
  );
  b.withPanel(
    metricPanel({
      metric: 'slow_statements',
      title: `Slow statements (≥ ${metricDef('slow_statements').defaults?.threshold ?? 20} ms mean)`,
      width: 12,
      height: 8,
    })
  );
  b.withPanel(
    metricPanel({
      metric: 'temp_bytes',
      width: 12,
      height: 8,
      note: 'Temp spills usually come from the statements at the top of "Top queries" ordered by temp.',
    })
  );
  b.withPanel(
    metricPanel({
      metric: 'top_queries',
      title: 'Top queries by temp blocks',
      width: 24,
      height: 8,
      options: { topN: 10, orderBy: 'temp' },
    })
  );

  b.withRow(new RowBuilder('Plan of the selected statement ($queryid)'));
  const pick =
    'Pick a statement in the queryid variable (or click a queryid in Top queries): the plan is explained live, for SELECT statements only. Plan changes of the top statements appear as annotations (events of kind plan_changed).';
  b.withPanel(
    metricPanel({
      metric: 'query_plan',
      title: 'Plan nodes ($queryid)',
      width: 24,
      height: 10,
      options: { queryid: '$queryid' },
      note: pick,
    })
  );
  b.withPanel(
    metricPanel({
      metric: 'query_plan_graph',
      title: 'Plan graph ($queryid)',
      width: 24,
      height: 12,
      options: { queryid: '$queryid' },
      note: pick,
    })
  );

  const shown = new Set(['top_queries', 'statement_latency', 'slow_statements', 'query_plan', 'query_plan_graph']);
  const rest = areaPanels('Queries', shown);
  if (rest.length > 0) {
    b.withRow(new RowBuilder('More'));
    for (const p of rest) {
      b.withPanel(p);
    }
  }
  return finish(b);
}
