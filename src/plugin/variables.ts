/**
 * Query variables ($database, $table …) fed by the backend's list resources. The editor stores a
 * PgpulseVariableQuery; the answer is a frame with text/value fields, which Grafana turns into
 * variable options.
 */
import {
  CustomVariableSupport,
  FieldType,
  createDataFrame,
  type DataQueryRequest,
  type DataQueryResponse,
} from '@grafana/data';
import { from, map, type Observable } from 'rxjs';

import { VariableQueryEditor } from './components/VariableQueryEditor';
import type { DataSource } from './datasource';
import {
  listResources,
  type ListResource,
  type PgpulseOptions,
  type PgpulseQuery,
  type PgpulseVariableQuery,
} from './types';

function isListResource(v: unknown): v is ListResource {
  return typeof v === 'string' && (listResources as readonly string[]).includes(v);
}

/**
 * Accept what dashboards may hold: the current object, or a legacy string such as
 * "tables" or "tables?schema=public&database=app".
 */
export function toVariableQuery(raw: unknown): PgpulseVariableQuery {
  if (typeof raw === 'string') {
    const [name, qs] = raw.trim().split('?', 2);
    const params = new URLSearchParams(qs ?? '');
    const q: PgpulseVariableQuery = {
      refId: 'PgpulseVariableQuery',
      resource: isListResource(name) ? name : 'databases',
    };
    for (const k of ['target', 'database', 'schema', 'table'] as const) {
      const v = params.get(k);
      if (v) {
        q[k] = v;
      }
    }
    return q;
  }
  const o = (raw && typeof raw === 'object' ? raw : {}) as Partial<PgpulseVariableQuery>;
  return {
    ...o,
    refId: o.refId ?? 'PgpulseVariableQuery',
    resource: isListResource(o.resource) ? o.resource : 'databases',
  };
}

export class PgpulseVariableSupport extends CustomVariableSupport<
  DataSource,
  PgpulseVariableQuery,
  PgpulseQuery,
  PgpulseOptions
> {
  editor = VariableQueryEditor;

  constructor(private readonly datasource: DataSource) {
    super();
  }

  query(request: DataQueryRequest<PgpulseVariableQuery>): Observable<DataQueryResponse> {
    const vq = toVariableQuery(request.targets[0]);
    return from(this.datasource.listOptions(vq.resource, vq, request.scopedVars)).pipe(
      map((opts) => ({
        data: [
          createDataFrame({
            refId: vq.refId,
            fields: [
              { name: 'text', type: FieldType.string, values: opts.map((o) => o.label) },
              { name: 'value', type: FieldType.string, values: opts.map((o) => o.value) },
            ],
          }),
        ],
      }))
    );
  }
}
