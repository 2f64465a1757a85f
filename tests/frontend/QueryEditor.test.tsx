import { CoreApp } from '@grafana/data';
import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import React from 'react';

import { areas, metrics, type OptionKey } from '../../src/model/catalog';
import { numberLimits, queryOptionDecls, type QueryOptionName } from '../../src/model/options';
import { metricOptions, QueryEditor } from '../../src/plugin/components/QueryEditor';
import { selectors } from '../../src/plugin/selectors';
import type { PgpulseQuery } from '../../src/plugin/types';
import { allOptionKeys, validateQuery } from '../../src/plugin/validation';
import { installBackendSrv, installTemplateSrv, makeDatasource, type RecordedRequest } from './helpers';

const S = selectors.queryEditor;

const lists: Record<string, unknown> = {
  targets: [{ name: 'default' }, { name: 'replica' }],
  databases: ['postgres', 'shop'],
  schemas: ['public', 'sales'],
  tables: [{ name: 'orders' }, { name: 'customers' }],
  indexes: [{ name: 'orders_pkey' }, { name: 'orders_customer_idx' }],
  queryids: [{ queryid: '-4213859129', query: 'SELECT * FROM orders WHERE id = $1' }],
};

let requests: RecordedRequest[];

function setup(query: Partial<PgpulseQuery>, app: CoreApp = CoreApp.PanelEditor) {
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  const datasource = makeDatasource({ target: 'default' });
  const utils = render(
    <QueryEditor
      query={{ refId: 'A', schemaVersion: 1, ...query } as PgpulseQuery}
      onChange={onChange}
      onRunQuery={onRunQuery}
      datasource={datasource}
      app={app}
    />
  );
  return { ...utils, onChange, onRunQuery, datasource };
}

/** The options the editor shows, read from the DOM by their test ids. */
function visibleOptions(): OptionKey[] {
  return allOptionKeys.filter((k) => screen.queryByTestId(S.option(k)) !== null);
}

// Combobox loads options after a short debounce: let a test's pending load finish before the next test.
afterEach(() => new Promise((r) => setTimeout(r, 300)));

beforeEach(() => {
  installTemplateSrv({ tbl: 'orders' });
  requests = installBackendSrv((req) => {
    const name = req.url.split('/resources/')[1];
    if (name && name in lists) {
      return lists[name];
    }
    throw Object.assign(new Error('not found'), { status: 404 });
  });
});

describe('QueryEditor option visibility', () => {
  it.each(metrics.map((m) => [m.id, m.options] as const))(
    '%s shows exactly the options the catalog lists',
    (id, options) => {
      setup({ metric: id });
      expect(visibleOptions().sort()).toEqual([...options].sort());
      expect(screen.getByTestId(S.metric)).toBeInTheDocument();
      expect(screen.getByTestId(S.target)).toBeInTheDocument();
      expect(screen.getByTestId(S.description)).toHaveTextContent(metrics.find((m) => m.id === id)!.unit);
    }
  );

  it('shows a stale option so it can be cleared, and explains it', () => {
    const { onRunQuery } = setup({ metric: 'tps', topN: 5 });
    expect(screen.getByTestId(S.option('topN'))).toBeInTheDocument();
    expect(screen.getByTestId(S.issue('topN'))).toHaveTextContent(
      /Top N does not apply: Transactions per second is a time series/
    );
    expect(onRunQuery).not.toHaveBeenCalled();
  });
});

describe('QueryEditor tooltips', () => {
  // one metric for each declared option (the first that takes it), so every option's field is shown once
  const cases = allOptionKeys.map((k) => {
    const m = metrics.find((x) => x.options.includes(k));
    if (!m) {
      throw new Error(`no catalog metric takes option ${k}`);
    }
    return [k, m.id] as const;
  });

  it.each([['target', 'tps'] as const, ...cases])(
    '%s: the field label and its tooltip are the vocabulary’s (model/options.ts)',
    async (key, metric) => {
      const k = key as QueryOptionName;
      const { container } = setup({ metric });
      const label = container.querySelector(`label[for="pgpulse-A-${k}"]`);
      expect(label).not.toBeNull();
      expect(label).toHaveTextContent(queryOptionDecls[k].label);
      // the info icon opens its tooltip on keyboard focus (as on hover)
      act(() =>
        within(label as HTMLElement)
          .getByTestId('icon-info-circle')
          .focus()
      );
      expect(await screen.findByRole('tooltip')).toHaveTextContent(queryOptionDecls[k].description);
      // a number field's limits are its schema's
      for (const [attr, v] of Object.entries(numberLimits(k))) {
        expect(screen.getByTestId(S.option(k))).toHaveAttribute(attr, String(v));
      }
    }
  );
});

