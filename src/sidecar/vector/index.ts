/**
 * pgvector monitoring: registers the vector collectors, engine handlers and resource routes.
 * app.ts requires this module at startup.
 */
import { startupHooks } from '../app';
import { registerCollector } from '../collectors/registry';
import { registerHandler } from '../engine/engine';
import { extraRoutes } from '../resources';
import { vectorCollector, vectorProbeCollector } from './collectors';
import { parseVectorConfig } from './config';
import { vectorCalls, vectorIndexes, vectorProbeLatency, vectorProbeLatencySweep, vectorQueriesTable, vectorQueryLatency, vectorRecall, vectorRecallCurve, vectorRecallSweep } from './handlers';

registerCollector(vectorCollector);
registerCollector(vectorProbeCollector);
registerHandler('vector_query_latency', vectorQueryLatency);
registerHandler('vector_calls', vectorCalls);
registerHandler('vector_probe_latency', vectorProbeLatency);
registerHandler('vector_recall', vectorRecall);
registerHandler('vector_recall_sweep', vectorRecallSweep);
registerHandler('vector_recall_curve', vectorRecallCurve);
registerHandler('vector_probe_latency_sweep', vectorProbeLatencySweep);
registerHandler('vector_indexes', vectorIndexes);
registerHandler('vector_queries', vectorQueriesTable);

startupHooks.push((s) => {
  s.config.targets.forEach((t, i) => {
    // validate now, so a typo stops `pgpulse serve` with the field named, not a collector later
    const cfg = parseVectorConfig(t.vector, `targets[${i}].vector`);
    // probes run on their own schedule through the sampler's per-collector interval
    if (cfg.probes.enabled && t.collectors.vector_probe?.interval === undefined) {
      t.collectors.vector_probe = { ...t.collectors.vector_probe, interval: cfg.probes.interval };
    }
  });
});

/** ANN indexes for editor pickers (index filter of the vector metrics) */
extraRoutes.set('vector-indexes', (svc, params, ctx) => {
  const { target, error } = svc.resolveTarget(params.get('target') ?? undefined, ctx);
  if (!target) {
    return { status: 404, body: { error } };
  }
  const items = svc.store
    .entities(target, 'vector', { object: 'index' })
    .map((e) => ({ value: e.labels.indexrelname, label: e.labels.indexrelname, description: `${e.labels.schemaname}.${e.labels.relname} ${String(e.info.amname ?? '')} ${String(e.info.opclass ?? '')}` }))
    .sort((a, b) => a.value.localeCompare(b.value));
  return { status: 200, body: { items } };
});

/** the ef_search / probes values the probes measured, for the efSearch picker */
extraRoutes.set('vector-settings', (svc, params, ctx) => {
  const { target, error } = svc.resolveTarget(params.get('target') ?? undefined, ctx);
  if (!target) {
    return { status: 404, body: { error } };
  }
  const values = [...new Set(svc.store.entities(target, 'vector_probe', { object: 'probe' }).map((e) => e.labels.ef_search))].filter((v) => v !== 'default');
  return { status: 200, body: { items: values.sort((a, b) => Number(a) - Number(b)).map((v) => ({ value: v, label: v })) } };
});
