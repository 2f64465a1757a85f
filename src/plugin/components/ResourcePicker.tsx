/**
 * A picker for one backend list (databases, schemas, tables, indexes, queryids, targets). Options
 * load when the menu opens, narrowed by the filters above; dashboard variables are offered too,
 * and any typed value is accepted (a table that is not sampled yet, a variable from another scope).
 */
import { type ComboboxOption, Combobox } from '@grafana/ui';
import { getTemplateSrv } from '@grafana/runtime';
import React, { useCallback, useMemo } from 'react';

import type { DataSource } from '../datasource';
import type { ListResource } from '../types';

export interface ResourcePickerProps {
  datasource: DataSource;
  resource: ListResource;
  filters: Partial<Record<'target' | 'database' | 'schema' | 'table', string>>;
  value?: string;
  onChange: (value: string | undefined) => void;
  testId: string;
  id?: string;
  width?: number;
  placeholder?: string;
  invalid?: boolean;
}

const CACHE_MS = 30_000;

function errorText(e: unknown): string {
  const err = e as { data?: { error?: string; message?: string }; message?: string; status?: number };
  const text = err?.data?.error ?? err?.data?.message ?? err?.message ?? String(e);
  return err?.status ? `${text} (HTTP ${err.status})` : text;
}

function variableOptions(): Array<ComboboxOption<string>> {
  try {
    return getTemplateSrv()
      .getVariables()
      .map((v) => ({
        value: `$${v.name}`,
        label: `$${v.name}`,
        group: 'Dashboard variables',
        description: v.label || undefined,
      }));
  } catch {
    return [];
  }
}

export function ResourcePicker({
  datasource,
  resource,
  filters,
  value,
  onChange,
  testId,
  id,
  width = 25,
  placeholder,
  invalid,
}: ResourcePickerProps) {
  const filterKey = JSON.stringify(filters);
  // Cache one answer per set of filters for a short while: the menu asks again on every
  // keystroke, but a table created a minute ago should still show up.
  const cache = useMemo(() => new Map<string, { at: number; p: Promise<Array<ComboboxOption<string>>> }>(), []);

  const load = useCallback(
    async (input: string): Promise<Array<ComboboxOption<string>>> => {
      const hit = cache.get(filterKey);
      let p = hit && Date.now() - hit.at < CACHE_MS ? hit.p : undefined;
      if (!p) {
        p = datasource
          .listOptions(resource, JSON.parse(filterKey))
          .then((opts) => opts.map((o) => ({ value: o.value, label: o.label, description: o.description })));
        // A failed load is retried the next time the menu opens.
        p.catch(() => cache.delete(filterKey));
        cache.set(filterKey, { at: Date.now(), p });
      }
      let loaded: Array<ComboboxOption<string>> = [];
      let problem: ComboboxOption<string> | undefined;
      try {
        loaded = await p;
      } catch (e) {
        // Say why the list is empty (no token yet, unknown target …); typing a value still works.
        problem = {
          value: '__pgpulse_error__',
          label: `Could not load ${resource}`,
          description: errorText(e),
          infoOption: true,
        };
      }
      const all = [...loaded, ...variableOptions()];
      const needle = input.trim().toLowerCase();
      const shown = needle
        ? all.filter(
            (o) => (o.label ?? o.value).toLowerCase().includes(needle) || o.value.toLowerCase().includes(needle)
          )
        : all;
      return problem ? [problem, ...shown] : shown;
    },
    [cache, datasource, resource, filterKey]
  );

  return (
    <Combobox<string>
      id={id}
      data-testid={testId}
      options={load}
      value={value ? { value, label: value } : null}
      onChange={(o) => onChange(o?.value || undefined)}
      isClearable
      createCustomValue
      width={width}
      placeholder={placeholder}
      invalid={invalid}
    />
  );
}
