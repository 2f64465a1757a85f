import type { MetricDef } from './types';

/** Advisor findings. */
export const adviceMetrics: MetricDef[] = [];
