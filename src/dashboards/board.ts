/**
 * What every pgpulse dashboard shares: tags, time settings, variables, cross-links, panel ids.
 */
import { AnnotationQueryBuilder, DashboardBuilder, DashboardCursorSync, DashboardLinkBuilder, DashboardLinkType, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { DASHBOARD_TAG, PANEL_DATASOURCE } from './constants';
import { PgpulseQueryBuilder } from './pgpulse-query';
import { databaseVariable, datasourceVariable, queryidVariable, targetVariable } from './variables';

export function newDashboard(uid: string, title: string, description: string, opts: { queryid?: boolean } = {}): DashboardBuilder {
  const b = new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags([DASHBOARD_TAG])
    .editable()
    .timezone('browser')
    .time({ from: 'now-1h', to: 'now' })
    .refresh('1m')
    .tooltip(DashboardCursorSync.Crosshair)
    .withVariable(datasourceVariable())
    .withVariable(targetVariable())
    .withVariable(databaseVariable());
  if (opts.queryid) {
    b.withVariable(queryidVariable());
  }
  // Resets, restarts, index changes and recommendations as markers on every time series.
  b.annotation(
    new AnnotationQueryBuilder()
      .name('pgpulse events')
      .datasource(PANEL_DATASOURCE)
      .enable(true)
      .hide(false)
      .iconColor('purple')
      .target(new PgpulseQueryBuilder('events', { target: '$target', database: '$database' }).refId('Anno')),
  );
  // One link entry lists every dashboard tagged "pgpulse" and carries time range and variables along.
  return b.link(
    new DashboardLinkBuilder('pgpulse dashboards')
      .type(DashboardLinkType.Dashboards)
      .tags([DASHBOARD_TAG])
      .asDropdown(false)
      .includeVars(true)
      .keepTime(true)
      .targetBlank(false)
      .icon('external link')
      .tooltip(''),
  );
}

/** Build and give panels stable ids in layout order (alert rules link to them by id). */
export function finish(b: DashboardBuilder): Dashboard {
  const d = b.build();
  // The SDK tucks links into the controls menu; pgpulse wants them visible in the dashboard header.
  for (const l of d.links ?? []) delete l.placement;
  for (const a of d.annotations?.list ?? []) delete a.placement;
  let id = 1;
  for (const p of d.panels ?? []) {
    (p as { id?: number }).id = id++;
    for (const inner of (p as { panels?: Array<{ id?: number }> }).panels ?? []) {
      inner.id = id++;
    }
  }
  return d;
}
