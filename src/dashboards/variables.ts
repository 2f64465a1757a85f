/**
 * Dashboard variables. target / database / queryid are answered by the pgpulse datasource's
 * variable support (src/plugin/variables.ts, CustomVariableSupport): the stored query is a
 * PgpulseVariableQuery `{ refId, resource, target?, database? }`; the datasource interpolates the
 * filters and lists the backend resource (GET resources/<resource>?target=&database=).
 *
 *   { resource: 'targets' }                                      → every monitored target
 *   { resource: 'databases', target: '$target' }                 → databases of that target
 *   { resource: 'queryids', target: '$target', database: '$database' } → statements (value = queryid)
 *
 * The All option of database / queryid interpolates to ALL_VALUE ("*"), which means "no filter".
 */
import type { Builder } from '@grafana/grafana-foundation-sdk/cog';
import {
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
  type VariableModel,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { ALL_VALUE, DATASOURCE_NAME, DATASOURCE_UID, DEFAULT_TARGET, PANEL_DATASOURCE, PLUGIN_ID } from './constants';

const VARIABLE_REF_ID = 'PgpulseVariableQuery';

export const VARIABLE_QUERIES = {
  target: { refId: VARIABLE_REF_ID, resource: 'targets' },
  database: { refId: VARIABLE_REF_ID, resource: 'databases', target: '$target' },
  queryid: { refId: VARIABLE_REF_ID, resource: 'queryids', target: '$target', database: '$database' },
} as const;

/** What the variable editor shows for a stored query. */
function definition(q: { resource: string; target?: string; database?: string }): string {
  const filters = (['target', 'database'] as const).filter((k) => q[k] !== undefined).map((k) => `${k}=${q[k]}`);
  return filters.length ? `${q.resource}?${filters.join('&')}` : q.resource;
}

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
    .query({ ...VARIABLE_QUERIES.target })
    .definition(definition(VARIABLE_QUERIES.target))
    .current({ text: DEFAULT_TARGET, value: DEFAULT_TARGET, selected: true })
    .refresh(VariableRefresh.OnDashboardLoad)
    .sort(VariableSort.AlphabeticalAsc);
}

export function databaseVariable(): Builder<VariableModel> {
  return new QueryVariableBuilder('database')
    .label('Database')
    .description('Narrows per-database panels; All shows every database of the target.')
    .datasource(PANEL_DATASOURCE)
    .query({ ...VARIABLE_QUERIES.database })
    .definition(definition(VARIABLE_QUERIES.database))
    .includeAll(true)
    .allValue(ALL_VALUE)
    .current({ text: 'All', value: '$__all', selected: true })
    .refresh(VariableRefresh.OnDashboardLoad)
    .sort(VariableSort.AlphabeticalAsc);
}

export function queryidVariable(): Builder<VariableModel> {
  return new QueryVariableBuilder('queryid')
    .label('Statement (queryid)')
    .description(
      'One pg_stat_statements entry to drill into; All aggregates every statement. Click a queryid in Top queries to set it.'
    )
    .datasource(PANEL_DATASOURCE)
    .query({ ...VARIABLE_QUERIES.queryid })
    .definition(definition(VARIABLE_QUERIES.queryid))
    .includeAll(true)
    .allValue(ALL_VALUE)
    .current({ text: 'All', value: '$__all', selected: true })
    .refresh(VariableRefresh.OnTimeRangeChanged);
}
