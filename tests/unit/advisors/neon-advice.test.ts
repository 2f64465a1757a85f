/**
 * Neon-aware advice: no ALTER SYSTEM and no shared_buffers on Neon; the cache advice points at
 * the minimum compute size and the effective hit ratio.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { neonAdvice } from '../../../src/sidecar/advisors/rules/neon';
import type { Finding } from '../../../src/sidecar/advisors/types';

const base = {
  severity: 'info',
  category: 'settings',
  object: 'setting:x',
  title: 't',
  evidence: { values: {}, window: { from: 0, to: 1, description: '' } },
  impact: 'i',
} as unknown as Finding;

test('Neon: cache advice says "raise min CU", settings go per database, nothing says ALTER SYSTEM or shared_buffers =', () => {
  const out = neonAdvice(
    [
      {
        ...base,
        id: 'cache_hit_ratio:app',
        rule: 'cache_hit_ratio',
        fix: { sql: "ALTER SYSTEM SET shared_buffers = '<25% of RAM>'; -- needs a restart" },
      },
      {
        ...base,
        id: 'idle_tx',
        rule: 'idle_in_transaction',
        fix: { sql: "ALTER SYSTEM SET idle_in_transaction_session_timeout = '5min';\nSELECT pg_reload_conf();" },
      },
      {
        ...base,
        id: 'mwm',
        rule: 'maintenance_work_mem',
        fix: {
          sql: "SET maintenance_work_mem = '1GB'; -- in the session\nALTER SYSTEM SET maintenance_work_mem = '512MB'; SELECT pg_reload_conf();",
        },
      },
      { ...base, id: 'other', rule: 'unused_index', fix: { sql: 'DROP INDEX CONCURRENTLY "public"."i";' } },
    ],
    'app'
  );
  const text = JSON.stringify(out);
  assert.doesNotMatch(text, /ALTER SYSTEM SET/);
  assert.doesNotMatch(text, /pg_reload_conf/);
  assert.equal(out[0].fix.sql, undefined);
  assert.match(out[0].fix.setting ?? '', /raise the minimum compute size \(autoscaling_limit_min_cu/);
  assert.match(out[0].fix.setting ?? '', /neon_effective_hit_ratio/);
  assert.match(out[1].fix.sql ?? '', /ALTER DATABASE "app" SET idle_in_transaction_session_timeout = '5min';/);
  assert.match(out[2].fix.sql ?? '', /SET maintenance_work_mem = '1GB'/);
  assert.match(out[2].fix.sql ?? '', /ALTER DATABASE "app" SET maintenance_work_mem = '512MB';/);
  assert.equal(out[3].fix.sql, 'DROP INDEX CONCURRENTLY "public"."i";', 'other advice unchanged');
});
