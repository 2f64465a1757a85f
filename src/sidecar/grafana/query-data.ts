/**
 * pluginv2.Data/QueryData → PgpulseService.query.
 *
 * Each DataQuery carries its own time range (alert rules give every query its own relative
 * range), so queries are grouped by (range, maxDataPoints, intervalMS) and the service is called
 * once per group. Every refId gets an answer: a query that fails — bad JSON, bad range, service
 * error — gets DataResponse.error with a status and errorSource, and the others still answer.
 */
import { redact } from '../auth';
import { MAX_QUERIES_PER_REQUEST, refIdProblems } from '../limits';
import type { DataResponse, Frame } from '../../model/frames';
import type { PgpulseService, QueryContext } from '../service';
import { frameToArrow } from './arrow';
import { frameToSdkJSON } from './frame-json';
import type { GrpcLogger } from './hclog';
import { checkToken, defaultTarget, scrubToken, type WirePluginContext } from './plugin-context';

export interface WireDataQuery {
  refId?: string;
  maxDataPoints?: string | number;
  intervalMS?: string | number;
  timeRange?: { fromEpochMS?: string | number; toEpochMS?: string | number } | null;
  json?: Buffer | Uint8Array | null;
  queryType?: string;
}

export interface WireQueryDataRequest {
  pluginContext?: WirePluginContext | null;
  headers?: Record<string, string> | null;
  queries?: WireDataQuery[] | null;
  format?: 'ARROW' | 'JSON' | number;
}

export interface WireDataResponse {
  frames: Buffer[];
  error: string;
  status: number;
  errorSource: string;
  format: 'ARROW' | 'JSON';
}

export interface WireQueryDataResponse {
  responses: Record<string, WireDataResponse>;
}

/** Grafana's Date range is ±8.64e15 ms; anything past it is not a time. */
const MAX_EPOCH_MS = 8.64e15;

function errorResponse(
  message: string,
  status: number,
  source: 'plugin' | 'downstream',
  format: 'ARROW' | 'JSON'
): WireDataResponse {
  return { frames: [], error: message, status, errorSource: source, format };
}

function toInt(v: string | number | undefined | null): number {
  if (v === undefined || v === null || v === '') {
    return 0;
  }
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : NaN;
}

interface ParsedQuery {
  refId: string;
  from: number;
  to: number;
  maxDataPoints?: number;
  intervalMs?: number;
  query: Record<string, unknown>;
}

