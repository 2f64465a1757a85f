/**
 * Explaining invalid queries in the editor, before they run. The rules come from the catalog
 * (which options a metric takes) and the shared zod model (ranges and formats), so the editor
 * never accepts what the backend would reject.
 */
import { CoreApp } from '@grafana/data';

import { findMetric, metrics, optionKeys, type MetricDef, type OptionKey } from '../model/catalog';
import { optionLabels } from '../model/options';
import { describeQueryError, queryOptionsSchema } from '../model/query';
import type { PgpulseQuery } from './types';

export type IssueField = OptionKey | 'metric' | 'target';

export interface QueryIssue {
  field: IssueField;
  severity: 'error' | 'warning';
  message: string;
}

/** Every option the catalog knows, in the order the editor shows them. */
export const allOptionKeys: OptionKey[] = [...optionKeys];

export { optionLabels };

/** A value that Grafana will replace at run time ($var, ${var}, [[var]]). */
export function isTemplated(v: unknown): boolean {
  return typeof v === 'string' && /\$\w|\$\{|\[\[/.test(v);
}

export function isSet(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '';
}

function kindWord(m: MetricDef): string {
  return m.kind === 'table' ? 'a table' : m.kind === 'series' ? 'a time series' : 'an instant value';
}

function takes(m: MetricDef): string {
  return m.options.length ? m.options.map((o) => optionLabels[o].toLowerCase()).join(', ') : 'no options';
}

/** Everything wrong with a query, worst first. An empty list means it can run. */
export function validateQuery(query: Partial<PgpulseQuery>, app?: CoreApp | string): QueryIssue[] {
  const issues: QueryIssue[] = [];
  const metricId = query.metric;
  if (!isSet(metricId)) {
    return [{ field: 'metric', severity: 'error', message: 'Pick a metric.' }];
  }
  const metric = findMetric(String(metricId));
  if (!metric) {
    if (isTemplated(metricId)) {
      issues.push({
        field: 'metric',
        severity: 'warning',
        message: `The metric comes from a variable (${metricId}); its options are checked when it runs.`,
      });
    } else {
      issues.push({
        field: 'metric',
        severity: 'error',
        message: `Unknown metric "${metricId}": pick one from the list (this plugin knows ${metrics.length}).`,
      });
    }
    return issues;
  }

  for (const key of allOptionKeys) {
    if (isSet(query[key]) && !metric.options.includes(key)) {
      const why =
        key === 'topN' || key === 'orderBy'
          ? `${metric.title} is ${kindWord(metric)}, not a ranked table`
          : `${metric.title} takes ${takes(metric)}`;
      issues.push({ field: key, severity: 'error', message: `${optionLabels[key]} does not apply: ${why}. Clear it.` });
    }
  }

  for (const key of metric.required ?? []) {
    if (!isSet(query[key])) {
      issues.push({
        field: key,
        severity: 'error',
        message:
          key === 'queryid'
            ? `${metric.title} explains one statement: pick its Query ID (or use the $queryid variable; a click on a queryid in Top queries sets it).`
            : `${optionLabels[key]} is required by ${metric.title}.`,
      });
    }
  }

  if (metric.options.includes('index') && isSet(query.index) && !isSet(query.table)) {
    issues.push({
      field: 'index',
      severity: 'error',
      message: 'Index needs a table: pick the table the index belongs to first.',
    });
  }
  if (
    isSet(query.orderBy) &&
    metric.orderBy &&
    metric.orderBy.length &&
    !metric.orderBy.includes(query.orderBy as never)
  ) {
    issues.push({
      field: 'orderBy',
      severity: 'error',
      message: `Order by "${query.orderBy}" is not offered by ${metric.title}: use ${metric.orderBy.join(', ')}.`,
    });
  }

  // Ranges and formats from the shared model; template variables are checked after interpolation.
  const probe: Record<string, unknown> = { ...query };
  for (const k of Object.keys(probe)) {
    if (isTemplated(probe[k])) {
      delete probe[k];
    }
  }
  const parsed = queryOptionsSchema.safeParse(probe);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = (issue.path[0] as IssueField) ?? 'metric';
      if (!issues.some((i) => i.field === field)) {
        issues.push({ field, severity: 'error', message: describeQueryError({ issues: [issue] } as never) });
      }
    }
  }

  if (app === CoreApp.UnifiedAlerting && !metric.alertable) {
    issues.push({
      field: 'metric',
      severity: 'error',
      message: `${metric.title} is ${kindWord(metric)}; alert rules need a time series or an instant value (for example ${metrics.filter((m) => m.alertable && m.area === metric.area)[0]?.title ?? 'Cache hit ratio'}).`,
    });
  }

  return issues.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1));
}

export function hasErrors(issues: QueryIssue[]): boolean {
  return issues.some((i) => i.severity === 'error');
}

/** Keep only what the new metric takes when the user switches metrics. */
export function retainOptions(query: PgpulseQuery, metric: MetricDef): PgpulseQuery {
  const out: Record<string, unknown> = { ...query, metric: metric.id };
  for (const key of allOptionKeys) {
    if (!metric.options.includes(key)) {
      delete out[key];
    }
  }
  if (out.orderBy !== undefined && !(metric.orderBy ?? []).includes(out.orderBy as never)) {
    delete out.orderBy;
  }
  return out as PgpulseQuery;
}
