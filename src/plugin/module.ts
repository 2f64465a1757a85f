/**
 * Grafana loads dist/module.js and reads `plugin`. Queries, variables and annotations all run on
 * the backend (the pgpulse sidecar) through DataSourceWithBackend.
 */
import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { DataSource } from './datasource';
import type { PgpulseOptions, PgpulseQuery, PgpulseSecureJsonData } from './types';

export const plugin = new DataSourcePlugin<DataSource, PgpulseQuery, PgpulseOptions, PgpulseSecureJsonData>(DataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
