import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CAPABILITIES_MAX_AGE_MS,
  CAPABILITIES_SQL,
  CapabilityCache,
  capabilitiesFromRow,
  EXTENSIONS_SIGNAL_SQL,
  extensionSchemas,
  extensionVersions,
  installHint,
  preloadList,
  type CapabilitiesRow,
} from '../../../src/sidecar/targets/capabilities';
import { serverOf } from '../../../src/sidecar/cluster/identity';
import {
  actionsCredentialCheck,
  optionalExtensionCheck,
  pgStatStatementsCheck,
  poolerCheck,
  roleCheck,
  serverCheck,
} from '../../../src/sidecar/cli/doctor-checks';

const row: CapabilitiesRow = {
  server_version: '17.2',
  server_version_num: 170002,
  postmaster_start_ms: 1_700_000_000_000,
  database: 'app',
  system_identifier: '7312345678901234567',
  port: 5432,
  in_recovery: false,
  backend_pid: 4242,
  role_name: 'pgpulse',
  superuser: false,
  pg_monitor: true,
  pg_read_all_stats: true,
  pg_signal_backend: false,
  shared_preload_libraries: 'pg_stat_statements, "auto_explain"',
  track_counts: 'on',
  track_io_timing: 'off',
  pgss_track: 'top',
  neon_endpoint_id: '',
  extensions: [
    ['pg_stat_statements', '1.11', 'stats'],
    ['plpgsql', '1.0', 'pg_catalog'],
  ],
  available: ['hypopg', 'pg_stat_statements'],
};

describe('target capabilities probe', () => {
  it('reads every object through pg_catalog: no unqualified function, operator or type', () => {
    for (const sql of [CAPABILITIES_SQL, EXTENSIONS_SIGNAL_SQL]) {
      // each cast names its schema, each comparison its operator
      for (const cast of sql.match(/::[a-z_.[\]]+/g) ?? []) {
        assert.match(cast, /^::pg_catalog\./, cast);
      }
      assert.doesNotMatch(sql.replace(/OPERATOR\(pg_catalog\.[^)]+\)/g, ''), /\s(=|\*|\|\|)\s/);
      for (const fn of sql.match(/[a-z_.]+\(/g) ?? []) {
        assert.ok(
          /^pg_catalog\./.test(fn) || ['OPERATOR(', 'extract(', 'ANY ('].some((k) => fn.startsWith(k.slice(0, -1))),
          fn
        );
      }
    }
  });

  it('turns the row into typed capabilities', () => {
    const c = capabilitiesFromRow(row);
    assert.equal(c.serverVersionNum, 170002);
    assert.deepEqual(c.role, {
      name: 'pgpulse',
      superuser: false,
      pgMonitor: true,
      pgReadAllStats: true,
      pgSignalBackend: false,
    });
    assert.deepEqual(c.sharedPreloadLibraries, ['pg_stat_statements', 'auto_explain']);
    assert.deepEqual(
      extensionVersions(c),
      new Map([
        ['pg_stat_statements', '1.11'],
        ['plpgsql', '1.0'],
      ])
    );
    assert.equal(extensionSchemas(c).get('pg_stat_statements'), 'stats');
    assert.deepEqual([...c.available], ['hypopg', 'pg_stat_statements']);
    assert.deepEqual(c.settings, { trackCounts: true, trackIoTiming: false, pgssTrack: 'top' });
    assert.deepEqual(c.neon, { endpointId: null, detected: false }, 'an empty neon.endpoint_id is no Neon');
    assert.deepEqual(capabilitiesFromRow({ ...row, neon_endpoint_id: 'ep-a-1' }).neon, {
      endpointId: 'ep-a-1',
      detected: true,
    });
    assert.equal(
      capabilitiesFromRow({ ...row, extensions: [['neon', '1.5', 'public']] }).neon.detected,
      true,
      'the neon extension alone is a Neon compute'
    );
    assert.equal(capabilitiesFromRow({ ...row, extensions: null, available: null }).extensions.size, 0);
    assert.deepEqual(c.server, { systemIdentifier: '7312345678901234567', port: 5432 });
    assert.deepEqual(serverOf(c), {
      identity: {
        systemIdentifier: '7312345678901234567',
        port: 5432,
        postmasterStart: '1700000000000',
        role: 'pgpulse',
      },
      database: 'app',
    });
    assert.equal(
      serverOf(capabilitiesFromRow({ ...row, system_identifier: null })),
      undefined,
      'pg_control_system() revoked: the target reads alone'
    );
  });

  it('splits shared_preload_libraries as the server does', () => {
    assert.deepEqual(preloadList(''), []);
    assert.deepEqual(preloadList('pg_stat_statements_x'), ['pg_stat_statements_x']);
    assert.ok(!preloadList('pg_stat_statements_x').includes('pg_stat_statements'));
  });

  it('the cache probes again on first use, reconnect, restart, extension change and max age only', () => {
    let now = 1000;
    const cache = new CapabilityCache(() => now);
    const sig = { postmasterStartMs: row.postmaster_start_ms, extensions: '1/700' };
    assert.equal(cache.staleBecause(sig), 'first probe');
    cache.store(capabilitiesFromRow(row), sig);
    assert.equal(cache.staleBecause(sig), null);
    assert.equal(cache.staleBecause({ ...sig, extensions: '1/700,16400/812' }), 'extensions changed');
    assert.equal(cache.staleBecause({ ...sig, extensions: null }), 'extensions changed');
    assert.equal(cache.staleBecause({ ...sig, postmasterStartMs: sig.postmasterStartMs + 5 }), 'server restarted');
    now += CAPABILITIES_MAX_AGE_MS - 1;
    assert.equal(cache.staleBecause(sig), null);
    now += 1;
    assert.equal(cache.staleBecause(sig), 'max age');
    cache.store(capabilitiesFromRow(row), sig);
    cache.invalidate();
    assert.equal(cache.staleBecause(sig), 'reconnected');
    cache.store(capabilitiesFromRow(row), sig);
    assert.equal(cache.staleBecause(sig), null);
  });

  it('a probe without a signal (health) that saw a restart makes the next signal probe again', () => {
    const cache = new CapabilityCache(() => 0);
    const sig = { postmasterStartMs: row.postmaster_start_ms, extensions: '1/700' };
    cache.store(capabilitiesFromRow(row), sig);
    cache.store(capabilitiesFromRow({ ...row, postmaster_start_ms: row.postmaster_start_ms + 60_000 }));
    assert.equal(cache.staleBecause(sig), 'first probe');
    assert.equal(cache.current()?.postmasterStartMs, row.postmaster_start_ms + 60_000);
  });
});

