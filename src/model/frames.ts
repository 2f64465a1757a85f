/**
 * Transport-neutral data frames. The engine builds these; the HTTP API serialises them as
 * Grafana's data-frame JSON and the plugin protocol as Arrow IPC files, so both answer with the
 * same numbers by construction.
 */
export type FieldType = 'time' | 'number' | 'string' | 'boolean';

export interface FieldConfig {
  displayName?: string;
  displayNameFromDS?: string;
  unit?: string;
  decimals?: number;
  min?: number;
  max?: number;
  description?: string;
  links?: Array<{ title: string; url: string }>;
  /** Grafana's field color, e.g. { mode: 'fixed', fixedColor: 'orange' } (node graph arcs) */
  color?: { mode: string; fixedColor?: string };
  custom?: Record<string, unknown>;
}

export interface Field {
  name: string;
  type: FieldType;
  /** time values are epoch milliseconds */
  values: Array<number | string | boolean | null>;
  labels?: Record<string, string>;
  config?: FieldConfig;
  /** true when values may hold null; time fields of series never do */
  nullable?: boolean;
}

export type FrameType = 'timeseries-multi' | 'numeric-multi' | 'table';

export interface FrameMeta {
  type?: FrameType;
  typeVersion?: [number, number];
  executedQueryString?: string;
  notices?: Array<{ severity: 'info' | 'warning' | 'error'; text: string }>;
  custom?: Record<string, unknown>;
  preferredVisualisationType?: 'graph' | 'table' | 'logs' | 'trace' | 'nodeGraph';
}

export interface Frame {
  name?: string;
  refId?: string;
  meta?: FrameMeta;
  fields: Field[];
}

export interface DataResponse {
  frames: Frame[];
  error?: string;
  /** who is at fault, as Grafana's DataResponse.errorSource */
  errorSource?: 'plugin' | 'downstream';
  /** HTTP-like status: 400 bad query, 404 unknown target, 503 target unreachable, 500 bug */
  status?: number;
}

/** Grafana's data frame JSON (`/api/ds/query` results[refId].frames[i]). */
export interface FrameJSON {
  schema: {
    name?: string;
    refId?: string;
    meta?: FrameMeta;
    fields: Array<{ name: string; type: FieldType; labels?: Record<string, string>; config?: FieldConfig }>;
  };
  data: { values: Array<Array<number | string | boolean | null>> };
}

export function frameToJSON(frame: Frame): FrameJSON {
  return {
    schema: {
      name: frame.name,
      refId: frame.refId,
      meta: frame.meta,
      fields: frame.fields.map((f) => ({
        name: f.name,
        type: f.type,
        ...(f.labels ? { labels: f.labels } : {}),
        ...(f.config ? { config: f.config } : {}),
      })),
    },
    data: { values: frame.fields.map((f) => f.values) },
  };
}