/** Parse one DataQuery, or say exactly what is wrong with it. */
export function parseDataQuery(q: WireDataQuery): ParsedQuery | { refId: string; error: string } {
  const refId = typeof q.refId === 'string' ? q.refId : '';
  const from = toInt(q.timeRange?.fromEpochMS);
  const to = toInt(q.timeRange?.toEpochMS);
  if (!q.timeRange) {
    return { refId, error: `query ${refId}: timeRange is missing; Grafana sends one with every query` };
  }
  if (!Number.isFinite(from) || Math.abs(from) > MAX_EPOCH_MS) {
    return { refId, error: `query ${refId}: timeRange.fromEpochMS is not a usable epoch time in milliseconds` };
  }
  if (!Number.isFinite(to) || Math.abs(to) > MAX_EPOCH_MS) {
    return { refId, error: `query ${refId}: timeRange.toEpochMS is not a usable epoch time in milliseconds` };
  }
  if (from > to) {
    return {
      refId,
      error: `query ${refId}: timeRange starts after it ends (from ${new Date(from).toISOString()} > to ${new Date(to).toISOString()}); pick a range whose start is before its end`,
    };
  }
  const raw = q.json ? Buffer.from(q.json).toString('utf8') : '';
  if (raw.trim() === '') {
    return { refId, error: `query ${refId}: the query model is empty; choose a metric in the query editor` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    return {
      refId,
      error: `query ${refId}: the query model is not valid JSON (${(e as Error).message.slice(0, 120)}); re-save the query in the query editor`,
    };
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return {
      refId,
      error: `query ${refId}: the query model must be a JSON object like {"metric":"tps"}, got ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed}`,
    };
  }
  const query: Record<string, unknown> = { ...(parsed as Record<string, unknown>), refId };
  if (query.queryType === undefined && typeof q.queryType === 'string' && q.queryType !== '') {
    query.queryType = q.queryType;
  }
  const maxDataPoints = toInt(q.maxDataPoints);
  const intervalMs = toInt(q.intervalMS);
  return {
    refId,
    from,
    to,
    maxDataPoints: Number.isFinite(maxDataPoints) && maxDataPoints > 0 ? maxDataPoints : undefined,
    intervalMs: Number.isFinite(intervalMs) && intervalMs > 0 ? intervalMs : undefined,
    query,
  };
}

function encodeResponse(refId: string, r: DataResponse, format: 'ARROW' | 'JSON', token: string): WireDataResponse {
  const frames: Buffer[] = [];
  for (const f of r.frames ?? []) {
    const frame: Frame = f.refId ? f : { ...f, refId };
    frames.push(
      format === 'JSON' ? Buffer.from(JSON.stringify(frameToSdkJSON(frame))) : Buffer.from(frameToArrow(frame))
    );
  }
  const error = r.error ? scrubToken(redact(r.error), token) : '';
  return {
    frames,
    error,
    status: r.status ?? (error ? 500 : 200),
    errorSource: error ? (r.errorSource ?? 'plugin') : '',
    format,
  };
}

export async function handleQueryData(
  service: PgpulseService,
  req: WireQueryDataRequest,
  token: string,
  logger: GrpcLogger,
  signal?: AbortSignal
): Promise<WireQueryDataResponse> {
  const format: 'ARROW' | 'JSON' = req.format === 'JSON' || req.format === 1 ? 'JSON' : 'ARROW';
  const queries = Array.isArray(req.queries) ? req.queries : [];
  const responses: Record<string, WireDataResponse> = {};

  const auth = checkToken(token, req.pluginContext);
  if (!auth.ok) {
    for (const q of queries) {
      responses[typeof q.refId === 'string' ? q.refId : ''] = errorResponse(auth.reason, 401, 'plugin', format);
    }
    logger.warn('QueryData refused: bad or missing sidecar token', { queries: queries.length });
    return { responses };
  }

  if (queries.length > MAX_QUERIES_PER_REQUEST) {
    const msg = `this QueryData request carries ${queries.length} queries; pgpulse answers at most ${MAX_QUERIES_PER_REQUEST} per request (as the HTTP API): split them over several panels or requests`;
    for (const q of queries) {
      responses[typeof q.refId === 'string' ? q.refId : ''] = errorResponse(msg, 400, 'plugin', format);
    }
    logger.warn('QueryData refused: too many queries', { queries: queries.length });
    return { responses };
  }
  // an empty or repeated refId cannot get an answer of its own: say so instead of overwriting one
  const refIdProblem = refIdProblems(queries.map((q) => (typeof q.refId === 'string' ? q.refId : '')));
  for (const [refId, problem] of refIdProblem) {
    responses[refId] = errorResponse(problem, 400, 'plugin', format);
  }

  const ctx: QueryContext = {
    defaultTarget: defaultTarget(req.pluginContext),
    signal,
  };
  const groups = new Map<string, ParsedQuery[]>();
  for (const q of queries) {
    if (refIdProblem.has(typeof q.refId === 'string' ? q.refId : '')) {
      continue;
    }
    const p = parseDataQuery(q);
    if ('error' in p) {
      responses[p.refId] = errorResponse(p.error, 400, 'plugin', format);
      continue;
    }
    const key = `${p.from}|${p.to}|${p.maxDataPoints ?? ''}|${p.intervalMs ?? ''}`;
    const g = groups.get(key) ?? [];
    g.push(p);
    groups.set(key, g);
  }

  await Promise.all(
    [...groups.values()].map(async (group) => {
      const first = group[0];
      let answers: Record<string, DataResponse>;
      try {
        answers = await service.query(
          {
            from: first.from,
            to: first.to,
            maxDataPoints: first.maxDataPoints,
            intervalMs: first.intervalMs,
            queries: group.map((p) => p.query),
          },
          ctx
        );
      } catch (e) {
        const msg = scrubToken(redact((e as Error)?.message ?? String(e)), token);
        const refused =
          (e as { name?: string; status?: number })?.name === 'QueryRefused'
            ? (e as { status: number }).status
            : undefined;
        if (refused !== undefined) {
          // busy or overloaded: each refId says so, with when to retry (Grafana shows it on the panel)
          for (const p of group) {
            responses[p.refId] = errorResponse(msg, refused, 'plugin', format);
          }
          return;
        }
        logger.error('QueryData: the query service failed', {
          error: msg,
          refIds: group.map((p) => p.refId).join(','),
        });
        for (const p of group) {
          responses[p.refId] = errorResponse(
            `pgpulse sidecar failed to answer query ${p.refId}: ${msg}`,
            500,
            'plugin',
            format
          );
        }
        return;
      }
      for (const p of group) {
        const a = answers?.[p.refId];
        if (!a) {
          responses[p.refId] = errorResponse(
            `pgpulse sidecar returned no answer for query ${p.refId}`,
            500,
            'plugin',
            format
          );
          continue;
        }
        try {
          responses[p.refId] = encodeResponse(p.refId, a, format, token);
        } catch (e) {
          const msg = redact((e as Error)?.message ?? String(e));
          logger.error('QueryData: could not encode frames', { refId: p.refId, error: msg });
          responses[p.refId] = errorResponse(
            `pgpulse sidecar could not encode the result of query ${p.refId}: ${msg}`,
            500,
            'plugin',
            format
          );
        }
      }
    })
  );
  return { responses };
}
