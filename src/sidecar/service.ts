/**
 * The one service every transport calls: the HTTP API, the Grafana plugin protocol (gRPC) and the
 * CLI. Transports authenticate, translate and serialise; they never compute.
 */
import type { DataResponse } from '../model/frames';

export interface QueryRequest {
  from: number;
  to: number;
  maxDataPoints?: number;
  intervalMs?: number;
  /** raw query objects as Grafana stores them: validated per refId by the service */
  queries: Array<Record<string, unknown>>;
}

export interface QueryContext {
  /** the datasource's jsonData.target, used when a query names none */
  defaultTarget?: string;
  /** aborted when the client goes away: queued work is dropped, running work stops */
  signal?: AbortSignal;
}

export type HealthStatus = 'ok' | 'error';

export interface HealthReport {
  status: HealthStatus;
  /** one paragraph a person reads in "Save & test" */
  message: string;
  details: {
    target: string;
    reachable: boolean;
    serverVersion?: string;
    extensions: Record<string, { installed: boolean; version?: string; hint?: string }>;
    lastSampleAgeSeconds?: number | null;
    neonState?: string;
    problems: string[];
  };
}

export interface ResourceContext extends QueryContext {
  method?: string;
  body?: unknown;
  /** grafana: came through CallResource (any datasource user); api: the sidecar's HTTP API */
  via?: 'grafana' | 'api';
  /** Grafana's signed-in user, when the call came through Grafana */
  user?: { login?: string; role?: string } | null;
}

export interface ResourceResponse {
  status: number;
  body: unknown;
}

export interface PgpulseService {
  /** answers every refId; a failing query has `error`, the others still answer */
  query(req: QueryRequest, ctx: QueryContext): Promise<Record<string, DataResponse>>;
  health(target: string | undefined): Promise<HealthReport>;
  /** editor helpers and variables: path like "catalog", "targets", "databases", "tables" */
  resource(path: string, params: URLSearchParams, ctx: ResourceContext): Promise<ResourceResponse>;
  /** Prometheus text of the sidecar's own metrics */
  metricsText(): Promise<string>;
}
