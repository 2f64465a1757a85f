/**
 * The query editor: a metric from the catalog (grouped by area, with description and unit), then
 * only the options that metric takes. Problems are explained inline and the query is not run
 * until they are fixed. Everything it writes is the shared query model, so panels, Explore and
 * alert rules (evaluated server-side) see the same query.
 */
import { CoreApp, type QueryEditorProps } from '@grafana/data';
import { Combobox, type ComboboxOption, InlineField, InlineFieldRow, Input, Stack, Text, Alert } from '@grafana/ui';
import React, { useEffect, useMemo } from 'react';

import { areas, findMetric, metrics, type MetricDef, type OptionKey } from '../../model/catalog';
import {
  dependentsOf,
  filterOptionKeys,
  type FilterOptionKey,
  numberLimits,
  orderByLabels,
  quantileValues,
  queryOptionDecls,
  type QueryOptionName,
} from '../../model/options';
import { migrateQuery, QUERY_SCHEMA_VERSION } from '../../model/query';
import type { DataSource } from '../datasource';
import { selectors } from '../selectors';
import type { PgpulseOptions, PgpulseQuery } from '../types';
import { hasErrors, optionLabels, retainOptions, validateQuery, type QueryIssue } from '../validation';
import { NumberInput } from './NumberInput';
import { ResourcePicker } from './ResourcePicker';

export type Props = QueryEditorProps<DataSource, PgpulseQuery, PgpulseOptions>;

const LABEL_WIDTH = 14;

const kindLabels = { series: 'time series', instant: 'instant', table: 'table' } as const;

/** The tooltip of each option's field: its description in the one option vocabulary. */
export const optionTooltip = (k: QueryOptionName): string => queryOptionDecls[k].description;

/** Metric menu: grouped by area in the catalog's area order, each with description and unit. */
export function metricOptions(app?: CoreApp | string): Array<ComboboxOption<string>> {
  return [...metrics]
    .sort((a, b) => areas.indexOf(a.area) - areas.indexOf(b.area))
    .map((m) => ({
      value: m.id,
      label: m.title,
      group: m.area,
      description: `${kindLabels[m.kind]} · unit ${m.unit}${app === CoreApp.UnifiedAlerting && !m.alertable ? ' · not alertable' : ''} — ${m.description}`,
    }));
}

/** what a required picker asks for while it is empty */
export const requiredPlaceholder: Record<FilterOptionKey, string> = {
  database: 'pick a database (required)',
  schema: 'pick a schema (required)',
  table: 'pick a table (required)',
  index: 'pick an index (required)',
  queryid: 'pick a statement (required)',
};

function issueFor(issues: QueryIssue[], field: string): QueryIssue | undefined {
  return issues.find((i) => i.field === field);
}

