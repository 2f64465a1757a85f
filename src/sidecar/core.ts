/**
 * The core feature: the catalog's SQL collectors, the engine handlers of the core metrics and the
 * resource routes every datasource needs (pickers, catalog, events, health).
 */
import { catalogCollectors } from './collectors/registry';
import { connectionUtilization, events, samplerStaleness } from './engine/handlers/health';
import { indexUsage, tableStats } from './engine/handlers/relations';
import { slowStatements, topQueries } from './engine/handlers/statements';
import {
  bloat,
  ioTime,
  oldestSessions,
  sequences,
  sequenceUsedRatio,
  vacuumProgress,
} from './engine/handlers/vital-signs';
import { replicationStandbys } from './engine/handlers/replication';
import { replicationSlots } from './engine/handlers/vitals';
import type { Feature } from './feature';
import { coreRoutes } from './resources';

export const coreFeature: Feature = {
  name: 'core',
  collectors: catalogCollectors(),
  handlers: {
    slow_statements: slowStatements,
    top_queries: topQueries,
    index_usage: indexUsage,
    table_stats: tableStats,
    connection_utilization: connectionUtilization,
    sampler_staleness: samplerStaleness,
    events,
    replication_slots: replicationSlots,
    io_time: ioTime,
    vacuum_progress: vacuumProgress,
    oldest_sessions: oldestSessions,
    sequence_used_ratio: sequenceUsedRatio,
    sequences,
    bloat,
    replication_standbys: replicationStandbys,
  },
  routes: coreRoutes,
};
