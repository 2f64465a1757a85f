import type { MetricDef } from './types';

/** Query plans: explained live from the target for one queryid (never from stored samples). */
export const planMetrics: MetricDef[] = [
  {
    id: 'query_plan',
    title: 'Query plan (nodes)',
    description:
      'The plan PostgreSQL chooses now for one pg_stat_statements entry (queryid), one row per plan node: node type, relation, index used, estimated rows, startup/total cost, index condition and filter. EXPLAIN of the normalised text as the monitoring role, in the database the statement ran in, inside a read-only transaction: GENERIC_PLAN on PostgreSQL 16+, PREPARE + EXPLAIN EXECUTE under force_generic_plan on 14/15 (a frame notice says which). SELECT statements only. Needs pg_stat_statements and SELECT on the tables the statement reads.',
    unit: 'none',
    kind: 'table',
    area: 'Queries',
    options: ['database', 'queryid'],
    required: ['queryid'],
    compute: { op: 'custom', handler: 'query_plan', collector: 'statements' },
    alertable: false,
    requires: ['pg_stat_statements'],
  },
  {
    id: 'query_plan_graph',
    title: 'Query plan (graph)',
    description:
      "The same plan as \"Query plan (nodes)\" as a node graph: a nodes frame (title = node type, subtitle = index and relation, main stat = estimated rows, secondary stat = total cost, arcs = the node's own share of its cost vs its children's) and an edges frame (parent → child), drawn by Grafana's Node graph panel.",
    unit: 'none',
    kind: 'table',
    area: 'Queries',
    options: ['database', 'queryid'],
    required: ['queryid'],
    compute: { op: 'custom', handler: 'query_plan_graph', collector: 'statements' },
    alertable: false,
    requires: ['pg_stat_statements'],
    panel: 'nodeGraph',
  },
];
