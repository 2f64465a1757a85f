/**
 * Panels for every catalog metric of an area, so dashboards grow with the catalog (a new metric
 * is one catalog entry) without hand-editing a dashboard.
 */
import type { Builder } from '@grafana/grafana-foundation-sdk/cog';
import type { Panel } from '@grafana/grafana-foundation-sdk/dashboard';
import { metrics, type Area } from '../model/catalog';
import { metricPanel } from './panels';

export function metricsInArea(area: Area): string[] {
  return metrics.filter((m) => m.area === area).map((m) => m.id);
}

/** Series as half-width graphs, instants as quarter-width stats, tables full width; in catalog order. */
export function areaPanels(area: Area, skip: ReadonlySet<string> = new Set()): Array<Builder<Panel>> {
  return panelsOf(metrics.filter((m) => m.area === area && !skip.has(m.id)));
}

/** The same panels for the listed metrics that the catalog has, in the listed order. */
export function catalogPanels(ids: readonly string[]): Array<Builder<Panel>> {
  return panelsOf(
    ids.map((id) => metrics.find((m) => m.id === id)).filter((m): m is (typeof metrics)[number] => m !== undefined)
  );
}

function panelsOf(list: typeof metrics): Array<Builder<Panel>> {
  return list.map((m) => {
    if (m.kind === 'series' && m.panel === 'state-timeline') {
      return metricPanel({ metric: m.id, viz: 'state-timeline', width: 24, height: 5 });
    }
    if (m.kind === 'series') {
      return metricPanel({ metric: m.id, width: 12, height: 8 });
    }
    if (m.kind === 'instant') {
      return metricPanel({ metric: m.id, width: 6, height: 5 });
    }
    if (m.panel === 'nodeGraph') {
      return metricPanel({
        metric: m.id,
        viz: 'nodeGraph',
        width: 24,
        height: 12,
        options: m.required?.includes('queryid') ? { queryid: '$queryid' } : {},
      });
    }
    if (m.panel === 'xychart') {
      return metricPanel({ metric: m.id, viz: 'xychart', width: 24, height: 9 });
    }
    return metricPanel({
      metric: m.id,
      width: 24,
      height: 10,
      options: m.required?.includes('queryid') ? { queryid: '$queryid' } : {},
    });
  });
}
