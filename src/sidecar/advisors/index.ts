/**
 * The advisors feature: the `recommendations` and `findings_count` metrics, the `recommendations`
 * resource route and the periodic evaluation that records finding_raised / finding_cleared events.
 */
import type { Feature } from '../feature';
import { targetOf, type ResourceRoute } from '../resources';
import { bySeverity, healthScore, openFindings } from './findings-store';
import { findingsCount, recommendations } from './handlers';
import { AdvisorRuntime, advisorRuntime, attachRuntime } from './runtime';
import { severities } from './types';

const recommendationsRoute: ResourceRoute = async (svc, params, ctx) => {
  const target = targetOf(svc, params, ctx);
  if (typeof target !== 'string') {
    return target;
  }
  const refresh = params.get('refresh');
  let notes: string[] = [];
  let evaluatedAt: number | null = null;
  if (refresh === '1' || refresh === 'true') {
    const rt = advisorRuntime(svc);
    if (!rt) {
      return { status: 503, body: { error: 'the advisor is not running in this sidecar' } };
    }
    const ev = await rt.evaluate(target);
    notes = ev.notes;
    evaluatedAt = ev.at;
  } else {
    const last = svc.store.kvGet(`advisor:last_eval:${target}`);
    if (last) {
      const v = JSON.parse(last) as { at: number; notes: string[] };
      evaluatedAt = v.at;
      notes = v.notes;
    }
  }
  const severity = params.get('severity');
  if (severity && !severities.includes(severity as never)) {
    return { status: 400, body: { error: `severity must be one of ${severities.join(', ')}` } };
  }
  const category = params.get('category');
  const all = openFindings(svc.store, target);
  const findings = all
    .filter((f) => (!severity || f.severity === severity) && (!category || f.category === category))
    .sort(bySeverity);
  return {
    status: 200,
    body: {
      target,
      evaluatedAt,
      healthScore: healthScore(all),
      notes:
        evaluatedAt === null
          ? ['not evaluated yet: the first evaluation runs a few minutes after start (or ask with refresh=1)']
          : notes,
      findings,
    },
  };
};

export const advisorsFeature: Feature = {
  name: 'advisors',
  handlers: { recommendations, findings_count: findingsCount },
  routes: { recommendations: recommendationsRoute },
  startup: (sidecar) => {
    const rt = new AdvisorRuntime(sidecar);
    attachRuntime(sidecar, rt);
    rt.start();
    const stop = sidecar.stop;
    sidecar.stop = async () => {
      await rt.stop();
      await stop();
    };
  },
};

export { advisorRuntime } from './runtime';
export { evaluateFindings } from './evaluate';