describe('QueryEditor metric picker', () => {
  it('lists every catalog metric grouped by area, with description and unit', async () => {
    // The menu is virtualised, so the full list is checked on the data it renders from …
    const menu = metricOptions();
    expect(menu.map((o) => o.value).sort()).toEqual(metrics.map((m) => m.id).sort());
    for (const o of menu) {
      const m = metrics.find((x) => x.id === o.value)!;
      expect(o.group).toBe(m.area);
      expect(o.label).toBe(m.title);
      expect(o.description).toContain(`unit ${m.unit}`);
      expect(o.description).toContain(m.description);
    }
    // … each area is one contiguous group, in the catalog's area order
    const groupOrder = menu.map((o) => o.group).filter((g, i, a) => a.indexOf(g) === i);
    expect(groupOrder).toEqual(areas.filter((a) => metrics.some((m) => m.area === a)));
    // … and the rendered menu shows the group headings and descriptions.
    setup({ metric: 'tps' });
    await userEvent.click(screen.getByTestId(S.metric));
    const listbox = await screen.findByRole('listbox');
    expect(listbox).toHaveTextContent('Health');
    const tps = within(listbox).getByRole('option', { name: /Transactions per second/ });
    expect(tps).toHaveTextContent('unit ops');
    expect(tps).toHaveTextContent('xact_commit');
  });

  it('switching metric keeps only the options the new metric takes, and runs', async () => {
    const { onChange, onRunQuery } = setup({ metric: 'dead_tuples', schema: 'sales', table: 'orders', legend: 'x' });
    await userEvent.click(screen.getByTestId(S.metric));
    await userEvent.keyboard('Index usage');
    const opt = (await screen.findAllByRole('option')).find((o) => o.textContent?.startsWith('Index usage'))!;
    await userEvent.click(opt);
    const q = onChange.mock.calls[onChange.mock.calls.length - 1][0];
    expect(q).toMatchObject({ refId: 'A', metric: 'index_usage', schema: 'sales', table: 'orders' });
    expect(q.legend).toBeUndefined();
    expect(onRunQuery).toHaveBeenCalled();
  });
});

