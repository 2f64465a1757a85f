/**
 * What every pgpulse dashboard shares: tags, time settings, variables, cross-links, panel ids.
 */
import {
  AnnotationQueryBuilder,
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  type Dashboard,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DASHBOARD_TAG, PANEL_DATASOURCE } from './constants';
import { PgpulseQueryBuilder } from './pgpulse-query';
import { databaseVariable, datasourceVariable, queryidVariable, targetVariable } from './variables';

export function newDashboard(
  uid: string,
  title: string,
  description: string,
  opts: { queryid?: boolean } = {}
): DashboardBuilder {
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
      .target(new PgpulseQueryBuilder('events', { target: '$target', database: '$database' }).refId('Anno'))
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
      .tooltip('')
  );
}

export interface IdPanel {
  id?: number;
  type?: string;
  title?: string;
  targets?: Array<{ metric?: unknown; expr?: unknown }>;
  panels?: IdPanel[];
}

/** FNV-1a: a small, stable hash (ids must not depend on the Node version or the platform) */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * A panel's id comes from what it shows — its type and the catalog metrics (or PromQL) of its
 * queries; a row's from its title — so adding a panel renumbers nothing else and alert rules'
 * panelId stays put. A second panel with the same type and metrics adds its title.
 */
function panelKey(p: IdPanel, seen: Set<string>): string {
  const what =
    p.type === 'row'
      ? `row:${p.title ?? ''}`
      : `${p.type ?? ''}:${[...new Set((p.targets ?? []).map((t) => String(t.metric ?? t.expr ?? '')))].sort().join(',')}`;
  return seen.has(what) ? `${what}:${p.title ?? ''}` : what;
}

/** Gives every panel (and every panel in a row) the id derived from what it shows. */
export function assignPanelIds(panels: IdPanel[]): void {
  const keys = new Set<string>();
  const ids = new Set<number>();
  const assign = (p: IdPanel) => {
    let key = panelKey(p, keys);
    keys.add(key);
    // 1 … 99 999 999: readable in URLs (viewPanel=…); a collision (never seen) takes the next key
    let id = (fnv1a(key) % 99_999_999) + 1;
    while (ids.has(id)) {
      key += '#';
      id = (fnv1a(key) % 99_999_999) + 1;
    }
    ids.add(id);
    p.id = id;
    for (const inner of p.panels ?? []) {
      assign(inner);
    }
  };
  for (const p of panels) {
    assign(p);
  }
}

/** Build and give panels ids derived from what they show (alert rules link to them by id). */
export function finish(b: DashboardBuilder): Dashboard {
  const d = b.build();
  // The SDK tucks links into the controls menu; pgpulse wants them visible in the dashboard header.
  for (const l of d.links ?? []) {
    delete l.placement;
  }
  for (const a of d.annotations?.list ?? []) {
    delete a.placement;
  }
  assignPanelIds((d.panels ?? []) as IdPanel[]);
  return d;
}
