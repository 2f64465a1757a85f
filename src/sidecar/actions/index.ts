/**
 * The actions feature: one ActionRunner per target (refusing everything but dry-runs unless the
 * target's actions are enabled), the `actions` resource route (GET = audit trail, POST = run or
 * dry-run an action) and the automatic policies' timers (not in one-shot CLI commands).
 */
import type { Feature, Sidecar } from '../feature';
import { targetOf, type ResourceRoute } from '../resources';
import type { SidecarService } from '../sidecar-service';
import { parseRange } from '../time-range';
import { auditList } from './audit';
import { parseActionsConfig, type ActionsConfig } from './config';
import { PolicyEngine } from './policy';
import { ActionRunner } from './runner';

const runners = new WeakMap<SidecarService, Map<string, ActionRunner>>();

export function actionRunners(s: { service: SidecarService }): Map<string, ActionRunner> {
  return runners.get(s.service) ?? new Map();
}

export function setupActions(sidecar: Sidecar): void {
  const byTarget = new Map<string, ActionRunner>();
  const timers: NodeJS.Timeout[] = [];
  for (const [name, sampler] of sidecar.samplers) {
    let cfg: ActionsConfig | Error;
    try {
      cfg = parseActionsConfig(sampler.target);
    } catch (e) {
      cfg = e as Error;
      sidecar.log.warn({ target: name }, (e as Error).message);
    }
    const runner = new ActionRunner(
      sampler.target,
      sidecar.store,
      cfg,
      sampler.pool,
      sidecar.log.child({ target: name, part: 'actions' }),
      () => sampler.mayContact()
    );
    byTarget.set(name, runner);
    if (sidecar.background && !(cfg instanceof Error) && cfg.policies.length > 0) {
      const engine = new PolicyEngine(runner, cfg, sampler.pool);
      let busy = false;
      const t = setInterval(() => {
        // a sleeping Neon compute is not woken to look for long queries: it has none
        if (busy || sampler.status.paused || sampler.status.reachable === false) {
          return;
        }
        busy = true;
        engine
          .tick()
          .catch((e: Error) => sidecar.log.warn({ target: name }, `action policy check failed: ${e.message}`))
          .finally(() => {
            busy = false;
          });
      }, cfg.policyIntervalMs);
      t.unref();
      timers.push(t);
    }
  }
  runners.set(sidecar.service, byTarget);
  const stop = sidecar.stop;
  sidecar.stop = async () => {
    timers.forEach(clearInterval);
    for (const r of byTarget.values()) {
      await r.close();
    }
    await stop();
  };
}

const actionsRoute: ResourceRoute = async (svc, params, ctx) => {
  const body = (ctx as { body?: unknown }).body;
  const method = ((ctx as { method?: string }).method ?? 'GET').toUpperCase();
  const wanted =
    params.get('target') ??
    (body && typeof body === 'object' ? ((body as { target?: unknown }).target as string | undefined) : undefined);
  const target = targetOf(svc, params, ctx, typeof wanted === 'string' ? wanted : undefined);
  if (typeof target !== 'string') {
    return target;
  }
  const runner = runners.get(svc)?.get(target);
  if (method === 'GET') {
    const range = parseRange(params.get('from') ?? undefined, params.get('to') ?? undefined, { from: 'now-7d' });
    if ('error' in range) {
      return { status: 400, body: { error: range.error } };
    }
    const cfg = runner?.cfg;
    return {
      status: 200,
      body: {
        target,
        enabled: cfg !== undefined && !(cfg instanceof Error) && cfg.enabled,
        allowed: cfg && !(cfg instanceof Error) && cfg.enabled ? cfg.allow : [],
        configError: cfg instanceof Error ? cfg.message : undefined,
        audit: auditList(svc.store, target, range.from, range.to),
      },
    };
  }
  if (method !== 'POST') {
    return {
      status: 405,
      body: { error: 'use GET for the audit trail, POST {"action": …} to run or dry-run an action' },
    };
  }
  if (!runner) {
    return { status: 404, body: { error: `target ${target} is not configured in this sidecar` } };
  }
  // Through Grafana's resource proxy any user who may query the datasource could call this:
  // real actions there need a Grafana Admin (dry-runs stay open). Transports that know the
  // caller pass via/user in the context; the HTTP API is already limited to the sidecar token.
  const caller = ctx as { via?: string; user?: { login?: string; role?: string } | null };
  const viaGrafana = caller.via === 'grafana';
  const trigger = viaGrafana ? `grafana:${caller.user?.login || 'unknown'}` : 'api';
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    // audited like every other request: the runner refuses it as invalid
    const outcome = await runner.run(body, trigger);
    return {
      status: 400,
      body: {
        ...outcome,
        error: `send a JSON object like {"action":"cancel","pid":1234,"dryRun":true} (${outcome.message})`,
      },
    };
  }
  const { target: _t, ...request } = body as Record<string, unknown>;
  void _t;
  if (viaGrafana && request.dryRun === false && caller.user?.role !== 'Admin') {
    const reason = `only a Grafana Admin may run actions through Grafana (you are ${caller.user?.role ?? 'unknown role'})`;
    const outcome = await runner.run(request, trigger, { refuse: { reason, httpStatus: 403 } });
    return {
      status: outcome.status === 'refused' && outcome.message === reason ? 403 : outcome.httpStatus,
      body: {
        ...outcome,
        error: `${outcome.message}${outcome.sql ? `; nothing ran — this SQL would have: ${outcome.sql}` : ''}`,
      },
    };
  }
  const outcome = await runner.run(request, trigger);
  return {
    status: outcome.httpStatus,
    body:
      outcome.status === 'refused' || outcome.status === 'failed' ? { ...outcome, error: outcome.message } : outcome,
  };
};

export const actionsFeature: Feature = {
  name: 'actions',
  routes: { actions: actionsRoute },
  startup: setupActions,
};