describe('QueryEditor pickers', () => {
  it('loads tables from the backend narrowed by target, database and schema', async () => {
    const { onChange, onRunQuery } = setup({ metric: 'dead_tuples', schema: 'sales' });
    await userEvent.click(screen.getByTestId(S.option('table')));
    const opt = await screen.findByRole('option', { name: /orders/ });
    const req = requests.find((r) => r.url.endsWith('/resources/tables'))!;
    expect(req.url).toBe('/api/datasources/uid/pgpulse-test/resources/tables');
    expect(req.params).toEqual({ target: 'default', schema: 'sales' });
    // dashboard variables are offered as well
    expect(await screen.findByRole('option', { name: /\$tbl/ })).toBeInTheDocument();
    await userEvent.click(opt);
    expect(onChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ metric: 'dead_tuples', schema: 'sales', table: 'orders' })
    );
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('says why a list could not be loaded, and still accepts a typed value', async () => {
    installBackendSrv(() => {
      throw Object.assign(new Error('refused'), {
        status: 401,
        data: { error: 'the datasource sends no sidecar token' },
      });
    });
    const { onChange } = setup({ metric: 'dead_tuples' });
    await userEvent.click(screen.getByTestId(S.option('table')));
    expect(await screen.findByText('Could not load tables')).toBeInTheDocument();
    expect(screen.getByText('the datasource sends no sidecar token (HTTP 401)')).toBeInTheDocument();
    await userEvent.keyboard('orders');
    await userEvent.click(await screen.findByRole('option', { name: /^orders/ }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ table: 'orders' }));
  });

  it('a new table clears the index chosen for the old one', async () => {
    const { onChange } = setup({
      metric: 'index_scans',
      schema: 'public',
      table: 'customers',
      index: 'customers_pkey',
    });
    await userEvent.click(screen.getByTestId(S.option('table')));
    await userEvent.click(await screen.findByRole('option', { name: /orders/ }));
    const q = onChange.mock.calls[onChange.mock.calls.length - 1][0];
    expect(q.table).toBe('orders');
    expect(q.index).toBeUndefined();
  });

  it('offers queryids with their statement text', async () => {
    setup({ metric: 'statement_latency' });
    await userEvent.click(screen.getByTestId(S.option('queryid')));
    expect(await screen.findByRole('option', { name: /-4213859129/ })).toHaveTextContent('SELECT * FROM orders');
  });

  it('order by offers only what the metric ranks by', async () => {
    const { onChange } = setup({ metric: 'top_queries' });
    await userEvent.click(screen.getByTestId(S.option('orderBy')));
    const names = (await screen.findAllByRole('option')).map((o) => o.textContent);
    expect(names).toHaveLength(metrics.find((m) => m.id === 'top_queries')!.orderBy!.length);
    await userEvent.click(screen.getByRole('option', { name: /Mean time/ }));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ orderBy: 'mean_time' }));
  });

  it('placeholders fit their fields: the default value alone, the target by its name (no "default (default)")', () => {
    const { datasource } = setup({ metric: 'top_queries' });
    expect(screen.getByTestId(S.option('topN'))).toHaveAttribute('placeholder', '20');
    const target = screen.getByTestId(S.target);
    const input = target.tagName === 'INPUT' ? target : target.querySelector('input');
    expect(input?.getAttribute('placeholder')).toBe(datasource.defaultTarget ?? 'the datasource’s target');
    expect(input?.getAttribute('placeholder')).not.toMatch(/\(default\)/);
    const order = screen.getByTestId(S.option('orderBy'));
    const orderInput = order.tagName === 'INPUT' ? order : order.querySelector('input');
    expect(orderInput?.getAttribute('placeholder')).not.toMatch(/\(default\)/);
  });

  it('top N commits a number on blur', async () => {
    const { onChange, onRunQuery } = setup({ metric: 'top_queries' });
    const input = screen.getByTestId(S.option('topN'));
    expect(input).toHaveAttribute('placeholder', '20');
    await userEvent.type(input, '15');
    expect(onChange).not.toHaveBeenCalled();
    await userEvent.tab();
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ topN: 15 }));
    expect(onRunQuery).toHaveBeenCalled();
  });
});

describe('QueryEditor inline validation', () => {
  it('index without table is explained and not run', async () => {
    const { onRunQuery } = setup({ metric: 'index_scans', index: 'orders_pkey' });
    expect(screen.getByTestId(S.issue('index'))).toHaveTextContent('Index needs a table');
    expect(onRunQuery).not.toHaveBeenCalled();
  });

  it('topN out of range names the field; the run clears the old data and never reaches the backend', async () => {
    const { onChange, onRunQuery, datasource } = setup({ metric: 'top_queries' });
    await userEvent.type(screen.getByTestId(S.option('topN')), '5000');
    await userEvent.tab();
    const q = onChange.mock.calls[onChange.mock.calls.length - 1][0];
    expect(q.topN).toBe(5000);
    // running replaces the previous metric's data (which stayed under the message before) …
    expect(onRunQuery).toHaveBeenCalled();
    // … with nothing: the invalid query is filtered out before the backend
    expect(datasource.filterQuery(q)).toBe(false);
    expect(datasource.filterQuery({ ...q, topN: 50 })).toBe(true);
    expect(
      validateQuery(q)
        .map((i) => i.message)
        .join(' ')
    ).toMatch(/topN: topN must be at most 1000/);
  });

  it('alert rules cannot use a table metric', () => {
    setup({ metric: 'top_queries' }, CoreApp.UnifiedAlerting);
    expect(screen.getByTestId(S.issue('metric'))).toHaveTextContent(/alert rules need a time series/);
  });

  it('unknown metric is an error; a variable is only a note', () => {
    expect(validateQuery({ metric: 'nope' })[0]).toMatchObject({ field: 'metric', severity: 'error' });
    expect(validateQuery({ metric: '$m' })[0]).toMatchObject({ field: 'metric', severity: 'warning' });
    expect(validateQuery({})[0]).toMatchObject({ field: 'metric', message: 'Pick a metric.' });
  });

  it('variables in filters are accepted before interpolation', () => {
    expect(validateQuery({ metric: 'statement_latency', queryid: '$qid' })).toEqual([]);
    expect(validateQuery({ metric: 'statement_latency', queryid: 'abc' })[0]).toMatchObject({
      field: 'queryid',
      severity: 'error',
    });
  });

  it('every catalog metric with its defaults (and its required options from variables) validates clean', () => {
    for (const m of metrics) {
      // a required option has no default by definition (query_plan's queryid): a dashboard gives it as a variable
      const required = Object.fromEntries((m.required ?? []).map((k) => [k, `$${k}`]));
      const issues = validateQuery({ metric: m.id, ...(m.defaults ?? {}), ...required });
      expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
    }
  });

  it('migrates a legacy stored query once on mount', async () => {
    const { onChange } = setup({ metricId: 'top_queries', limit: 3, schemaVersion: undefined } as never);
    await waitFor(() => expect(onChange).toHaveBeenCalled());
    expect(onChange.mock.calls[0][0]).toMatchObject({ metric: 'top_queries', topN: 3, schemaVersion: 1 });
  });
});