export function QueryEditor({ query, onChange, onRunQuery, datasource, app }: Props) {
  // Old stored shapes are migrated once, so the editor and the request agree.
  useEffect(() => {
    if (query.schemaVersion !== QUERY_SCHEMA_VERSION || 'metricId' in query || 'limit' in query) {
      onChange(migrateQuery(query));
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const q = useMemo(() => migrateQuery(query), [query]);
  const metric: MetricDef | undefined = q.metric ? findMetric(q.metric) : undefined;
  const issues = useMemo(() => validateQuery(q, app), [q, app]);
  const menu = useMemo(() => metricOptions(app), [app]);

  // Always run: an invalid query never reaches the backend (datasource.filterQuery drops it), and
  // running clears the previous metric's data, which would otherwise stay under the error message.
  const update = (next: PgpulseQuery) => {
    onChange(next);
    onRunQuery();
  };

  const setOption = (key: OptionKey | 'target', value: string | number | undefined) => {
    const next: Record<string, unknown> = { ...q };
    if (value === undefined || value === '') {
      delete next[key];
    } else {
      next[key] = value;
    }
    // Narrower filters depend on wider ones: a new table invalidates the chosen index, and so on.
    if (q[key] !== value) {
      for (const d of dependentsOf(key)) {
        delete next[d];
      }
    }
    update(next as PgpulseQuery);
  };

  const onMetric = (opt: ComboboxOption<string> | null) => {
    const m = opt ? findMetric(opt.value) : undefined;
    if (!m) {
      return;
    }
    update(retainOptions(q, m));
  };

  const filters = { target: q.target, database: q.database, schema: q.schema, table: q.table };
  const takes = (k: OptionKey) => Boolean(metric?.options.includes(k)) || (q[k] !== undefined && q[k] !== '');
  const str = (k: OptionKey) => (typeof q[k] === 'string' || typeof q[k] === 'number' ? String(q[k]) : undefined);
  const num = (k: OptionKey) => (typeof q[k] === 'number' ? (q[k] as number) : undefined);

  const picker = (k: FilterOptionKey, resource = queryOptionDecls[k].list) =>
    takes(k) && (
      <InlineField
        key={k}
        label={optionLabels[k]}
        labelWidth={LABEL_WIDTH}
        tooltip={optionTooltip(k)}
        invalid={Boolean(issueFor(issues, k)?.severity === 'error')}
      >
        <ResourcePicker
          id={`pgpulse-${q.refId}-${k}`}
          datasource={datasource}
          resource={resource}
          filters={filters}
          value={str(k)}
          onChange={(v) => setOption(k, v)}
          testId={selectors.queryEditor.option(k)}
          placeholder={
            metric?.required?.includes(k)
              ? requiredPlaceholder[k]
              : k === 'queryid'
                ? 'all statements'
                : `all ${resource}`
          }
          // table and index names are long (orders_customer_idx): room for them, not a clipped tail
          width={k === 'table' || k === 'index' || k === 'queryid' ? 32 : 22}
          invalid={issueFor(issues, k)?.severity === 'error'}
        />
      </InlineField>
    );

  const numberField = (k: 'topN' | 'threshold' | 'minCalls' | 'k' | 'efSearch', suffix?: string) => {
    const def = metric?.defaults?.[k as keyof NonNullable<MetricDef['defaults']>];
    return (
      takes(k) && (
        <InlineField
          key={k}
          label={optionLabels[k]}
          labelWidth={LABEL_WIDTH}
          tooltip={optionTooltip(k)}
          invalid={issueFor(issues, k)?.severity === 'error'}
        >
          <NumberInput
            id={`pgpulse-${q.refId}-${k}`}
            testId={selectors.queryEditor.option(k)}
            value={num(k)}
            onCommit={(v) => setOption(k, v)}
            // the default as a grey placeholder: "(default)" made it too long for the field
            placeholder={def !== undefined ? String(def) : 'default'}
            invalid={issueFor(issues, k)?.severity === 'error'}
            suffix={suffix}
            {...numberLimits(k)}
          />
        </InlineField>
      )
    );
  };

  const thresholdUnit =
    metric?.id === 'slow_statements' || metric?.unit === 'ms' ? 'ms' : metric?.unit === 's' ? 's' : undefined;
  const orderChoices: Array<ComboboxOption<string>> = (metric?.orderBy ?? []).map((o) => ({
    value: o,
    label: orderByLabels[o],
  }));

  return (
    <div data-testid={selectors.queryEditor.root}>
      <Stack direction="column" gap={0.5}>
        <InlineFieldRow>
          <InlineField
            label="Metric"
            labelWidth={LABEL_WIDTH}
            tooltip="What to show. Grouped by area; each has a description and unit."
            invalid={issueFor(issues, 'metric')?.severity === 'error'}
          >
            <Combobox<string>
              id={`pgpulse-${q.refId}-metric`}
              data-testid={selectors.queryEditor.metric}
              options={menu}
              value={q.metric ? (metric ? q.metric : { value: q.metric, label: q.metric }) : null}
              onChange={onMetric}
              placeholder="Choose a metric"
              width={40}
            />
          </InlineField>
          <InlineField label={optionLabels.target} labelWidth={10} tooltip={optionTooltip('target')}>
            <ResourcePicker
              id={`pgpulse-${q.refId}-target`}
              datasource={datasource}
              resource="targets"
              filters={{}}
              value={q.target}
              onChange={(v) => setOption('target', v)}
              testId={selectors.queryEditor.target}
              placeholder={datasource.defaultTarget ?? 'the datasource’s target'}
            />
          </InlineField>
        </InlineFieldRow>

        {metric && (
          <div data-testid={selectors.queryEditor.description} style={{ maxWidth: 900 }}>
            <Text variant="bodySmall" color="secondary">
              {metric.description}{' '}
              <Text variant="bodySmall" italic>
                Unit: {metric.unit}; {kindLabels[metric.kind]}
                {metric.alertable ? ', alertable' : ''}
                {metric.requires?.length ? `; needs ${metric.requires.join(', ')}` : ''}.
              </Text>
            </Text>
          </div>
        )}

        {metric && <InlineFieldRow>{filterOptionKeys.map((k) => picker(k))}</InlineFieldRow>}

        {metric && (
          <InlineFieldRow>
            {numberField('topN')}
            {takes('orderBy') && (
              <InlineField
                label={optionLabels.orderBy}
                labelWidth={LABEL_WIDTH}
                tooltip={optionTooltip('orderBy')}
                invalid={issueFor(issues, 'orderBy')?.severity === 'error'}
              >
                <Combobox<string>
                  id={`pgpulse-${q.refId}-orderBy`}
                  data-testid={selectors.queryEditor.option('orderBy')}
                  options={orderChoices}
                  value={typeof q.orderBy === 'string' ? q.orderBy : null}
                  onChange={(o) => setOption('orderBy', o?.value)}
                  isClearable
                  placeholder={metric.defaults?.orderBy ? orderByLabels[metric.defaults.orderBy] : 'default'}
                  width={26}
                />
              </InlineField>
            )}
            {numberField('threshold', thresholdUnit)}
            {numberField('minCalls')}
            {numberField('k')}
            {numberField('efSearch')}
            {takes('quantile') && (
              <InlineField label={optionLabels.quantile} labelWidth={LABEL_WIDTH} tooltip={optionTooltip('quantile')}>
                <Combobox<string>
                  id={`pgpulse-${q.refId}-quantile`}
                  data-testid={selectors.queryEditor.option('quantile')}
                  options={quantileValues.map((v) => ({ value: v, label: v }))}
                  value={typeof q.quantile === 'string' ? q.quantile : null}
                  onChange={(o) => setOption('quantile', o?.value)}
                  isClearable
                  placeholder="all"
                  width={12}
                />
              </InlineField>
            )}
            {takes('waitEvent') && (
              <InlineField
                label={optionLabels.waitEvent}
                labelWidth={LABEL_WIDTH}
                tooltip={optionTooltip('waitEvent')}
                invalid={issueFor(issues, 'waitEvent')?.severity === 'error'}
              >
                <Input
                  id={`pgpulse-${q.refId}-waitEvent`}
                  data-testid={selectors.queryEditor.option('waitEvent')}
                  defaultValue={typeof q.waitEvent === 'string' ? q.waitEvent : ''}
                  key={`waitEvent-${q.metric}`}
                  placeholder="all wait events"
                  onBlur={(e) => {
                    const v = e.currentTarget.value.trim();
                    if (v !== (q.waitEvent ?? '')) {
                      setOption('waitEvent', v || undefined);
                    }
                  }}
                  width={26}
                />
              </InlineField>
            )}
            {takes('legend') && (
              <InlineField label={optionLabels.legend} labelWidth={LABEL_WIDTH} tooltip={optionTooltip('legend')} grow>
                <Input
                  id={`pgpulse-${q.refId}-legend`}
                  data-testid={selectors.queryEditor.option('legend')}
                  defaultValue={typeof q.legend === 'string' ? q.legend : ''}
                  key={`legend-${q.metric}`}
                  placeholder={metric.defaultLegend || 'auto'}
                  onBlur={(e) => {
                    const v = e.currentTarget.value;
                    if (v !== (q.legend ?? '')) {
                      setOption('legend', v || undefined);
                    }
                  }}
                  width={30}
                />
              </InlineField>
            )}
          </InlineFieldRow>
        )}

        {issues.length > 0 && (
          <div data-testid={selectors.queryEditor.issues}>
            <Alert
              title={hasErrors(issues) ? 'This query cannot run yet' : 'Note'}
              severity={hasErrors(issues) ? 'error' : 'info'}
              bottomSpacing={0}
            >
              <ul style={{ margin: 0, paddingLeft: 16 }}>
                {issues.map((i) => (
                  <li key={`${i.field}-${i.message}`} data-testid={selectors.queryEditor.issue(i.field)}>
                    {i.message}
                  </li>
                ))}
              </ul>
            </Alert>
          </div>
        )}
      </Stack>
    </div>
  );
}
