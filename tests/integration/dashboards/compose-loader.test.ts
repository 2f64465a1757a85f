/**
 * docker-compose.yaml through compose-go, the loader Docker Compose uses (no Docker engine
 * needed): it must load without error, and the normalised project it produces must still say
 * what the structural unit test checks on the raw YAML.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = resolve(__dirname, '..', '..', '..');

function loadWithComposeGo(): any {
  const out = execFileSync('go', ['run', '-buildvcs=false', '.', join(ROOT, 'docker-compose.yaml')], {
    cwd: join(__dirname, 'composecheck'),
    encoding: 'utf8',
    // the loader must see only the file's own defaults, whatever the caller exported
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      GOPATH: process.env.GOPATH ?? '',
      GOFLAGS: '-buildvcs=false',
      GOTOOLCHAIN: 'local',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(out);
}

describe('docker-compose.yaml loaded by compose-go', () => {
  const project = loadWithComposeGo();
  const svc = project.services;

  it('loads: valid against the Compose schema, every depends_on target exists', () => {
    assert.deepEqual(Object.keys(svc).sort(), ['grafana', 'plugin', 'postgres', 'prometheus', 'sidecar', 'workload']);
    for (const [name, s] of Object.entries<any>(svc)) {
      for (const dep of Object.keys(s.depends_on ?? {})) {
        assert.ok(svc[dep], `${name} → ${dep}`);
      }
    }
  });

  it('start order: postgres healthy → sidecar healthy → plugin copied → grafana', () => {
    assert.equal(svc.sidecar.depends_on.postgres.condition, 'service_healthy');
    assert.equal(svc.workload.depends_on.postgres.condition, 'service_healthy');
    assert.equal(svc.grafana.depends_on.sidecar.condition, 'service_healthy');
    assert.equal(svc.grafana.depends_on.plugin.condition, 'service_completed_successfully');
    for (const s of ['postgres', 'sidecar', 'grafana']) {
      assert.ok(svc[s].healthcheck?.test?.length > 1, `${s} healthcheck`);
    }
  });

  it('bind mounts resolve to paths that exist in the repository', () => {
    for (const [name, s] of Object.entries<any>(svc)) {
      for (const v of s.volumes ?? []) {
        if (v.type === 'bind') {
          assert.ok(existsSync(v.source), `${name}: ${v.source}`);
        } else {
          assert.ok(project.volumes[v.source], `${name}: volume ${v.source} declared`);
        }
      }
    }
  });

  it('defaults interpolate to a consistent demo: token, role password and database agree across services', () => {
    assert.equal(svc.grafana.environment.PGPULSE_TOKEN, svc.sidecar.environment.PGPULSE_TOKEN);
    const url = new URL(svc.sidecar.environment.DATABASE_URL);
    assert.equal(url.password, svc.postgres.environment.PGPULSE_MONITOR_PASSWORD);
    assert.equal(url.pathname.slice(1), svc.postgres.environment.POSTGRES_DB);
    assert.equal(svc.workload.environment.PGPASSWORD, svc.postgres.environment.POSTGRES_PASSWORD);
    assert.ok(svc.grafana.environment.PGPULSE_ALERT_WEBHOOK_URL.startsWith('http'));
  });

  it('the sidecar is built from this repository and the plugin service reuses that image', () => {
    assert.equal(svc.sidecar.build.context, ROOT);
    assert.ok(existsSync(join(ROOT, svc.sidecar.build.dockerfile ?? 'Dockerfile')));
    assert.equal(svc.plugin.image, svc.sidecar.image);
  });
});
