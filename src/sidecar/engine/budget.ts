/**
 * A query request's budget: how many stored points it may read (series × samples), how long it
 * may compute, how many values it may answer with. Past any of them the remaining refIds are
 * answered with an error that says which limit and what to do, instead of stalling everything.
 */
import type { DataResponse } from '../../model/frames';
import type { Store } from '../store/store';
import type { Engine, EngineRequest } from './engine';

export interface QueryBudget {
  /** stored points read from the history per request */
  maxPoints: number;
  /** compute time per request, in ms */
  maxMs: number;
  /** values (all fields of all frames) answered per request */
  maxValues: number;
}

export const defaultBudget: QueryBudget = { maxPoints: 5_000_000, maxMs: 15_000, maxValues: 2_000_000 };

export interface EngineAnswer {
  response: DataResponse;
  /** compute time of this refId, in seconds */
  seconds: number;
}

/** Thrown inside the store's row loop to stop a query (budget spent or client gone). */
export class QueryInterrupted extends Error {
  constructor(readonly reason: 'points' | 'time' | 'cancelled') {
    super(reason);
  }
}

function budgetError(reason: 'points' | 'time' | 'values', budget: QueryBudget): DataResponse {
  const what =
    reason === 'points'
      ? `read more than ${budget.maxPoints.toLocaleString('en')} stored points (series × samples)`
      : reason === 'time'
        ? `needed more than ${budget.maxMs / 1000} s of computation`
        : `answered more than ${budget.maxValues.toLocaleString('en')} values`;
  return {
    frames: [],
    error: `query budget exceeded: this request ${what}; narrow the time range, filter (database, schema, table, queryid), lower topN, or spread the panels over several requests (limits: PGPULSE_QUERY_MAX_POINTS, PGPULSE_QUERY_MAX_MS, PGPULSE_QUERY_MAX_VALUES)`,
    status: 413,
    errorSource: 'plugin',
  };
}

function valueCount(r: DataResponse): number {
  let n = 0;
  for (const f of r.frames) {
    for (const field of f.fields) {
      n += field.values.length;
    }
  }
  return n;
}

/**
 * Answers the requests in order within one budget. `cancelled` is polled while rows are read;
 * it returns undefined when the client went away (nothing is worth answering then).
 */
export function runWithinBudget(
  engine: Engine,
  store: Store,
  requests: EngineRequest[],
  budget: QueryBudget,
  cancelled: () => boolean
): EngineAnswer[] | undefined {
  const started = Date.now();
  const rowsAtStart = store.rowsRead;
  let values = 0;
  let spent: 'points' | 'time' | 'values' | undefined;
  const previous = store.interrupt;
  store.interrupt = () => {
    if (cancelled()) {
      throw new QueryInterrupted('cancelled');
    }
    if (store.rowsRead - rowsAtStart > budget.maxPoints) {
      throw new QueryInterrupted('points');
    }
    if (Date.now() - started > budget.maxMs) {
      throw new QueryInterrupted('time');
    }
  };
  try {
    const out: EngineAnswer[] = [];
    for (const req of requests) {
      const t0 = process.hrtime.bigint();
      if (!spent && Date.now() - started > budget.maxMs) {
        spent = 'time';
      }
      if (spent) {
        out.push({ response: budgetError(spent, budget), seconds: 0 });
        continue;
      }
      let response: DataResponse;
      try {
        response = engine.run(req);
      } catch (e) {
        if (e instanceof QueryInterrupted) {
          if (e.reason === 'cancelled') {
            return undefined;
          }
          spent = e.reason;
          response = budgetError(e.reason, budget);
        } else {
          response = {
            frames: [],
            error: `internal error computing ${req.query.metric}: ${(e as Error).message}`,
            status: 500,
            errorSource: 'plugin',
          };
        }
      }
      values += valueCount(response);
      if (!spent && store.rowsRead - rowsAtStart > budget.maxPoints) {
        // read past the limit between two checks of the row loop
        spent = 'points';
        response = budgetError('points', budget);
      } else if (!spent && values > budget.maxValues) {
        spent = 'values';
        response = budgetError('values', budget);
      }
      out.push({ response, seconds: Number(process.hrtime.bigint() - t0) / 1e9 });
    }
    return out;
  } finally {
    store.interrupt = previous;
  }
}
