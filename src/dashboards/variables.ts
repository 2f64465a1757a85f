/**
 * Dashboard variables. The target/database/queryid variables are answered by the pgpulse
 * datasource's variable support (metricFindQuery), with this query-string contract:
 *
 *   targets                                   → one option per monitored target (text = value = name)
 *   databases target=<t>                      → databases of target t
 *   queryids target=<t> database=<d>          → statements seen in the selected time range,
 *                                               value = queryid, text = a short query text
 *
 * Words after the kind are key=value filters; the datasource interpolates dashboard variables in
 * them, and a value equal to ALL_VALUE ("*") means "no filter".
 */
import type { Builder } from '@grafana/grafana-foundation-sdk/cog';
import { DatasourceVariableBuilder, QueryVariableBuilder, VariableRefresh, VariableSort, type VariableModel } from '@grafana/grafana-foundation-sdk/dashboard';
import { ALL_VALUE, DATASOURCE_NAME, DATASOURCE_UID, DEFAULT_TARGET, PANEL_DATASOURCE, PLUGIN_ID } from './constants';

export const VARIABLE_QUERIES = {
  target: 'targets',
  database: 'databases target=$target',
  queryid: 'queryids target=$target database=$database',
} as const;

export function datasourceVariable(): Builder<VariableModel> {
  return new DatasourceVariableBuilder('datasource')
    .label('Datasource')
    .type(PLUGIN_ID)
    .current({ text: DATASOURCE_NAME, value: DATASOURCE_UID, selected: true });
}

export function targetVariable(): Builder<VariableModel> {
  return new QueryVariableBuilder('target')
    .label('Target')
    .description('Which monitored PostgreSQL / Neon target (sidecar config; DATABASE_URL is "default").')
    .datasource(PANEL_DATASOURCE)
    .query(VARIABLE_QUERIES.target)
    .definition(VARIABLE_QUERIES.target)
    .current({ text: DEFAULT_TARGET, value: DEFAULT_TARGET, selected: true })
    .refresh(VariableRefresh.OnDashboardLoad)
    .sort(VariableSort.AlphabeticalAsc);
}

export function databaseVariable(): Builder<VariableModel> {
  return new QueryVariableBuilder('database')
    .label('Database')
    .description('Narrows per-database panels; All shows every database of the target.')
    .datasource(PANEL_DATASOURCE)
    .query(VARIABLE_QUERIES.database)
    .definition(VARIABLE_QUERIES.database)
    .includeAll(true)
    .allValue(ALL_VALUE)
    .current({ text: 'All', value: '$__all', selected: true })
    .refresh(VariableRefresh.OnDashboardLoad)
    .sort(VariableSort.AlphabeticalAsc);
}

export function queryidVariable(): Builder<VariableModel> {
  return new QueryVariableBuilder('queryid')
    .label('Statement (queryid)')
    .description('One pg_stat_statements entry to drill into; All aggregates every statement. Click a queryid in Top queries to set it.')
    .datasource(PANEL_DATASOURCE)
    .query(VARIABLE_QUERIES.queryid)
    .definition(VARIABLE_QUERIES.queryid)
    .includeAll(true)
    .allValue(ALL_VALUE)
    .current({ text: 'All', value: '$__all', selected: true })
    .refresh(VariableRefresh.OnTimeRangeChanged);
}