describe('doctor checks read the probe', () => {
  const caps = capabilitiesFromRow(row);

  it('role, server and pooler', () => {
    assert.deepEqual(roleCheck(caps), { name: 'role', status: 'ok', detail: 'pgpulse is a member of pg_monitor' });
    const bare = capabilitiesFromRow({ ...row, pg_monitor: false });
    assert.equal(roleCheck(bare).status, 'fail');
    assert.match(roleCheck(bare).detail, /GRANT pg_monitor TO pgpulse;$/);
    assert.equal(roleCheck(capabilitiesFromRow({ ...row, superuser: true })).status, 'warn');
    assert.equal(serverCheck(caps).detail, 'PostgreSQL 17.2, database app');
    const old = serverCheck(capabilitiesFromRow({ ...row, server_version: '13.9', server_version_num: 130009 }));
    assert.equal(old.status, 'fail');
    assert.match(
      serverCheck(capabilitiesFromRow({ ...row, server_version: '19beta1', server_version_num: 190000 })).detail,
      /PostgreSQL 19beta1 is newer/
    );
    assert.match(poolerCheck(caps, 4242).detail, /^direct connection/);
    assert.match(poolerCheck(caps, 999).detail, /^through a transaction pooler/);
  });

  it('pg_stat_statements: missing from the preload list, not created, unreadable, fine', () => {
    const notPreloaded = capabilitiesFromRow({ ...row, shared_preload_libraries: '' });
    assert.match(pgStatStatementsCheck(notPreloaded, null).detail, /^not in shared_preload_libraries/);
    const notCreated = capabilitiesFromRow({ ...row, extensions: [] });
    assert.equal(
      pgStatStatementsCheck(notCreated, null).detail,
      'preloaded but not created in this database: CREATE EXTENSION pg_stat_statements;'
    );
    assert.equal(pgStatStatementsCheck(caps, 'denied').detail, 'installed but not readable: denied');
    assert.match(
      pgStatStatementsCheck(capabilitiesFromRow({ ...row, shared_preload_libraries: null, extensions: [] }), null)
        .detail,
      /^not created in this database: CREATE EXTENSION pg_stat_statements; \(pgpulse may not read shared_preload_libraries/
    );
    assert.equal(
      pgStatStatementsCheck(capabilitiesFromRow({ ...row, shared_preload_libraries: null }), null).status,
      'ok',
      'installed and readable: preloaded, whatever the setting pgpulse cannot see'
    );
    assert.deepEqual(pgStatStatementsCheck(caps, null), {
      name: 'pg_stat_statements',
      status: 'ok',
      detail: 'version 1.11, readable (track = top)',
    });
  });

  it('optional extensions and the actions credential', () => {
    assert.equal(optionalExtensionCheck(caps, 'hypopg', 'why').status, 'warn');
    assert.equal(optionalExtensionCheck(caps, 'vector', 'why').detail, 'not available on this server (why)');
    assert.equal(optionalExtensionCheck(caps, 'pg_stat_statements', 'why').detail, 'version 1.11');
    assert.match(
      actionsCredentialCheck(caps).detail,
      /cancel\/terminate will fail: GRANT pg_signal_backend TO pgpulse;/
    );
    assert.equal(actionsCredentialCheck(capabilitiesFromRow({ ...row, pg_signal_backend: true })).status, 'ok');
  });
});

describe('the fix for a missing extension', () => {
  it('pg_stat_statements needs a restart only when its library is not preloaded', () => {
    const preloaded = capabilitiesFromRow(row);
    const bare = capabilitiesFromRow({ ...row, shared_preload_libraries: '' });
    assert.equal(installHint('pg_stat_statements', preloaded), 'CREATE EXTENSION pg_stat_statements');
    assert.match(
      installHint('pg_stat_statements', bare),
      /^add pg_stat_statements to shared_preload_libraries, restart/
    );
    assert.match(
      installHint('pg_stat_statements', undefined),
      /shared_preload_libraries/,
      'not probed yet: the full fix'
    );
    assert.equal(installHint('hypopg', bare), 'CREATE EXTENSION hypopg');
    const hidden = capabilitiesFromRow({ ...row, shared_preload_libraries: null });
    assert.equal(hidden.sharedPreloadLibraries, null, 'a role without pg_read_all_settings cannot tell');
    assert.match(installHint('pg_stat_statements', hidden), /shared_preload_libraries, restart/);
  });
});
