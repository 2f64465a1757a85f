/**
 * Metrics answered live from the target instead of from stored samples (a query plan is not a
 * sample): the service runs these on the main thread, where the targets' connections live, and
 * never in a query worker. A feature gives one per custom handler id (Feature.live); it still
 * needs a (stored-data) handler of the same id for validateCatalog and for callers without a
 * service, which should say that the metric is live-only.
 */
import type { MetricDef } from '../model/catalog';
import type { DataResponse } from '../model/frames';
import type { ResolvedQuery } from './engine/context';
import type { NoticeInput } from './engine/notices';
import type { SidecarService } from './sidecar-service';

export interface LiveRequest {
  metric: MetricDef;
  query: ResolvedQuery;
  range: { from: number; to: number };
  notices: NoticeInput[];
  signal?: AbortSignal;
}

export type LiveHandler = (svc: SidecarService, req: LiveRequest) => Promise<DataResponse>;

export function liveHandlerFor(live: ReadonlyMap<string, LiveHandler>, metric: MetricDef): LiveHandler | undefined {
  return metric.compute.op === 'custom' ? live.get(metric.compute.handler) : undefined;
}
