import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError, loadConfig, parseDuration } from '../../../src/sidecar/config';

// one directory for the file's configs, removed at the end (a directory per config was left behind)
const dir = mkdtempSync(join(tmpdir(), 'pgpulse-cfg-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function yamlFile(text: string): string {
  const f = join(dir, `pgpulse-${++files}.yaml`);
  writeFileSync(f, text);
  return f;
}

test('DATABASE_URL makes one target named default with the documented defaults', () => {
  const c = loadConfig({ DATABASE_URL: 'postgres://u:p@h:5432/db' });
  assert.equal(c.targets.length, 1);
  assert.equal(c.targets[0].name, 'default');
  assert.equal(c.intervalMs, 15_000);
  assert.equal(c.httpAddress, '127.0.0.1:7700');
  assert.equal(c.grpcAddress, '127.0.0.1:7701');
  assert.equal(c.dataDir, './.pgpulse');
  assert.equal(c.headWindowMs, 2 * 3_600_000);
});

test('headWindow: points older than it are packed into chunks; a value out of range says the bounds', () => {
  const ok = loadConfig({
    PGPULSE_CONFIG: yamlFile('headWindow: 30m\ntargets:\n  - {name: a, url: "postgres://h/d"}\n'),
  });
  assert.equal(ok.headWindowMs, 1_800_000);
  assert.throws(
    () => loadConfig({ PGPULSE_CONFIG: yamlFile('headWindow: 10s\ntargets:\n  - {name: a, url: "postgres://h/d"}\n') }),
    (e: Error) => e instanceof ConfigError && /headWindow: must be between 60s and 2592000s, got 10s/.test(e.message)
  );
});

test('no target at all says what to set', () => {
  assert.throws(
    () => loadConfig({}),
    (e: Error) => e instanceof ConfigError && /DATABASE_URL/.test(e.message) && /PGPULSE_CONFIG/.test(e.message)
  );
});

test('a YAML file with several targets, urlEnv and overrides', () => {
  const f = yamlFile(`
interval: 30s
targets:
  - name: app
    urlEnv: APP_DB
    collectors: { statements: { interval: 2m } }
  - name: analytics
    url: postgresql://ro@localhost/analytics
    interval: 1m
`);
  const c = loadConfig({ PGPULSE_CONFIG: f, APP_DB: 'postgres://x@y/z' });
  assert.deepEqual(
    c.targets.map((t) => [t.name, t.intervalMs]),
    [
      ['app', 30_000],
      ['analytics', 60_000],
    ]
  );
  assert.equal(c.targets[0].url, 'postgres://x@y/z');
  assert.equal(c.targets[0].collectors.statements.interval, 120_000);
});

test('a malformed config names every bad field and the fix', () => {
  const f = yamlFile(`
targets:
  - name: "bad name!"
    url: mysql://nope
    interval: often
    colectors: {}
`);
  assert.throws(
    () => loadConfig({ PGPULSE_CONFIG: f }),
    (e: Error) =>
      e instanceof ConfigError &&
      /targets\[0\]\.name/.test(e.message) &&
      /targets\[0\]\.url: must start with postgres:\/\//.test(e.message) &&
      /targets\[0\]\.interval/.test(e.message) &&
      /colectors/.test(e.message)
  );
});

test('invalid YAML, a missing file, duplicate names and bad env values are explained', () => {
  assert.throws(() => loadConfig({ PGPULSE_CONFIG: yamlFile('targets: [\n') }), /not valid YAML/);
  assert.throws(() => loadConfig({ PGPULSE_CONFIG: '/nonexistent/pgpulse.yaml' }), /does not exist/);
  assert.throws(
    () =>
      loadConfig({
        PGPULSE_CONFIG: yamlFile(
          'targets:\n  - {name: a, url: "postgres://h/d"}\n  - {name: a, url: "postgres://h/e"}\n'
        ),
      }),
    /used twice/
  );
  assert.throws(() => loadConfig({ DATABASE_URL: 'postgres://h/d', PGPULSE_INTERVAL: 'soon' }), /PGPULSE_INTERVAL/);
  assert.throws(
    () => loadConfig({ DATABASE_URL: 'postgres://h/d', PGPULSE_HTTP_ADDR: 'nowhere' }),
    /PGPULSE_HTTP_ADDR/
  );
  // only the gRPC listener can be switched off: HTTP carries /healthz and /metrics
  assert.throws(() => loadConfig({ DATABASE_URL: 'postgres://h/d', PGPULSE_HTTP_ADDR: 'off' }), /PGPULSE_HTTP_ADDR/);
  assert.equal(loadConfig({ DATABASE_URL: 'postgres://h/d', PGPULSE_GRPC_ADDR: 'off' }).grpcAddress, 'off');
  assert.equal(
    loadConfig({ PGPULSE_CONFIG: yamlFile('grpcAddress: "off"\ntargets:\n  - {name: a, url: "postgres://h/d"}\n') })
      .grpcAddress,
    'off'
  );
});

test('a config error never echoes the password of a URL', () => {
  try {
    loadConfig({
      PGPULSE_CONFIG: yamlFile(
        'targets:\n  - name: a\n    url: "postgres://u:s3cret@h/d"\n    ssl: { mode: sometimes }\n'
      ),
    });
    assert.fail('should throw');
  } catch (e) {
    assert.match((e as Error).message, /ssl\.mode/);
    assert.doesNotMatch((e as Error).message, /s3cret/);
  }
});

test('durations', () => {
  assert.equal(parseDuration('15s'), 15_000);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration(3), 3000);
  assert.throws(() => parseDuration('1 fortnight'));
});

test('/metrics cardinality limits: defaults, the YAML metrics section, env overrides, and a bad value named', () => {
  assert.deepEqual(loadConfig({ DATABASE_URL: 'postgres://u:p@h:5432/db' }).metrics, {
    topStatements: 100,
    topRelations: 1000,
  });
  const f = yamlFile(`
metrics: { topStatements: 25, topRelations: 300 }
targets:
  - name: app
    url: postgres://x@y/z
`);
  assert.deepEqual(loadConfig({ PGPULSE_CONFIG: f }).metrics, { topStatements: 25, topRelations: 300 });
  assert.deepEqual(loadConfig({ PGPULSE_CONFIG: f, PGPULSE_METRICS_TOP_STATEMENTS: '7' }).metrics, {
    topStatements: 7,
    topRelations: 300,
  });
  assert.throws(
    () => loadConfig({ DATABASE_URL: 'postgres://u:p@h:5432/db', PGPULSE_METRICS_TOP_STATEMENTS: 'lots' }),
    (e: Error) =>
      e instanceof ConfigError && /PGPULSE_METRICS_TOP_STATEMENTS="lots" must be a whole number/.test(e.message)
  );
  const typo = yamlFile(`
metrics: { topStatement: 5 }
targets: [{ name: app, url: postgres://x@y/z }]
`);
  assert.throws(
    () => loadConfig({ PGPULSE_CONFIG: typo }),
    (e: Error) => e instanceof ConfigError && /metrics: unknown key\(s\) "topStatement"/.test(e.message)
  );
});
