/**
 * Frontend-side types of the pgpulse datasource. The query itself is the shared model in
 * src/model/query.ts: the frontend never invents fields the backend does not know.
 */
import type { DataSourceJsonData } from '@grafana/data';
import type { PgpulseQuery } from '../model/query';

export type { PgpulseQuery };

/** jsonData is readable by every viewer of the datasource: nothing secret goes here. */
export interface PgpulseOptions extends DataSourceJsonData {
  /** which monitored target of the sidecar this datasource shows when a query names none */
  target?: string;
  /**
   * host:port of this datasource's own sidecar (its gRPC listener), when Grafana starts the plugin
   * process (local mode): one Grafana, a sidecar per region or team. Empty: the plugin's sidecar.
   */
  sidecarAddress?: string;
}

/** secureJsonData is write-only from the browser; Grafana decrypts it only for the backend. */
export interface PgpulseSecureJsonData {
  /** the sidecar token (PGPULSE_TOKEN) */
  token?: string;
}

/** Backend resources that list things an editor or a variable can pick from. */
export const listResources = ['targets', 'databases', 'schemas', 'tables', 'indexes', 'queryids', 'metrics'] as const;
export type ListResource = (typeof listResources)[number];

/** A query variable: which list to fetch, narrowed by the filters above it. */
export interface PgpulseVariableQuery {
  refId: string;
  resource: ListResource;
  target?: string;
  database?: string;
  schema?: string;
  table?: string;
}

/** One pickable value as the editors use it. */
export interface PickOption {
  value: string;
  label: string;
  description?: string;
}
