/**
 * Resource route `neon_endpoints?target=…`: the endpoints of a Neon target's project, read from
 * the Neon API (GET /projects/{id}/endpoints — never a connection), with the ones pgpulse does not
 * monitor yet offered as targets: read replicas (type read_only) and other branches' computes.
 * The suggested config carries no secret: the URL comes from an environment variable to fill in.
 */
import { targetOf, type ResourceRoute } from '../resources';
import type { TargetConfig } from '../config';
import { NeonApiClient } from './api-client';
import { identityFromUrl } from './identity';

export const neonEndpointsRoute: ResourceRoute = async (svc, params, ctx) => {
  const target = targetOf(svc, params, ctx);
  if (typeof target !== 'string') {
    return target;
  }
  const t = svc.samplers.get(target)?.target as TargetConfig | undefined;
  if (!t?.neon) {
    return {
      status: 400,
      body: {
        error: `target ${target} is not a Neon target: set neon.projectId / neon.endpointId / an API key in its config`,
      },
    };
  }
  const client = new NeonApiClient({
    apiUrl: t.neon.apiUrl,
    projectId: t.neon.projectId,
    endpointId: t.neon.endpointId,
    apiKey: t.neon.apiKeyResolved ?? t.neon.apiKey,
  });
  let endpoints;
  try {
    endpoints = await client.listEndpoints();
  } catch (e) {
    return { status: 502, body: { error: (e as Error).message } };
  }
  const monitored = new Set(
    [...svc.samplers.values()]
      .map(
        (s) => (s.target as TargetConfig).neon?.endpointId ?? identityFromUrl((s.target as TargetConfig).url).endpointId
      )
      .filter(Boolean)
  );
  const items = endpoints.map((e) => {
    const kind =
      e.type === 'read_only'
        ? 'read replica'
        : e.branch_id === endpoints.find((x) => x.id === t.neon?.endpointId)?.branch_id
          ? 'primary'
          : 'branch compute';
    const name = `${target}-${e.type === 'read_only' ? 'replica' : 'branch'}-${e.id.replace(/^ep-/, '').split('-').slice(0, 2).join('-')}`;
    const env = `${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_URL`;
    return {
      endpointId: e.id,
      type: e.type,
      kind,
      branchId: e.branch_id,
      host: e.host,
      currentState: e.current_state,
      autoscaling: { minCu: e.autoscaling_limit_min_cu, maxCu: e.autoscaling_limit_max_cu },
      monitored: monitored.has(e.id),
      suggestedTarget: monitored.has(e.id)
        ? undefined
        : {
            name,
            urlEnv: env,
            neon: { projectId: t.neon?.projectId, endpointId: e.id, apiKeyEnv: t.neon?.apiKeyEnv ?? 'NEON_API_KEY' },
            note: `set ${env} to postgres://<role>@${e.host}/<database>?sslmode=require`,
          },
    };
  });
  return { status: 200, body: { target, projectId: t.neon.projectId, endpoints: items } };
};
