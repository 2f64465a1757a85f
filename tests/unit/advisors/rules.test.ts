/** Index, maintenance and server rules on crafted facts (the integration tests use real ones). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ActivityFacts, IndexFacts, SettingFacts, TableFacts } from '../../../src/sidecar/advisors/history';
import { duplicateIndexRule, parseIndexes, unusedIndexRule } from '../../../src/sidecar/advisors/rules/indexes';
import { maintenanceRules } from '../../../src/sidecar/advisors/rules/maintenance';
import { serverRules } from '../../../src/sidecar/advisors/rules/server';
import { defaultAdvisorOptions as D } from '../../../src/sidecar/advisors/types';

const DAY = 86_400_000;
const NOW = 100 * DAY;

function ix(name: string, def: string, over: Partial<IndexFacts> = {}, info: Record<string, unknown> = {}): IndexFacts {
  return {
    schema: 'public',
    table: 't',
    index: name,
    datname: 'app',
    info: {
      indexdef: def,
      is_valid: true,
      is_primary: false,
      is_unique: false,
      is_exclusion: false,
      is_replident: false,
      ...info,
    },
    scans: 0,
    observedFrom: NOW - 10 * DAY,
    observedTo: NOW,
    sizeBytes: 50 << 20,
    present: true,
    ...over,
  };
}

describe('unused indexes', () => {
  it('needs N days of observed history, a size over the floor, and no constraint role', () => {
    const facts = [
      ix('old_unused', 'CREATE INDEX old_unused ON public.t USING btree (a)'),
      ix('young', 'CREATE INDEX young ON public.t USING btree (b)', { observedFrom: NOW - 2 * DAY }),
      ix('small', 'CREATE INDEX small ON public.t USING btree (c)', { sizeBytes: 8192 }),
      ix('used', 'CREATE INDEX used ON public.t USING btree (d)', { scans: 3 }),
      ix('pk', 'CREATE UNIQUE INDEX pk ON public.t USING btree (id)', {}, { is_primary: true, is_unique: true }),
      ix('uq', 'CREATE UNIQUE INDEX uq ON public.t USING btree (e)', {}, { is_unique: true }),
      ix('excl', 'CREATE INDEX excl ON public.t USING gist (r)', {}, { is_exclusion: true }),
      ix('replid', 'CREATE UNIQUE INDEX replid ON public.t USING btree (f)', {}, { is_replident: true }),
      ix('gone', 'CREATE INDEX gone ON public.t USING btree (g)', { present: false }),
      ix('never_sampled_twice', 'CREATE INDEX n ON public.t USING btree (h)', { scans: null }),
    ];
    const f = unusedIndexRule(facts, D, NOW);
    assert.deepEqual(
      f.map((x) => x.object),
      ['public.old_unused']
    );
    assert.equal(f[0].evidence.values.observed_days, 10);
    assert.equal(f[0].evidence.window.from, NOW - 10 * DAY);
    assert.match(
      f[0].fix.caveat!,
      /CREATE INDEX old_unused ON public\.t USING btree \(a\)/,
      'the caveat keeps the definition to recreate it'
    );
  });
});

describe('duplicate and redundant indexes', () => {
  it('keeps the constraint index, the more used one, and never reports across tables or predicates', async () => {
    const facts = [
      ix(
        'pk',
        'CREATE UNIQUE INDEX pk ON public.t USING btree (id)',
        { scans: 0 },
        { is_primary: true, is_unique: true }
      ),
      ix('id_copy', 'CREATE INDEX id_copy ON public.t USING btree (id)', { scans: 50 }),
      ix('a_busy', 'CREATE INDEX a_busy ON public.t USING btree (a)', { scans: 100 }),
      ix('a_idle', 'CREATE INDEX a_idle ON public.t USING btree (a)', { scans: 1 }),
      ix('a_partial', 'CREATE INDEX a_partial ON public.t USING btree (a) WHERE (a > 0)'),
      ix('a_hash', 'CREATE INDEX a_hash ON public.t USING hash (a)'),
      { ...ix('other_table_a', 'CREATE INDEX other_table_a ON public.u USING btree (a)'), table: 'u' },
      ix('b', 'CREATE INDEX b ON public.t USING btree (b)'),
      ix('bc', 'CREATE INDEX bc ON public.t USING btree (b, c)'),
      ix('cb', 'CREATE INDEX cb ON public.t USING btree (c, b)'),
    ];
    const f = duplicateIndexRule(await parseIndexes(facts), D, { from: 0, to: NOW });
    assert.deepEqual(f.map((x) => x.id).sort(), [
      'duplicate_index:public.a_idle',
      'duplicate_index:public.id_copy',
      'redundant_index:public.b',
    ]);
    assert.ok(
      f.some((x) => x.id === 'duplicate_index:public.id_copy'),
      'the copy of the primary key is dropped, not the key'
    );
    assert.ok(
      f.some((x) => x.id === 'duplicate_index:public.a_idle'),
      'the less used of two equal indexes is dropped'
    );
    assert.ok(
      f.some((x) => x.id === 'redundant_index:public.b'),
      'b is a prefix of bc'
    );
    assert.ok(
      !f.some(
        (x) =>
          x.object === 'public.pk' ||
          x.object === 'public.a_partial' ||
          x.object === 'public.a_hash' ||
          x.object === 'public.cb' ||
          x.object === 'public.other_table_a'
      )
    );
  });
});

const settings = (o: Record<string, [number | null, string]> = {}): SettingFacts => {
  const all: Record<string, [number | null, string]> = {
    max_connections: [100, '100'],
    shared_buffers: [128 << 20, '16384'],
    work_mem: [4 << 20, '4096'],
    maintenance_work_mem: [64 << 20, '65536'],
    autovacuum: [null, 'on'],
    ...o,
  };
  return {
    value: new Map(Object.entries(all).map(([k, v]) => [k, v[0]] as [string, number | null])),
    text: new Map(Object.entries(all).map(([k, v]) => [k, v[1]] as [string, string])),
  };
};

function table(name: string, g: Record<string, number | null>, d: Record<string, number | null> = {}): TableFacts {
  return { schema: 'public', table: name, datname: 'app', g, d, present: true };
}

describe('maintenance rules', () => {
  it('stale statistics, dead tuples and autovacuum lag from the latest sample', () => {
    const now = NOW;
    const f = maintenanceRules(
      [
        table('fresh', {
          n_live_tup: 10_000,
          n_dead_tup: 10,
          n_mod_since_analyze: 100,
          last_autovacuum_ms: now - 3_600_000,
          last_autoanalyze_ms: now - 60_000,
        }),
        table('stale', { n_live_tup: 10_000, n_dead_tup: 10, n_mod_since_analyze: 5_000 }),
        table('bloated', {
          n_live_tup: 10_000,
          n_dead_tup: 30_000,
          n_mod_since_analyze: 0,
          last_autovacuum_ms: now - 2 * DAY,
        }),
        table('recently_vacuumed', {
          n_live_tup: 10_000,
          n_dead_tup: 3_000,
          n_mod_since_analyze: 0,
          last_autovacuum_ms: now - 60_000,
        }),
      ],
      settings(),
      D,
      now,
      { from: now - DAY, to: now }
    );
    assert.deepEqual(
      f.map((x) => x.id).sort(),
      [
        'autovacuum_lag:public.bloated',
        'dead_tuples:public.bloated',
        'dead_tuples:public.recently_vacuumed',
        'stale_statistics:public.stale',
      ].sort()
    );
    assert.equal(f.find((x) => x.id === 'dead_tuples:public.bloated')?.severity, 'warning', '75% dead');
    assert.equal(f.find((x) => x.id === 'stale_statistics:public.stale')?.fix.sql, 'ANALYZE public.stale;');
  });

  it('autovacuum off is critical, and then lag is not reported per table', () => {
    const f = maintenanceRules(
      [table('bloated', { n_live_tup: 10_000, n_dead_tup: 30_000 })],
      settings({ autovacuum: [null, 'off'] }),
      D,
      NOW,
      { from: 0, to: NOW }
    );
    assert.ok(f.some((x) => x.id === 'autovacuum_off:server' && x.severity === 'critical'));
    assert.ok(!f.some((x) => x.rule === 'autovacuum_lag'));
  });
});

describe('server rules', () => {
  const activity = (states: Record<string, [number, number]>): ActivityFacts => {
    const byState = new Map(
      Object.entries(states).map(([k, [count, xact]]) => [k, { count, longestXactS: xact, longestQueryS: 0 }])
    );
    return { ts: NOW, byState, total: [...byState.values()].reduce((a, s) => a + s.count, 0) };
  };
  const W = { from: NOW - DAY, to: NOW, description: 'test' };

  it('connection saturation and idle in transaction', () => {
    const f = serverRules(
      {
        activity: activity({ active: [60, 1], idle: [25, 0], 'idle in transaction': [2, 900] }),
        settings: settings(),
        databases: [],
        statements: [],
        indexes: [],
      },
      D,
      W
    );
    assert.deepEqual(f.map((x) => x.id).sort(), ['connection_saturation:server', 'idle_in_transaction:server']);
    assert.equal(f.find((x) => x.rule === 'connection_saturation')?.evidence.values.client_backends, 87);
    const calm = serverRules(
      {
        activity: activity({ active: [5, 1], 'idle in transaction': [1, 5] }),
        settings: settings(),
        databases: [],
        statements: [],
        indexes: [],
      },
      D,
      W
    );
    assert.equal(calm.length, 0);
  });

  it('cache hit ratio over the window, with the working-set comparison', () => {
    const f = serverRules(
      {
        activity: { ts: null, byState: new Map(), total: 0 },
        settings: settings(),
        databases: [{ datname: 'app', blksHit: 90_000, blksRead: 10_000, tempBytes: 0, sizeBytes: 2 ** 30 }],
        statements: [],
        indexes: [],
      },
      D,
      W
    );
    const c = f.find((x) => x.rule === 'cache_hit_ratio');
    assert.ok(c);
    assert.equal(c.evidence.values.hit_ratio, 0.9);
    assert.match(c.fix.setting!, /larger than shared_buffers/);
  });

  it('work_mem when statements spill, maintenance_work_mem against the largest index', () => {
    const f = serverRules(
      {
        activity: { ts: null, byState: new Map(), total: 0 },
        settings: settings(),
        databases: [],
        statements: [
          {
            queryid: '7',
            datname: 'app',
            username: 'app',
            text: 'SELECT …',
            calls: 10,
            totalMs: 1000,
            rows: 1,
            blksHit: 0,
            blksRead: 0,
            tempBlksWritten: 20_000,
          },
        ],
        indexes: [ix('huge', 'CREATE INDEX huge ON public.t USING btree (a)', { sizeBytes: 2 * 2 ** 30 })],
      },
      D,
      W
    );
    assert.match(f.find((x) => x.rule === 'work_mem')!.fix.sql!, /^ALTER ROLE "app" SET work_mem = '\d+MB';$/);
    assert.ok(f.some((x) => x.rule === 'maintenance_work_mem'));
  });
});
