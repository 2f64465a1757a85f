/**
 * Panels built from catalog entries: title, unit and the "what it means" text come from the
 * catalog, the "over which window" sentence from how the panel shows the metric.
 */
import type { Builder } from '@grafana/grafana-foundation-sdk/cog';
import {
  LegendDisplayMode,
  LegendPlacement,
  VizLegendOptionsBuilder,
  BigValueGraphMode,
  BigValueColorMode,
  ReduceDataOptionsBuilder,
  VisibilityMode,
} from '@grafana/grafana-foundation-sdk/common';
import {
  MappingType,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  type Panel,
  type DynamicConfigValue,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as NodeGraphPanelBuilder } from '@grafana/grafana-foundation-sdk/nodegraph';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as StateTimelinePanelBuilder } from '@grafana/grafana-foundation-sdk/statetimeline';
import { PanelBuilder as TablePanelBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TextPanelBuilder } from '@grafana/grafana-foundation-sdk/text';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import {
  PanelBuilder as XYChartPanelBuilder,
  SeriesMapping,
  XYShowMode,
} from '@grafana/grafana-foundation-sdk/xychart';
import { findMetric, type MetricDef } from '../model/catalog';
import { DASHBOARD_UIDS, PANEL_DATASOURCE } from './constants';
import { PgpulseQueryBuilder, type PanelQueryOptions } from './pgpulse-query';

export type StatCalc = 'mean' | 'lastNotNull' | 'max' | 'sum';

export interface MetricPanelSpec {
  metric: string;
  title?: string;
  /** defaults by kind: series → timeseries, instant → stat, table → table */
  viz?: 'timeseries' | 'stat' | 'table' | 'xychart' | 'state-timeline' | 'nodeGraph';
  /** query options; target and (when the metric takes it) database follow the dashboard variables */
  options?: PanelQueryOptions;
  /** set false where a panel must see every database whatever $database says */
  followDatabase?: boolean;
  width: number;
  height: number;
  /** how a stat reduces the series over the range */
  calc?: StatCalc;
  /** ascending steps: [{value:null,color:'red'},{value:0.95,color:'yellow'},…] */
  thresholds?: Array<{ value: number | null; color: string }>;
  /** an extra sentence after the catalog text: how to read the panel */
  note?: string;
  /** field overrides, e.g. data links on a table column */
  overrides?: Array<{ field: string; properties: DynamicConfigValue[] }>;
}

const calcWords: Record<StatCalc, string> = {
  mean: 'the average of those steps over the selected time range',
  lastNotNull: 'the most recent step that has a value',
  max: 'the highest step in the selected time range',
  sum: 'the total of all steps in the selected time range',
};

/** The "over which window" sentence for a metric shown a given way. */
export function windowSentence(
  def: MetricDef,
  viz: NonNullable<MetricPanelSpec['viz']>,
  calc: StatCalc = 'lastNotNull'
): string {
  if (def.kind === 'table') {
    return "Window: the dashboard's selected time range (computed from deltas inside it, not since the last stats reset).";
  }
  if (def.kind === 'instant') {
    return 'Window: the latest sample at the end of the selected time range.';
  }
  const step = 'Each step is one interval of the panel ($__interval, never shorter than the sampling interval)';
  if (viz === 'stat') {
    return `Window: ${step}; the big number is ${calcWords[calc]}.`;
  }
  if (viz === 'state-timeline') {
    return `Window: ${step}; each band spans the selected time range and a gap means no answer, not a state.`;
  }
  return `Window: ${step}; the graph spans the selected time range and a gap means no sample, not zero.`;
}

/** Clicking a queryid cell opens the Queries dashboard narrowed to that statement (time and variables kept). */
export const QUERYID_DRILLDOWN_URL = `/d/${DASHBOARD_UIDS.queries}?var-queryid=\${__value.raw}&var-datasource=\${datasource}&var-target=\${target}&var-database=\${database}&\${__url_time_range}`;

/** Tables of statements (they take a queryid filter, so they have a queryid column) link each queryid to the drill-down. */
function defaultOverrides(def: MetricDef, viz: string): NonNullable<MetricPanelSpec['overrides']> {
  if (viz !== 'table' || !def.options.includes('queryid')) {
    return [];
  }
  return [
    {
      field: 'queryid',
      properties: [
        { id: 'links', value: [{ title: 'Drill into this statement (latency and plan)', url: QUERYID_DRILLDOWN_URL }] },
      ],
    },
  ];
}

export function metricDef(id: string): MetricDef {
  const def = findMetric(id);
  if (!def) {
    throw new Error(`dashboard panel: metric "${id}" is not in src/model/catalog`);
  }
  return def;
}

