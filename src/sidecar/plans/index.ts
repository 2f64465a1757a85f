/**
 * The plans feature: the query_plan / query_plan_graph metrics (answered live from the target,
 * see live-handlers.ts) and plan fingerprint sampling with plan_changed events. The opt-in
 * explain_analyze action lives with the other actions (../actions).
 */
import type { Feature } from '../feature';
import { noticeMeta, normalizeNotices, type NoticeInput } from '../engine/notices';
import type { LiveHandler, LiveRequest } from '../live-handlers';
import type { SidecarService } from '../sidecar-service';
import type { DataResponse, Frame } from '../../model/frames';
import { METHOD_TEXT, PlanError, type PlanResult } from './explain';
import { plansOf, setupPlans } from './runtime';
import { flattenPlan, nodeGraphFrames, nodeTableFields, planFingerprint } from './shape';

// Plans come from the target, never from stored samples: a caller without the service (a query
// worker, the /metrics gauges) gets this notice instead of an empty table.
const liveOnly = (id: string) => () => [
  {
    name: id,
    meta: {
      notices: [
        {
          severity: 'error' as const,
          text: `${id} is explained live by the sidecar service; it cannot be computed from stored samples`,
        },
      ],
    },
    fields: [],
  },
];

async function planFor(
  svc: SidecarService,
  req: LiveRequest
): Promise<{ result?: PlanResult; error?: DataResponse; notices: NoticeInput[] }> {
  const notices = [...req.notices];
  const fail = (error: string, status: number): { error: DataResponse; notices: NoticeInput[] } => {
    if (status === 400 || status === 422) {
      // nothing to explain (no statement picked, or one pgpulse refuses to explain): an empty
      // answer that says why, not a red panel on every dashboard opened with queryid = All
      return {
        error: {
          frames: [
            {
              name: req.metric.id,
              refId: req.query.refId,
              meta: noticeMeta(normalizeNotices([...notices, { severity: 'warning', text: error }])),
              fields: [],
            },
          ],
        },
        notices,
      };
    }
    return {
      error: {
        frames: [],
        error,
        status,
        errorSource: status >= 500 || status === 403 || status === 409 ? 'downstream' : 'plugin',
      },
      notices,
    };
  };
  const queryid = req.query.queryid;
  if (!queryid) {
    return fail(
      `${req.metric.id} needs a queryid: pick a statement in the query editor (or the queryid variable; "All" has no plan)`,
      400
    );
  }
  const tp = plansOf(svc).get(req.query.target);
  if (!tp) {
    return fail(`target ${req.query.target} is not configured in this sidecar: plans are explained live`, 404);
  }
  try {
    const result = await tp.explain(queryid, req.query.database || undefined);
    notices.push({ severity: 'info', text: `plan method: ${METHOD_TEXT[result.method]}` });
    if (result.statement.others.length > 0) {
      notices.push({
        severity: 'info',
        text: `queryid ${queryid} also ran in ${result.statement.others.join(', ')}; this is the plan in ${result.statement.datname} (set database to choose)`,
      });
    }
    return { result, notices };
  } catch (e) {
    if (e instanceof PlanError) {
      return fail(e.message, e.status);
    }
    throw e;
  }
}

function withMeta(frames: Frame[], notices: NoticeInput[], executed: string): Frame[] {
  return frames.map((f) => ({
    ...f,
    meta: { ...f.meta, executedQueryString: executed, ...noticeMeta(normalizeNotices(notices)) },
  }));
}

function executedText(r: PlanResult): string {
  return `-- queryid ${r.statement.queryid} in database ${r.statement.datname} (role ${r.statement.rolname}), plan fingerprint ${planFingerprint(r.plan)}\n${r.statement.text}`;
}

const queryPlan: LiveHandler = async (svc, req) => {
  const { result, error, notices } = await planFor(svc, req);
  if (!result) {
    return error as DataResponse;
  }
  const frame: Frame = {
    name: 'query_plan',
    refId: req.query.refId,
    meta: {
      type: 'table',
      typeVersion: [0, 1],
      preferredVisualisationType: 'table',
      custom: { method: result.method, fingerprint: planFingerprint(result.plan), datname: result.statement.datname },
    },
    fields: nodeTableFields(flattenPlan(result.plan)),
  };
  return { frames: withMeta([frame], notices, executedText(result)) };
};

const queryPlanGraph: LiveHandler = async (svc, req) => {
  const { result, error, notices } = await planFor(svc, req);
  if (!result) {
    return error as DataResponse;
  }
  return {
    frames: withMeta(nodeGraphFrames(flattenPlan(result.plan), req.query.refId), notices, executedText(result)),
  };
};

export const plansFeature: Feature = {
  name: 'plans',
  handlers: { query_plan: liveOnly('query_plan'), query_plan_graph: liveOnly('query_plan_graph') },
  live: { query_plan: queryPlan, query_plan_graph: queryPlanGraph },
  startup: (sidecar) => setupPlans(sidecar, true),
};

export { plansOf } from './runtime';
