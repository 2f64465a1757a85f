import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import React from 'react';

import { VariableQueryEditor } from '../../src/plugin/components/VariableQueryEditor';
import { resourceParents } from '../../src/plugin/resources';
import { selectors } from '../../src/plugin/selectors';
import { listResources, type PgpulseVariableQuery } from '../../src/plugin/types';
import { installBackendSrv, installTemplateSrv, makeDatasource } from './helpers';

const S = selectors.variableEditor;

beforeEach(() => {
  installTemplateSrv({});
  installBackendSrv(() => []);
});

function setup(query: PgpulseVariableQuery) {
  const onChange = jest.fn();
  render(
    <VariableQueryEditor
      query={query as never}
      onChange={onChange}
      onRunQuery={jest.fn()}
      datasource={makeDatasource()}
    />
  );
  return { onChange };
}

describe('VariableQueryEditor', () => {
  it.each(listResources.map((r) => [r]))('%s shows the filters that list takes', (resource) => {
    setup({ refId: 'V', resource });
    const shown = ['target', 'database', 'schema', 'table'].filter((k) => screen.queryByTestId(S.filter(k)));
    expect(shown).toEqual(resourceParents[resource]);
  });

  it('switching the list drops filters it does not take', async () => {
    const { onChange } = setup({ refId: 'V', resource: 'indexes', table: 'orders', schema: 'sales' });
    await userEvent.click(screen.getByTestId(S.resource));
    await userEvent.click(await screen.findByRole('option', { name: /Schemas/ }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'V', resource: 'schemas' });
  });

  it('stores a filter, which may be a variable', async () => {
    const { onChange } = setup({ refId: 'V', resource: 'tables' });
    await userEvent.type(screen.getByTestId(S.filter('schema')), '$schema');
    await userEvent.tab();
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'V', resource: 'tables', schema: '$schema' });
  });
});
