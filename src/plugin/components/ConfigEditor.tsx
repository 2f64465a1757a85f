/**
 * Datasource settings: which sidecar target to show and the sidecar token. The plugin's sidecar
 * address is Grafana server configuration ([plugin.pgpulse-postgres-datasource] sidecar_address,
 * read by the locator). When Grafana starts the plugin process itself (mode = local), a datasource
 * may name its own sidecar instead (jsonData.sidecarAddress; src/sidecar/grafana/routing.ts), so
 * one Grafana can use a sidecar per region or team; that field is visible to whoever can read
 * the datasource's settings, the token never is.
 * "Save & test" runs the backend's CheckHealth (DataSourceWithBackend does that for us).
 */
import type { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { getBackendSrv } from '@grafana/runtime';
import { Combobox, type ComboboxOption, Field, FieldSet, Input, SecretInput, Stack, Text, TextLink } from '@grafana/ui';
import React, { useCallback, useEffect, useState } from 'react';
import { lastValueFrom } from 'rxjs';

import { toPickOptions } from '../resources';
import { selectors } from '../selectors';
import type { PgpulseOptions, PgpulseSecureJsonData } from '../types';

export type Props = DataSourcePluginOptionsEditorProps<PgpulseOptions, PgpulseSecureJsonData>;

export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData, secureJsonFields, secureJsonData } = options;
  const [targetsNote, setTargetsNote] = useState<string | undefined>();
  // "Save & test" saves a new version of the settings (a new token, say): a hint about the old
  // ones would stand stale above the green banner, so it goes until the list is asked for again
  useEffect(() => setTargetsNote(undefined), [options.version, options.uid]);

  const loadTargets = useCallback(
    async (input: string): Promise<Array<ComboboxOption<string>>> => {
      if (!options.uid) {
        setTargetsNote('Save the datasource once to list the sidecar’s targets; until then type the target name.');
        return [];
      }
      try {
        const rsp = await lastValueFrom(
          getBackendSrv().fetch<unknown>({
            url: `/api/datasources/uid/${encodeURIComponent(options.uid)}/resources/targets`,
            method: 'GET',
            showErrorAlert: false,
          })
        );
        setTargetsNote(undefined);
        const needle = input.trim().toLowerCase();
        return toPickOptions(rsp.data, 'targets')
          .filter((o) => !needle || o.label.toLowerCase().includes(needle))
          .map((o) => ({ value: o.value, label: o.label, description: o.description }));
      } catch (e) {
        const status = (e as { status?: number })?.status;
        setTargetsNote(
          status === 401 || status === 403
            ? 'The sidecar refused the token: set it below, then Save & test. You can type the target name meanwhile.'
            : 'Could not list the sidecar’s targets yet (Save & test shows why). You can type the target name.'
        );
        return [];
      }
    },
    [options.uid]
  );

  const setTarget = (target?: string) => {
    const next = { ...jsonData };
    if (target) {
      next.target = target;
    } else {
      delete next.target;
    }
    onOptionsChange({ ...options, jsonData: next });
  };

  const setSidecarAddress = (address: string) => {
    const next = { ...jsonData };
    if (address.trim()) {
      next.sidecarAddress = address.trim();
    } else {
      delete next.sidecarAddress;
    }
    onOptionsChange({ ...options, jsonData: next });
  };

  return (
    <div data-testid={selectors.configEditor.root}>
      <Stack direction="column" gap={2}>
        <div data-testid={selectors.configEditor.help} style={{ maxWidth: 720 }}>
          <Text element="p" color="secondary">
            pgpulse reads PostgreSQL, Neon and pgvector statistics from the pgpulse sidecar, which samples each target
            and keeps the history. Grafana reaches the sidecar through the plugin backend; set its address in the
            Grafana server configuration:
          </Text>
          <pre style={{ margin: '8px 0' }}>
            {'[plugin.pgpulse-postgres-datasource]\nsidecar_address = pgpulse:7701'}
          </pre>
          <Text element="p" color="secondary">
            Then choose the target below, paste the sidecar token (PGPULSE_TOKEN) and press Save &amp; test: it checks
            the connection, the PostgreSQL version, the extensions (pg_stat_statements, pgvector) and how fresh the
            samples are. {/* the plugin's own page in Grafana shows its README */}
            <TextLink href="/plugins/pgpulse-postgres-datasource" external>
              Documentation
            </TextLink>
          </Text>
        </div>

        <FieldSet label="Sidecar">
          <Field
            label="Sidecar address"
            description="Optional. host:port of this datasource’s own sidecar (its gRPC listener, PGPULSE_GRPC_ADDR), e.g. pgpulse-eu.internal:7701: one Grafana, a sidecar per region or team. Followed when Grafana starts the plugin itself (mode = local); empty uses the plugin’s sidecar. The token below is then that sidecar’s token."
          >
            <Input
              id="pgpulse-config-sidecar-address"
              data-testid={selectors.configEditor.sidecarAddress}
              value={jsonData.sidecarAddress ?? ''}
              placeholder="the plugin’s sidecar"
              width={40}
              onChange={(e) => setSidecarAddress(e.currentTarget.value)}
            />
          </Field>
          <Field
            label="Target"
            description="The monitored target (a name from the sidecar’s configuration, “default” for DATABASE_URL) that queries use when they name none."
          >
            <Combobox<string>
              id="pgpulse-config-target"
              data-testid={selectors.configEditor.target}
              options={loadTargets}
              value={jsonData.target ? { value: jsonData.target, label: jsonData.target } : null}
              onChange={(o) => setTarget(o?.value)}
              createCustomValue
              isClearable
              placeholder="default"
              width={40}
            />
          </Field>
          {targetsNote && (
            <div data-testid={selectors.configEditor.targetsNote}>
              <Text variant="bodySmall" color="secondary">
                {targetsNote}
              </Text>
            </div>
          )}
          <Field
            label="Token"
            description="The sidecar’s bearer token (PGPULSE_TOKEN). Stored encrypted; never sent back to the browser."
          >
            <SecretInput
              id="pgpulse-config-token"
              data-testid={selectors.configEditor.token}
              isConfigured={Boolean(secureJsonFields?.token)}
              value={secureJsonData?.token ?? ''}
              placeholder="sidecar token"
              width={40}
              onChange={(e) =>
                onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, token: e.currentTarget.value } })
              }
              onReset={() =>
                onOptionsChange({
                  ...options,
                  secureJsonFields: { ...secureJsonFields, token: false },
                  secureJsonData: { ...secureJsonData, token: '' },
                })
              }
            />
          </Field>
        </FieldSet>
      </Stack>
    </div>
  );
}
