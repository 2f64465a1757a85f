/**
 * The pgvector feature: the vector collectors, the engine handlers of the vector metrics and the
 * pickers of the vector query options.
 */
import type { Feature } from '../feature';
import { targetOf, type ResourceRoute } from '../resources';
import { vectorCollector, vectorProbeCollector } from './collectors';
import { parseVectorConfig } from './config';
import {
  vectorCalls,
  vectorIndexes,
  vectorProbeLatency,
  vectorProbeLatencySweep,
  vectorQueriesTable,
  vectorQueryLatency,
  vectorRecall,
  vectorRecallCurve,
  vectorRecallSweep,
} from './handlers';

/** ANN indexes for editor pickers (index filter of the vector metrics) */
const vectorIndexesRoute: ResourceRoute = (svc, params, ctx) => {
  const target = targetOf(svc, params, ctx);
  if (typeof target !== 'string') {
    return target;
  }
  const items = svc.store
    .entities(target, 'vector', { object: 'index' })
    .map((e) => ({
      value: e.labels.indexrelname,
      label: e.labels.indexrelname,
      description: `${e.labels.schemaname}.${e.labels.relname} ${String(e.info.amname ?? '')} ${String(e.info.opclass ?? '')}`,
    }))
    .sort((a, b) => a.value.localeCompare(b.value));
  return { status: 200, body: { items } };
};

/** the ef_search / probes values the probes measured, for the efSearch picker */
const vectorSettingsRoute: ResourceRoute = (svc, params, ctx) => {
  const target = targetOf(svc, params, ctx);
  if (typeof target !== 'string') {
    return target;
  }
  const values = [
    ...new Set(svc.store.entities(target, 'vector_probe', { object: 'probe' }).map((e) => e.labels.ef_search)),
  ].filter((v) => v !== 'default');
  return {
    status: 200,
    body: { items: values.sort((a, b) => Number(a) - Number(b)).map((v) => ({ value: v, label: v })) },
  };
};

export const vectorFeature: Feature = {
  name: 'vector',
  collectors: [vectorCollector, vectorProbeCollector],
  handlers: {
    vector_query_latency: vectorQueryLatency,
    vector_calls: vectorCalls,
    vector_probe_latency: vectorProbeLatency,
    vector_recall: vectorRecall,
    vector_recall_sweep: vectorRecallSweep,
    vector_recall_curve: vectorRecallCurve,
    vector_probe_latency_sweep: vectorProbeLatencySweep,
    vector_indexes: vectorIndexes,
    vector_queries: vectorQueriesTable,
  },
  routes: { 'vector-indexes': vectorIndexesRoute, 'vector-settings': vectorSettingsRoute },
  startup: (s) => {
    s.config.targets.forEach((t, i) => {
      // validate now, so a typo stops `pgpulse serve` with the field named, not a collector later
      const cfg = parseVectorConfig(t.vector, `targets[${i}].vector`);
      // probes run on their own schedule through the sampler's per-collector interval
      if (cfg.probes.enabled && t.collectors.vector_probe?.interval === undefined) {
        t.collectors.vector_probe = { ...t.collectors.vector_probe, interval: cfg.probes.interval };
      }
    });
  },
};
