/**
 * Editor of a query variable: which list to fetch (databases, schemas, tables …) and the filters
 * that narrow it, which may themselves be variables ($database).
 */
import type { QueryEditorProps } from '@grafana/data';
import { Combobox, InlineField, InlineFieldRow, Input } from '@grafana/ui';
import React from 'react';

import type { DataSource } from '../datasource';
import { resourceParents } from '../resources';
import { selectors } from '../selectors';
import type { ListResource, PgpulseOptions, PgpulseQuery, PgpulseVariableQuery } from '../types';
import { toVariableQuery } from '../variables';

export type Props = QueryEditorProps<DataSource, PgpulseQuery, PgpulseOptions, PgpulseVariableQuery>;

const resourceChoices: Array<{ value: ListResource; label: string; description: string }> = [
  { value: 'databases', label: 'Databases', description: 'Databases of the target' },
  { value: 'schemas', label: 'Schemas', description: 'Schemas with user tables' },
  { value: 'tables', label: 'Tables', description: 'User tables' },
  { value: 'indexes', label: 'Indexes', description: 'Indexes of user tables' },
  { value: 'queryids', label: 'Query IDs', description: 'pg_stat_statements queryids' },
  { value: 'targets', label: 'Targets', description: 'Targets the sidecar monitors' },
  { value: 'metrics', label: 'Metrics', description: 'Metric ids of the catalog' },
];

export function VariableQueryEditor({ query, onChange }: Props) {
  const vq = toVariableQuery(query);
  const set = (patch: Partial<PgpulseVariableQuery>) => {
    const next: PgpulseVariableQuery = { ...vq, ...patch };
    // Drop filters the chosen list does not take, so the stored query says what it does.
    for (const k of ['target', 'database', 'schema', 'table'] as const) {
      if (!resourceParents[next.resource].includes(k) || next[k] === '') {
        delete next[k];
      }
    }
    onChange(next);
  };

  return (
    <div data-testid={selectors.variableEditor.root}>
      <InlineFieldRow>
        <InlineField label="List" labelWidth={12}>
          <Combobox<string>
            id="pgpulse-variable-resource"
            data-testid={selectors.variableEditor.resource}
            options={resourceChoices}
            value={vq.resource}
            onChange={(o) => set({ resource: o.value as ListResource })}
            width={25}
          />
        </InlineField>
        {resourceParents[vq.resource].map((k) => (
          <InlineField
            key={k}
            label={k[0].toUpperCase() + k.slice(1)}
            labelWidth={12}
            tooltip="Optional; may be a variable such as $database"
          >
            <Input
              id={`pgpulse-variable-${k}`}
              data-testid={selectors.variableEditor.filter(k)}
              defaultValue={vq[k] ?? ''}
              placeholder="any"
              width={20}
              onBlur={(e) => {
                if (e.currentTarget.value !== (vq[k] ?? '')) {
                  set({ [k]: e.currentTarget.value });
                }
              }}
            />
          </InlineField>
        ))}
      </InlineFieldRow>
    </div>
  );
}
