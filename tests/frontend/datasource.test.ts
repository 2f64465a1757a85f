import { CoreApp, dateTime, type DataQueryRequest, type DataFrame } from '@grafana/data';
import { lastValueFrom } from 'rxjs';

import { findMetric } from '../../src/model/catalog';
import { QUERY_SCHEMA_VERSION } from '../../src/model/query';
import { templatedKeys } from '../../src/plugin/datasource';
import type { PgpulseQuery, PgpulseVariableQuery } from '../../src/plugin/types';
import { toVariableQuery, type PgpulseVariableSupport } from '../../src/plugin/variables';
import { installBackendSrv, installTemplateSrv, makeDatasource, type RecordedRequest } from './helpers';

const vars: Record<string, string> = {
  tgt: 'prod-eu',
  db: 'shop',
  sch: 'sales',
  tbl: 'orders',
  idx: 'orders_customer_idx',
  qid: '-4213859129',
  wev: 'Lock/transactionid',
  leg: 'db {{datname}}',
};

describe('DataSource', () => {
  let requests: RecordedRequest[];
  beforeEach(() => {
    installTemplateSrv(vars);
    requests = installBackendSrv((req) => {
      if (req.url.startsWith('/api/ds/query')) {
        return { results: { A: { frames: [] } } };
      }
      if (req.url.endsWith('/resources/tables')) {
        return [{ name: 'orders', schema: 'sales' }, { name: 'customers' }];
      }
      if (req.url.endsWith('/resources/catalog')) {
        return { metrics: [{ id: 'tps', title: 'Transactions per second' }] };
      }
      return [];
    });
  });

  it('replaces template variables in every string option, and only there', () => {
    const ds = makeDatasource();
    const names: Record<string, string> = {
      target: 'tgt',
      database: 'db',
      schema: 'sch',
      table: 'tbl',
      index: 'idx',
      queryid: 'qid',
      waitEvent: 'wev',
      legend: 'leg',
    };
    // every templated key of the model is covered by this test
    expect(Object.keys(names).sort()).toEqual([...templatedKeys].sort());
    const query: PgpulseQuery = { refId: 'A', metric: 'cache_hit_ratio', topN: 5, threshold: 12.5 };
    for (const [key, v] of Object.entries(names)) {
      (query as Record<string, unknown>)[key] = key === 'legend' ? `$${v}` : `\${${v}}`;
    }
    const out = ds.applyTemplateVariables(query, {});
    for (const [key, v] of Object.entries(names)) {
      expect((out as Record<string, unknown>)[key]).toBe(vars[v]);
    }
    expect(out.topN).toBe(5);
    expect(out.threshold).toBe(12.5);
    expect(out.metric).toBe('cache_hit_ratio');
  });

  it('prefers scoped variables (repeated panels) over dashboard variables', () => {
    const ds = makeDatasource();
    const out = ds.applyTemplateVariables(
      { refId: 'A', metric: 'dead_tuples', table: '$tbl' },
      { tbl: { text: 'items', value: 'items' } }
    );
    expect(out.table).toBe('items');
  });

  it('leaves a numeric queryid alone', () => {
    const ds = makeDatasource();
    const out = ds.applyTemplateVariables(
      { refId: 'A', metric: 'statement_latency', queryid: 42 as unknown as string },
      {}
    );
    expect(out.queryid).toBe(42);
  });

  it('migrates the pre-release shape (metricId, limit) before sending', () => {
    const ds = makeDatasource();
    const legacy = { refId: 'A', metricId: 'top_queries', limit: 7 } as unknown as PgpulseQuery;
    const out = ds.applyTemplateVariables(legacy, {});
    expect(out.metric).toBe('top_queries');
    expect(out.topN).toBe(7);
    expect(out.schemaVersion).toBe(QUERY_SCHEMA_VERSION);
    expect('metricId' in out).toBe(false);
    expect('limit' in out).toBe(false);
  });

  it('filters hidden and metric-less queries, keeps legacy ones', () => {
    const ds = makeDatasource();
    expect(ds.filterQuery({ refId: 'A', metric: 'tps' })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', metric: 'tps', hide: true })).toBe(false);
    expect(ds.filterQuery({ refId: 'A' } as PgpulseQuery)).toBe(false);
    expect(ds.filterQuery({ refId: 'A', metric: '  ' })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', metricId: 'tps' } as unknown as PgpulseQuery)).toBe(true);
  });

  it('offers a default query that names a catalog metric', () => {
    const ds = makeDatasource();
    for (const app of [CoreApp.PanelEditor, CoreApp.Explore, CoreApp.UnifiedAlerting]) {
      const q = ds.getDefaultQuery(app);
      expect(findMetric(q.metric!)).toBeDefined();
      expect(findMetric(q.metric!)!.alertable).toBe(true);
      expect(q.schemaVersion).toBe(QUERY_SCHEMA_VERSION);
    }
  });

  it('posts interpolated queries to /api/ds/query', async () => {
    const ds = makeDatasource();
    const request = {
      requestId: 'r1',
      interval: '15s',
      intervalMs: 15000,
      maxDataPoints: 500,
      range: { from: dateTime(1_700_000_000_000), to: dateTime(1_700_000_360_000), raw: { from: 'now-6m', to: 'now' } },
      scopedVars: {},
      timezone: 'utc',
      app: CoreApp.PanelEditor,
      startTime: 0,
      targets: [{ refId: 'A', metric: 'dead_tuples', schema: '$sch', table: '$tbl' }],
    } as unknown as DataQueryRequest<PgpulseQuery>;
    await lastValueFrom(ds.query(request));
    const post = requests.find((r) => r.url.startsWith('/api/ds/query'))!;
    const body = post.data as { from: string; to: string; queries: Array<Record<string, unknown>> };
    expect(body.from).toBe('1700000000000');
    expect(body.to).toBe('1700000360000');
    expect(body.queries[0]).toMatchObject({
      refId: 'A',
      metric: 'dead_tuples',
      schema: 'sales',
      table: 'orders',
      maxDataPoints: 500,
      intervalMs: 15000,
    });
    expect(body.queries[0].datasource).toMatchObject({ uid: 'pgpulse-test', type: 'pgpulse-postgres-datasource' });
  });

  it('feeds variables from the backend resources, with filters interpolated', async () => {
    const ds = makeDatasource({ target: 'default' });
    const values = await ds.metricFindQuery({ refId: 'V', resource: 'tables', database: '$db', schema: '$sch' });
    expect(values).toEqual([
      { text: 'orders', value: 'orders' },
      { text: 'customers', value: 'customers' },
    ]);
    const req = requests[requests.length - 1];
    expect(req.url).toBe('/api/datasources/uid/pgpulse-test/resources/tables');
    expect(req.params).toEqual({ target: 'default', database: 'shop', schema: 'sales' });
  });

  it('reads legacy string variable queries', async () => {
    expect(toVariableQuery('indexes?table=orders&schema=sales')).toEqual({
      refId: 'PgpulseVariableQuery',
      resource: 'indexes',
      table: 'orders',
      schema: 'sales',
    });
    const ds = makeDatasource();
    const values = await ds.metricFindQuery('metrics');
    expect(values).toEqual([{ text: 'Transactions per second', value: 'tps' }]);
    expect(requests[requests.length - 1].url).toBe('/api/datasources/uid/pgpulse-test/resources/catalog');
  });

  it('answers variable queries as a text/value frame', async () => {
    const ds = makeDatasource();
    const support = ds.variables as PgpulseVariableSupport;
    const rsp = await lastValueFrom(
      support.query({
        targets: [{ refId: 'V', resource: 'tables' } as PgpulseVariableQuery],
        scopedVars: {},
      } as unknown as DataQueryRequest<PgpulseVariableQuery>)
    );
    const frame = rsp.data[0] as DataFrame;
    expect(frame.fields.map((f) => f.name)).toEqual(['text', 'value']);
    expect(frame.fields[1].values).toEqual(['orders', 'customers']);
  });

  it('runs annotations from the events metric', () => {
    const ds = makeDatasource();
    const anno = ds.annotations!;
    expect(findMetric('events')).toBeDefined();
    expect(anno.getDefaultQuery!()).toEqual({ metric: 'events' });
    const prepared = anno.prepareAnnotation!({ name: 'pgpulse', enable: true, iconColor: 'red' } as never) as {
      target: PgpulseQuery;
    };
    expect(prepared.target.metric).toBe('events');
    const q = anno.prepareQuery!({
      name: 'x',
      enable: true,
      iconColor: 'red',
      target: { refId: '', metric: 'events', database: 'shop' },
    } as never)!;
    expect(q).toMatchObject({ refId: 'Anno', metric: 'events', database: 'shop' });
  });

  it('shows a readable one-line summary', () => {
    const ds = makeDatasource();
    expect(ds.getQueryDisplayText({ refId: 'A', metric: 'dead_tuples', table: 'orders' })).toBe(
      'Dead tuples table=orders'
    );
  });
});
