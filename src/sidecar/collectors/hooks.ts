/**
 * The code parts of catalog SQL collectors: rows that must not be stored, work after a write and
 * the events a new result implies. Generic code (the sampler) only calls the hooks.
 */
import type { CollectorId } from '../../model/catalog/types';
import { fetchNewStatementTexts, withoutOwnStatements } from './statement-texts';
import type { Collector, CollectorEvent } from './types';

type Hooks = Pick<Collector, 'filterRows' | 'after' | 'events' | 'eventMemo'>;

export const collectorHooks: Partial<Record<CollectorId, Hooks>> = {
  statements: {
    // pgpulse's own statements (targets/own-statements) never reach the store: every statement
    // metric, vector classification and advisor rule reads these rows
    filterRows: withoutOwnStatements,
    after: async (db, ctx, result) => {
      await fetchNewStatementTexts(db, ctx, result);
    },
    events: (prev, next, target) => {
      const before = prev?.epoch ?? null;
      const now = next.epoch ?? null;
      return before !== null && now !== null && now !== before
        ? [
            {
              kind: 'stats_reset',
              title: `${target}: pg_stat_statements statistics reset`,
              text: 'pg_stat_statements_info.stats_reset moved (pg_stat_statements_reset(), or a restart that discarded them): pgpulse counts from the new values',
              tags: ['pgpulse', 'reset'],
            },
          ]
        : [];
    },
    // the events compare epochs only: not 5,000 rows of keys and counters held between cycles
    eventMemo: (r) => ({ rows: [], epoch: r.epoch }),
  },
  database: {
    events: (prev, next, target) => {
      const before = new Map((prev?.rows ?? []).map((r) => [r.key.datname, r.values._epoch ?? null]));
      const out: CollectorEvent[] = [];
      for (const r of next.rows) {
        const was = before.get(r.key.datname);
        const e = r.values._epoch ?? null;
        if (was !== undefined && e !== null && e !== was) {
          out.push({
            kind: 'stats_reset',
            title: `${target}: statistics reset in ${r.key.datname}`,
            text: 'pg_stat_database.stats_reset changed (pg_stat_reset())',
            tags: ['pgpulse', 'reset'],
          });
        }
      }
      return out;
    },
  },
  indexes: {
    events: (prev, next) => {
      if (!prev) {
        return [];
      }
      const names = (rows: typeof next.rows) => new Set(rows.map((r) => `${r.key.schemaname}.${r.key.indexrelname}`));
      const was = names(prev.rows);
      const now = names(next.rows);
      return [
        ...[...now]
          .filter((k) => !was.has(k))
          .map((k) => ({ kind: 'index_created', title: `index ${k} created`, tags: ['pgpulse', 'index'] })),
        ...[...was]
          .filter((k) => !now.has(k))
          .map((k) => ({ kind: 'index_dropped', title: `index ${k} dropped`, tags: ['pgpulse', 'index'] })),
      ];
    },
    // the events compare index names only
    eventMemo: (r) => ({
      rows: r.rows.map((x) => ({
        key: { schemaname: x.key.schemaname, indexrelname: x.key.indexrelname },
        values: {},
      })),
    }),
  },
};
