/**
 * Test doubles for the Grafana services a plugin reaches through @grafana/runtime: a backendSrv
 * that records requests and answers from a table, and a templateSrv that substitutes variables
 * the way Grafana's does for plain values ($var, ${var}, [[var]], scoped vars first).
 */
import type { DataSourceInstanceSettings, ScopedVars } from '@grafana/data';
import {
  setBackendSrv,
  setTemplateSrv,
  type BackendSrv,
  type BackendSrvRequest,
  type TemplateSrv,
} from '@grafana/runtime';
import { of, throwError } from 'rxjs';

import { DataSource } from '../../src/plugin/datasource';
import type { PgpulseOptions } from '../../src/plugin/types';

export interface RecordedRequest {
  url: string;
  method: string;
  params?: Record<string, string>;
  data?: unknown;
}

export type Responder = (req: RecordedRequest) => unknown;

export function installBackendSrv(respond: Responder) {
  const requests: RecordedRequest[] = [];
  const handle = (options: BackendSrvRequest) => {
    const req: RecordedRequest = {
      url: options.url,
      method: options.method ?? 'GET',
      params: options.params,
      data: options.data,
    };
    requests.push(req);
    try {
      const data = respond(req);
      return {
        data,
        status: 200,
        ok: true,
        headers: new Headers(),
        redirected: false,
        statusText: 'OK',
        type: 'basic',
        url: options.url,
        config: options,
      };
    } catch (e) {
      throw e;
    }
  };
  const srv = {
    fetch: (options: BackendSrvRequest) => {
      try {
        return of(handle(options));
      } catch (e) {
        return throwError(() => e);
      }
    },
    get: async (url: string, params?: Record<string, string>) => handle({ url, params, method: 'GET' }).data,
    post: async (url: string, data?: unknown) => handle({ url, data, method: 'POST' }).data,
  } as unknown as BackendSrv;
  setBackendSrv(srv);
  return requests;
}

export function installTemplateSrv(vars: Record<string, string>) {
  const lookup = (name: string, scoped?: ScopedVars) => {
    const s = scoped?.[name];
    if (s && s.value !== undefined) {
      return String(s.value);
    }
    return vars[name];
  };
  const srv = {
    getVariables: () => Object.keys(vars).map((name) => ({ name, label: name, type: 'custom' })),
    replace: (target?: string, scopedVars?: ScopedVars) =>
      (target ?? '').replace(
        /\$\{(\w+)\}|\[\[(\w+)\]\]|\$(\w+)/g,
        (m, a, b, c) => lookup(a ?? b ?? c, scopedVars) ?? m
      ),
    containsTemplate: (t?: string) => /\$\w|\$\{|\[\[/.test(t ?? ''),
    updateTimeRange: () => {},
  } as unknown as TemplateSrv;
  setTemplateSrv(srv);
  return srv;
}

export function instanceSettings(
  jsonData: PgpulseOptions = { target: 'default' }
): DataSourceInstanceSettings<PgpulseOptions> {
  return {
    id: 7,
    uid: 'pgpulse-test',
    type: 'pgpulse-postgres-datasource',
    name: 'pgpulse',
    access: 'proxy',
    readOnly: false,
    jsonData,
    meta: {
      id: 'pgpulse-postgres-datasource',
      name: 'pgpulse',
      type: 'datasource',
      info: {
        author: { name: 'pgpulse' },
        description: '',
        links: [],
        logos: { small: '', large: '' },
        screenshots: [],
        updated: '',
        version: '',
      },
      module: '',
      baseUrl: '',
    },
  } as unknown as DataSourceInstanceSettings<PgpulseOptions>;
}

export function makeDatasource(jsonData?: PgpulseOptions) {
  return new DataSource(instanceSettings(jsonData));
}
