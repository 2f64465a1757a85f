/**
 * A small PgpulseService for transport tests: deterministic frames from the request itself, and a
 * record of every call so tests can check what the transport passed on.
 */
import type { DataResponse, Frame } from '../../../src/model/frames';
import type {
  HealthReport,
  PgpulseService,
  QueryContext,
  QueryRequest,
  ResourceResponse,
} from '../../../src/sidecar/service';

export const FAKE_METRICS = [
  {
    id: 'tps',
    title: 'Transactions per second',
    description: 'commits+rollbacks per second',
    unit: 'reqps',
    kind: 'series',
    options: ['database'],
  },
  { id: 'connections', title: 'Connections', description: 'backends', unit: 'short', kind: 'instant', options: [] },
  {
    id: 'top_queries',
    title: 'Top queries',
    description: 'by total time',
    unit: 'ms',
    kind: 'table',
    options: ['topN'],
  },
];

/** the value the fake reports for a series point: a pure function tests recompute */
export function fakeValue(t: number, database: string): number {
  return ((t / 1000) % 97) + database.length;
}

export interface FakeCall {
  req: QueryRequest;
  ctx: QueryContext;
}

export class FakeService implements PgpulseService {
  calls: FakeCall[] = [];
  resourceCalls: Array<{ path: string; params: Record<string, string>; ctx: unknown }> = [];
  healthTargets: Array<string | undefined> = [];
  failNextQuery = false;

  async query(req: QueryRequest, ctx: QueryContext): Promise<Record<string, DataResponse>> {
    this.calls.push({ req, ctx });
    if (this.failNextQuery) {
      this.failNextQuery = false;
      throw new Error('store is locked (postgres://u:secret@db/x)');
    }
    const out: Record<string, DataResponse> = {};
    for (const q of req.queries) {
      const refId = String(q.refId);
      out[refId] = this.one(q, req);
    }
    return out;
  }

  private one(q: Record<string, unknown>, req: QueryRequest): DataResponse {
    const step = req.intervalMs ?? 15_000;
    switch (q.metric) {
      case 'tps': {
        const dbs = typeof q.database === 'string' ? [q.database] : ['app', 'postgres'];
        const times: number[] = [];
        for (let t = Math.ceil(req.from / step) * step; t <= req.to && times.length < 1000; t += step) {
          times.push(t);
        }
        const frames: Frame[] = dbs.map((db) => ({
          name: 'tps',
          meta: { type: 'timeseries-multi', typeVersion: [0, 1], executedQueryString: 'fake tps' },
          fields: [
            { name: 'time', type: 'time', values: times },
            {
              name: 'value',
              type: 'number',
              values: times.map((t, i) => (i === 1 ? null : fakeValue(t, db))),
              labels: { database: db },
              config: { unit: 'reqps' },
            },
          ],
        }));
        return { frames };
      }
      case 'connections':
        return {
          frames: [
            {
              name: 'connections',
              meta: { type: 'numeric-multi', typeVersion: [0, 1], executedQueryString: 'fake connections' },
              fields: [
                {
                  name: 'value',
                  type: 'number',
                  values: [7],
                  labels: { target: 'default' },
                  config: { unit: 'short' },
                },
              ],
            },
          ],
        };
      case 'top_queries':
        return {
          frames: [
            {
              name: 'top_queries',
              meta: { type: 'table' },
              fields: [
                { name: 'query', type: 'string', values: ['SELECT $1', 'UPDATE t SET x = $1'] },
                { name: 'total_time', type: 'number', values: [12.5, 3] },
              ],
            },
          ],
        };
      default:
        return {
          frames: [],
          error: `metric: unknown metric "${String(q.metric).slice(0, 80)}"; pick one from GET /api/v1/catalog`,
          status: 400,
          errorSource: 'plugin',
        };
    }
  }

  async health(target: string | undefined): Promise<HealthReport> {
    this.healthTargets.push(target);
    return {
      status: target === 'down' ? 'error' : 'ok',
      message:
        target === 'down'
          ? 'target down is unreachable: connection refused'
          : 'pgpulse sidecar up; PostgreSQL 15.4 reachable',
      details: {
        target: target ?? 'default',
        reachable: target !== 'down',
        serverVersion: '15.4',
        extensions: { pg_stat_statements: { installed: true } },
        lastSampleAgeSeconds: 3,
        problems: [],
      },
    };
  }

  async resource(
    path: string,
    params: URLSearchParams,
    ctx: QueryContext & { method?: string; body?: unknown }
  ): Promise<ResourceResponse> {
    this.resourceCalls.push({ path, params: Object.fromEntries(params), ctx });
    switch (path) {
      case 'catalog':
        return { status: 200, body: { metrics: FAKE_METRICS } };
      case 'targets':
        return { status: 200, body: [{ name: 'default' }] };
      case 'databases':
        return {
          status: 200,
          body: [{ name: 'app' }, { name: 'postgres' }].filter(
            (d) => !params.get('target') || params.get('target') !== 'none'
          ),
        };
      case 'boom':
        throw new Error('kaboom password=hunter2');
      default:
        return { status: 404, body: { error: `unknown resource "${path.slice(0, 80)}"` } };
    }
  }

  async metricsText(): Promise<string> {
    return '# HELP pgpulse_up 1\n# TYPE pgpulse_up gauge\npgpulse_up 1\n';
  }
}