describe('QueryEditor query plans (a required queryid)', () => {
  it.each(['query_plan', 'query_plan_graph'])(
    '%s without a queryid: the picker asks for a statement and the query does not run',
    (id) => {
      const { onRunQuery } = setup({ metric: id });
      expect(screen.getByTestId(S.option('queryid'))).toHaveAttribute('placeholder', 'pick a statement (required)');
      expect(screen.getByTestId(S.issue('queryid'))).toHaveTextContent(/explains one statement: pick its Query ID/);
      expect(onRunQuery).not.toHaveBeenCalled();
    }
  );

  it('picking a statement from the list sets queryid, and the issue goes away', async () => {
    const { onChange, onRunQuery, rerender, datasource } = setup({ metric: 'query_plan' });
    await userEvent.click(screen.getByTestId(S.option('queryid')));
    await userEvent.click(await screen.findByRole('option', { name: /-4213859129/ }));
    const q = onChange.mock.calls[onChange.mock.calls.length - 1][0];
    expect(q).toMatchObject({ metric: 'query_plan', queryid: '-4213859129' });
    expect(onRunQuery).toHaveBeenCalled();
    rerender(
      <QueryEditor
        query={q}
        onChange={onChange}
        onRunQuery={onRunQuery}
        datasource={datasource}
        app={CoreApp.PanelEditor}
      />
    );
    expect(screen.queryByTestId(S.issue('queryid'))).toBeNull();
  });

  it('the $queryid variable is accepted (checked after interpolation), and statement_latency still takes no queryid', () => {
    expect(validateQuery({ metric: 'query_plan', queryid: '$queryid' })).toEqual([]);
    expect(validateQuery({ metric: 'statement_latency' })).toEqual([]);
  });
});

describe('QueryEditor wait event (database load drill-down)', () => {
  it('sets waitEvent from the text field on blur, and clears it when emptied', async () => {
    const first = setup({ metric: 'db_load_statements' });
    await userEvent.type(screen.getByTestId(S.option('waitEvent')), 'Lock/transactionid');
    expect(first.onChange).not.toHaveBeenCalled();
    await userEvent.tab();
    expect(first.onChange).toHaveBeenLastCalledWith(expect.objectContaining({ waitEvent: 'Lock/transactionid' }));
    expect(first.onRunQuery).toHaveBeenCalled();
    first.unmount();
    const second = setup({ metric: 'db_load_statements', waitEvent: 'IO' });
    await userEvent.clear(screen.getByTestId(S.option('waitEvent')));
    await userEvent.tab();
    const q = second.onChange.mock.calls[second.onChange.mock.calls.length - 1][0];
    expect(q.metric).toBe('db_load_statements');
    expect('waitEvent' in q).toBe(false);
  });

  it('explains a malformed wait event before the query runs', () => {
    const issues = validateQuery({
      refId: 'A',
      metric: 'db_load_statements',
      waitEvent: 'Lock transactionid',
    } as PgpulseQuery);
    expect(issues.find((i) => i.field === 'waitEvent')?.message).toMatch(/type\/event/);
  });
});