/** Options every panel query carries: the target variable, and $database where the metric filters by it. */
export function panelQueryOptions(
  def: MetricDef,
  spec: Pick<MetricPanelSpec, 'options' | 'followDatabase'>
): PanelQueryOptions {
  const opts: PanelQueryOptions = { target: '$target' };
  if (def.options.includes('database') && spec.followDatabase !== false) {
    opts.database = '$database';
  }
  return { ...opts, ...(spec.options ?? {}) };
}

export function metricPanel(spec: MetricPanelSpec): Builder<Panel> {
  const def = metricDef(spec.metric);
  const viz =
    spec.viz ??
    (def.panel === 'nodeGraph'
      ? 'nodeGraph'
      : def.kind === 'series'
        ? 'timeseries'
        : def.kind === 'instant'
          ? 'stat'
          : 'table');
  if ((viz === 'timeseries' || viz === 'state-timeline') && def.kind !== 'series') {
    throw new Error(`dashboard panel ${spec.metric}: a ${def.kind} metric cannot be drawn as a time series`);
  }
  const calc = spec.calc ?? 'lastNotNull';
  const description = [def.description, windowSentence(def, viz, calc), spec.note].filter(Boolean).join(' ');
  const query = new PgpulseQueryBuilder(def.id, panelQueryOptions(def, spec)).refId('A').datasource(PANEL_DATASOURCE);

  let panel:
    | NodeGraphPanelBuilder
    | TimeseriesPanelBuilder
    | StatPanelBuilder
    | TablePanelBuilder
    | XYChartPanelBuilder
    | StateTimelinePanelBuilder;
  if (viz === 'nodeGraph') {
    if (def.panel !== 'nodeGraph') {
      throw new Error(
        `dashboard panel ${spec.metric}: only a metric answering nodes and edges frames can be drawn as a node graph`
      );
    }
    panel = new NodeGraphPanelBuilder();
  } else if (viz === 'state-timeline') {
    const st = new StateTimelinePanelBuilder().showValue(VisibilityMode.Never).mergeValues(true);
    if (def.valueText) {
      st.mappings([
        {
          type: MappingType.ValueToText,
          options: Object.fromEntries(Object.entries(def.valueText).map(([v, text], index) => [v, { text, index }])),
        },
      ]);
    }
    panel = st;
  } else if (viz === 'xychart') {
    if (def.kind !== 'table') {
      throw new Error(`dashboard panel ${spec.metric}: an XY chart draws a table frame (numbers only)`);
    }
    // auto mapping: x = the first number field of each frame (one frame per index), y = the others
    panel = new XYChartPanelBuilder()
      .mapping(SeriesMapping.Auto)
      .show(XYShowMode.PointsAndLines)
      .pointSize({ fixed: 6 });
  } else if (viz === 'timeseries') {
    panel = new TimeseriesPanelBuilder()
      .legend(
        new VizLegendOptionsBuilder()
          .showLegend(true)
          .displayMode(LegendDisplayMode.List)
          .placement(LegendPlacement.Bottom)
          .calcs([])
      )
      .spanNulls(false)
      .fillOpacity(10);
  } else if (viz === 'stat') {
    panel = new StatPanelBuilder()
      .reduceOptions(new ReduceDataOptionsBuilder().calcs([calc]).values(false))
      .graphMode(def.kind === 'series' ? BigValueGraphMode.Area : BigValueGraphMode.None)
      .colorMode(spec.thresholds ? BigValueColorMode.Background : BigValueColorMode.Value);
  } else {
    panel = new TablePanelBuilder().filterable(true).showHeader(true);
  }
  panel
    .title(spec.title ?? def.title)
    .description(description)
    .datasource(PANEL_DATASOURCE)
    .span(spec.width)
    .height(spec.height)
    .withTarget(query);
  // A table's columns carry their own units (frame field config); one unit for all would mislabel counts.
  if (viz !== 'table' && viz !== 'xychart' && viz !== 'nodeGraph') {
    panel.unit(def.unit);
  }
  if (def.unit === 'percentunit' && viz !== 'xychart' && viz !== 'nodeGraph') {
    panel.min(0).max(1);
  }
  if (spec.thresholds) {
    panel.thresholds(new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(spec.thresholds));
  }
  for (const o of [...defaultOverrides(def, viz), ...(spec.overrides ?? [])]) {
    panel.overrideByName(o.field, o.properties);
  }
  return panel;
}

export function textPanel(title: string, markdown: string, width: number, height: number): Builder<Panel> {
  return new TextPanelBuilder().title(title).content(markdown).span(width).height(height);
}
