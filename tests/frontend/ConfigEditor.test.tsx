import type { DataSourceSettings } from '@grafana/data';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import React from 'react';

import { ConfigEditor } from '../../src/plugin/components/ConfigEditor';
import { selectors } from '../../src/plugin/selectors';
import type { PgpulseOptions, PgpulseSecureJsonData } from '../../src/plugin/types';
import { installBackendSrv, type RecordedRequest } from './helpers';

const S = selectors.configEditor;

function settings(over: Partial<DataSourceSettings<PgpulseOptions, PgpulseSecureJsonData>> = {}) {
  return {
    id: 3,
    uid: 'ds-uid',
    orgId: 1,
    name: 'pgpulse',
    type: 'pgpulse-postgres-datasource',
    typeName: 'pgpulse',
    typeLogoUrl: '',
    access: 'proxy',
    url: '',
    user: '',
    database: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    jsonData: {},
    secureJsonFields: {},
    readOnly: false,
    withCredentials: false,
    ...over,
  } as DataSourceSettings<PgpulseOptions, PgpulseSecureJsonData>;
}

describe('ConfigEditor', () => {
  let requests: RecordedRequest[];
  let fail: number | undefined;
  beforeEach(() => {
    fail = undefined;
    requests = installBackendSrv((req) => {
      if (fail) {
        throw Object.assign(new Error('refused'), { status: fail });
      }
      return [{ name: 'default' }, { name: 'neon-main', description: 'Neon, eu-central-1' }];
    });
  });

  // Combobox loads options after a short debounce: let a test's pending load finish before the next test.
  afterEach(() => new Promise((r) => setTimeout(r, 300)));

  it('explains where the sidecar address goes', () => {
    render(<ConfigEditor options={settings()} onOptionsChange={jest.fn()} />);
    expect(screen.getByTestId(S.help)).toHaveTextContent('sidecar_address');
    expect(screen.getByTestId(S.help)).toHaveTextContent('PGPULSE_TOKEN');
  });

  it('keeps the token write-only: typing sets secureJsonData.token', async () => {
    const onOptionsChange = jest.fn();
    render(<ConfigEditor options={settings()} onOptionsChange={onOptionsChange} />);
    const input = screen.getByTestId(S.token);
    await userEvent.type(input, 's');
    expect(onOptionsChange).toHaveBeenLastCalledWith(expect.objectContaining({ secureJsonData: { token: 's' } }));
    expect(onOptionsChange.mock.calls[0][0].jsonData).toEqual({});
  });

  it('shows a configured token as configured and resets it', async () => {
    const onOptionsChange = jest.fn();
    render(
      <ConfigEditor options={settings({ secureJsonFields: { token: true } })} onOptionsChange={onOptionsChange} />
    );
    expect(screen.getByDisplayValue('configured')).toBeDisabled();
    await userEvent.click(screen.getByRole('button', { name: 'Reset' }));
    const next = onOptionsChange.mock.calls[0][0];
    expect(next.secureJsonFields.token).toBe(false);
    expect(next.secureJsonData.token).toBe('');
  });

  it('lists the sidecar targets once saved and stores the choice in jsonData.target', async () => {
    const onOptionsChange = jest.fn();
    render(<ConfigEditor options={settings()} onOptionsChange={onOptionsChange} />);
    await userEvent.click(screen.getByTestId(S.target));
    const opt = await screen.findByRole('option', { name: /neon-main/ });
    expect(requests[0].url).toBe('/api/datasources/uid/ds-uid/resources/targets');
    await userEvent.click(opt);
    expect(onOptionsChange).toHaveBeenLastCalledWith(expect.objectContaining({ jsonData: { target: 'neon-main' } }));
  });

  it('accepts a typed target when the list cannot be loaded, and says why', async () => {
    fail = 401;
    const onOptionsChange = jest.fn();
    render(<ConfigEditor options={settings()} onOptionsChange={onOptionsChange} />);
    await userEvent.click(screen.getByTestId(S.target));
    expect(await screen.findByTestId(S.targetsNote)).toHaveTextContent('refused the token');
    await userEvent.keyboard('replica-2');
    await userEvent.click(await screen.findByRole('option', { name: /replica-2/ }));
    expect(onOptionsChange).toHaveBeenLastCalledWith(expect.objectContaining({ jsonData: { target: 'replica-2' } }));
  });

  it('a saved new version (Save & test) clears the stale "refused the token" hint', async () => {
    fail = 401;
    const { rerender } = render(<ConfigEditor options={settings({ version: 1 })} onOptionsChange={jest.fn()} />);
    await userEvent.click(screen.getByTestId(S.target));
    expect(await screen.findByTestId(S.targetsNote)).toHaveTextContent('refused the token');
    rerender(
      <ConfigEditor options={settings({ version: 2, secureJsonFields: { token: true } })} onOptionsChange={jest.fn()} />
    );
    expect(screen.queryByTestId(S.targetsNote)).not.toBeInTheDocument();
  });

  it('names its own sidecar in jsonData.sidecarAddress (never in secureJsonData), and clearing it removes the key', async () => {
    const onOptionsChange = jest.fn();
    const { rerender } = render(
      <ConfigEditor options={settings({ jsonData: { target: 'eu' } })} onOptionsChange={onOptionsChange} />
    );
    const input = screen.getByTestId(S.sidecarAddress);
    expect(input).toHaveValue('');
    await userEvent.type(input, 'p');
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ jsonData: { target: 'eu', sidecarAddress: 'p' } })
    );
    expect(onOptionsChange.mock.calls[0][0].secureJsonData).toBeUndefined();

    rerender(
      <ConfigEditor
        options={settings({ jsonData: { target: 'eu', sidecarAddress: 'pgpulse-eu.internal:7701' } })}
        onOptionsChange={onOptionsChange}
      />
    );
    expect(screen.getByTestId(S.sidecarAddress)).toHaveValue('pgpulse-eu.internal:7701');
    await userEvent.clear(screen.getByTestId(S.sidecarAddress));
    expect(onOptionsChange).toHaveBeenLastCalledWith(expect.objectContaining({ jsonData: { target: 'eu' } }));
  });

  it('does not call the backend before the datasource exists', async () => {
    render(<ConfigEditor options={settings({ uid: '' })} onOptionsChange={jest.fn()} />);
    await userEvent.click(screen.getByTestId(S.target));
    expect(await screen.findByTestId(S.targetsNote)).toHaveTextContent('Save the datasource once');
    expect(requests).toHaveLength(0);
  });
});
