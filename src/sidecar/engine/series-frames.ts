/**
 * Series → frames in the shape Grafana alerting accepts: one frame per series, a non-null
 * ascending time field and one nullable Float64 value field carrying the labels.
 */
import type { Field, FieldConfig, Frame } from '../../model/frames';
import type { EngineContext } from './context';
import { noticeMeta } from './notices';

export function renderLegend(template: string | undefined, labels: Record<string, string>): string | undefined {
  if (!template) {
    return undefined;
  }
  return template.replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (_, k: string) => labels[k] ?? '');
}

export function seriesFrame(
  ctx: EngineContext,
  name: string,
  labels: Record<string, string>,
  values: Array<number | null>,
  how: string
): Frame {
  const legend = renderLegend(ctx.query.legend || ctx.metric.defaultLegend, labels);
  const allLabels = { target: ctx.query.target, ...labels };
  return {
    name,
    refId: ctx.query.refId,
    meta: {
      type: 'timeseries-multi',
      typeVersion: [0, 1],
      executedQueryString: how,
      ...noticeMeta(ctx.notices),
      custom: { stepMs: ctx.grid.step, window: `each point covers [t, t + ${ctx.grid.step / 1000}s)` },
    },
    fields: [
      { name: 'time', type: 'time', values: ctx.grid.starts.slice(), nullable: false },
      {
        name: 'value',
        type: 'number',
        values,
        nullable: true,
        labels: allLabels,
        config: {
          unit: ctx.metric.unit,
          // a ratio is 0–100 %: without bounds Grafana pads the axis (0–200 %) and the series is a dash at its edge
          ...(ctx.metric.unit === 'percentunit' ? { min: 0, max: 1 } : {}),
          description: ctx.metric.description,
          ...(legend ? { displayNameFromDS: legend } : {}),
        },
      },
    ],
  };
}

/** Column titles for fields a handler did not name: one style of header in every table. */
const COLUMN_TITLES: Record<string, string> = {
  size_bytes: 'Size',
  mod_since_analyze: 'Modified since analyze',
  queryid: 'Query ID',
  datname: 'Database',
};
export function columnTitle(name: string): string {
  return COLUMN_TITLES[name] ?? (name.charAt(0).toUpperCase() + name.slice(1)).replace(/_/g, ' ');
}

export function tableFrame(ctx: EngineContext, fields: Frame['fields'], how: string): Frame {
  fields = fields.map((f) =>
    f.config?.displayName ? f : { ...f, config: { ...f.config, displayName: columnTitle(f.name) } }
  );
  return {
    name: ctx.metric.id,
    refId: ctx.query.refId,
    meta: {
      type: 'table',
      typeVersion: [0, 1],
      preferredVisualisationType: 'table',
      executedQueryString: how,
      ...noticeMeta(ctx.notices),
      custom: { from: ctx.range.from, to: ctx.range.to },
    },
    fields,
  };
}

/** A column builder over table rows: number columns are nullable, strings are not. */
export function columnsOf<T>(rows: T[]) {
  return (name: string, type: 'string' | 'number', pick: (r: T) => unknown, config: FieldConfig = {}): Field => ({
    name,
    type,
    values: rows.map(pick) as Field['values'],
    nullable: type === 'number',
    config,
  });
}
