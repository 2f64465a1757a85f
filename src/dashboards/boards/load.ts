/**
 * Load: what the database is waiting on, now and an hour ago — average active sessions by wait
 * event against the vCPUs, the wait events and statements behind it, and a drill-down from a wait
 * event to the statements waiting on it ($wait_event, set by clicking a wait event).
 */
import {
  StackingConfigBuilder,
  StackingMode,
  LegendDisplayMode,
  LegendPlacement,
  VizLegendOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import { RowBuilder, TextBoxVariableBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { areaPanels } from '../area-panels';
import { finish, newDashboard } from '../board';
import { DASHBOARD_UIDS, PANEL_DATASOURCE } from '../constants';
import { metricDef, metricPanel, panelQueryOptions, windowSentence } from '../panels';
import { PgpulseQueryBuilder } from '../pgpulse-query';

/** Clicking a wait event narrows the statements table to the sessions waiting on it. */
export const WAIT_EVENT_DRILLDOWN_URL = `/d/${DASHBOARD_UIDS.load}?var-wait_event=\${__data.fields.wait_event_type}/\${__data.fields.wait_event}&var-datasource=\${datasource}&var-target=\${target}&var-database=\${database}&\${__url_time_range}`;

/** DB load stacked by wait event type, with the vCPUs as a dashed line that is not stacked. */
function loadAgainstVcpus() {
  const load = metricDef('db_load');
  const vcpus = metricDef('db_load_vcpus');
  return new TimeseriesPanelBuilder()
    .title('Database load (average active sessions) by wait event type, against vCPUs')
    .description(
      [load.description, windowSentence(load, 'timeseries'), `The dashed line: ${vcpus.description}`].join(' ')
    )
    .datasource(PANEL_DATASOURCE)
    .span(24)
    .height(10)
    .unit(load.unit)
    .min(0)
    .legend(
      new VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.List)
        .placement(LegendPlacement.Bottom)
        .calcs([])
    )
    .spanNulls(false)
    .fillOpacity(60)
    .stacking(new StackingConfigBuilder().mode(StackingMode.Normal).group('load'))
    .withTarget(new PgpulseQueryBuilder('db_load', panelQueryOptions(load, {})).refId('A').datasource(PANEL_DATASOURCE))
    .withTarget(
      new PgpulseQueryBuilder('db_load_vcpus', panelQueryOptions(vcpus, {})).refId('B').datasource(PANEL_DATASOURCE)
    )
    .overrideByName('vCPUs', [
      { id: 'custom.stacking', value: { mode: 'none', group: 'vcpus' } },
      { id: 'custom.fillOpacity', value: 0 },
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
      { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } },
    ]);
}

function waitEventVariable() {
  return new TextBoxVariableBuilder('wait_event')
    .label('Wait event')
    .description(
      'type/event as pg_stat_activity shows it (Lock/transactionid), or a type (IO); CPU = active without a wait event. Empty: every wait event. Click a wait event in "Top wait events" to set it.'
    )
    .current({ text: '', value: '' });
}

export function loadDashboard(): Dashboard {
  const b = newDashboard(
    DASHBOARD_UIDS.load,
    'pgpulse / Load',
    'What the database is waiting on, now and an hour ago: active sessions sampled every second from pg_stat_activity, as average active sessions by wait event type against the vCPUs, the top wait events and the statements behind them. Click a wait event to see the statements waiting on it.'
  ).withVariable(waitEventVariable());

  b.withRow(new RowBuilder('Database load'));
  b.withPanel(loadAgainstVcpus());
  b.withPanel(
    metricPanel({
      metric: 'db_load_vcpu_ratio',
      width: 12,
      height: 8,
      note: 'Above 100 % more sessions are active than there are vCPUs: they queue for CPU or wait.',
    })
  );
  b.withPanel(
    metricPanel({
      metric: 'db_load',
      title: 'Database load of the selected wait event ($wait_event)',
      width: 12,
      height: 8,
      options: { waitEvent: '$wait_event' },
      note: 'Empty wait event: all of them.',
    })
  );

  b.withRow(new RowBuilder('Wait events and statements'));
  b.withPanel(
    metricPanel({
      metric: 'db_load_wait_events',
      width: 24,
      height: 9,
      note: 'Click a wait event to list the statements waiting on it.',
      overrides: [
        {
          field: 'wait_event',
          properties: [
            { id: 'links', value: [{ title: 'Statements waiting on this wait event', url: WAIT_EVENT_DRILLDOWN_URL }] },
          ],
        },
        {
          field: 'wait_event_type',
          properties: [
            { id: 'links', value: [{ title: 'Statements waiting on this wait event', url: WAIT_EVENT_DRILLDOWN_URL }] },
          ],
        },
      ],
    })
  );
  b.withPanel(
    metricPanel({
      metric: 'db_load_statements',
      title: 'Top statements by load ($wait_event)',
      width: 24,
      height: 10,
      options: { waitEvent: '$wait_event' },
      note: 'Empty wait event: all the load. Click a queryid to open it on the Queries dashboard.',
    })
  );

  b.withRow(new RowBuilder('Who: databases, users, applications'));
  b.withPanel(
    metricPanel({ metric: 'db_load_by_database', width: 8, height: 8, options: { waitEvent: '$wait_event' } })
  );
  b.withPanel(metricPanel({ metric: 'db_load_by_user', width: 8, height: 8, options: { waitEvent: '$wait_event' } }));
  b.withPanel(
    metricPanel({ metric: 'db_load_by_application', width: 8, height: 8, options: { waitEvent: '$wait_event' } })
  );

  const shown = new Set([
    'db_load',
    'db_load_vcpus',
    'db_load_vcpu_ratio',
    'db_load_wait_events',
    'db_load_statements',
    'db_load_by_database',
    'db_load_by_user',
    'db_load_by_application',
  ]);
  const rest = areaPanels('Load', shown);
  if (rest.length > 0) {
    b.withRow(new RowBuilder('More'));
    for (const p of rest) {
      b.withPanel(p);
    }
  }
  return finish(b);
}
