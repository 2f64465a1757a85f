/**
 * The Neon feature: the sampling gate for targets with a `neon` config, the LFC and activity
 * collectors, the engine handlers of the Neon metrics, the grant check and endpoint discovery.
 */
import type { Logger } from 'pino';
import type { TargetConfig } from '../config';
import type { Feature, Sidecar } from '../feature';
import { neonGrantCheck } from './grants';
import { minCuForWorkingSet } from './sizing';
import { computeCost, forecastRatio } from './cost';
import { activePeriodsTable, coldStartTable, computeTimeline } from './timeline';
import { autoscaling, timeAtMax } from './autoscaling';
import { neonEndpointsRoute } from './discovery';
import { lastValues } from './last-values';
import { NeonApiClient } from './api-client';
import { neonActivityCollector, neonClientsCollector } from './activity-collector';
import { NeonGate, gatesByTarget } from './gate';
import { computeState, effectiveHitRatio } from './handlers';
import { neonLfcCollector } from './lfc-collector';

export { NeonGate } from './gate';
export { NeonApiClient, NeonApiError } from './api-client';

export function createNeonGate(target: TargetConfig, log?: Logger): NeonGate | undefined {
  const neon = target.neon;
  if (!neon) {
    return undefined;
  }
  const client = new NeonApiClient({
    apiUrl: neon.apiUrl,
    projectId: neon.projectId,
    endpointId: neon.endpointId,
    apiKey: neon.apiKeyResolved ?? neon.apiKey,
  });
  return new NeonGate({ target, client, log: log?.child({ target: target.name, part: 'neon' }) });
}

/** hands each Neon gate the store and counts the sampler's own connections */
export function attachNeonGates(sidecar: Sidecar): void {
  for (const sampler of sidecar.samplers.values()) {
    const gate = gatesByTarget.get(sampler.target);
    if (!gate) {
      continue;
    }
    gate.attach(sidecar.store);
    sampler.pool.on('connect', () => gate.noteOwnConnect());
    // Until the first API answer nobody may connect, not even "Save & test".
    if (sampler.status.paused === undefined) {
      sampler.status.paused =
        'waiting for the Neon API to report the compute state (pgpulse never connects to a compute that may be idle)';
    }
  }
}

export const neonFeature: Feature = {
  name: 'neon',
  collectors: [neonLfcCollector(), neonActivityCollector(), neonClientsCollector()],
  handlers: {
    neon_effective_hit_ratio: effectiveHitRatio,
    neon_compute_state: computeState,
    neon_min_cu_for_working_set: minCuForWorkingSet,
    neon_compute_cost: computeCost,
    neon_compute_forecast_ratio: forecastRatio,
    neon_compute_timeline: computeTimeline,
    neon_active_periods: activePeriodsTable,
    neon_autoscaling: autoscaling,
    neon_time_at_max_cu: timeAtMax,
    neon_last_values: lastValues,
    neon_resume_cold_start: coldStartTable,
  },
  checks: [neonGrantCheck],
  routes: { neon_endpoints: neonEndpointsRoute },
  gate: (target, log) => createNeonGate(target, log),
  startup: attachNeonGates,
};
