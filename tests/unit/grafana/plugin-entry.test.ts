import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  runPluginEntry,
  sidecarEnvFromPluginEnv,
  startSidecarFromApp,
} from '../../../src/sidecar/grafana/plugin-entry';
import { silentLogger } from '../../../src/sidecar/grafana/hclog';
import { NO_LOCAL_SIDECAR } from '../../../src/sidecar/grafana/server';
import { PluginClient, pluginContext } from '../../integration/grafana/grpc-client';
import { FakeService } from '../../integration/grafana/fake-service';

test('GF_PLUGIN_* settings become the sidecar variables; gRPC and HTTP leave the well-known ports', () => {
  const env = sidecarEnvFromPluginEnv({
    GF_PLUGIN_DATABASE_URL: 'postgres://x@db/postgres',
    GF_PLUGIN_TOKEN: 't0k3n',
    GF_PLUGIN_DATA_DIR: '/var/lib/grafana/pgpulse',
    GF_PLUGIN_INTERVAL: '30s',
    GF_PLUGIN_CONFIG: '/etc/pgpulse.yaml',
    PGPULSE_GRPC_ADDR: '0.0.0.0:7701',
  });
  assert.equal(env.DATABASE_URL, 'postgres://x@db/postgres');
  assert.equal(env.PGPULSE_TOKEN, 't0k3n');
  assert.equal(env.PGPULSE_DATA_DIR, '/var/lib/grafana/pgpulse');
  assert.equal(env.PGPULSE_INTERVAL, '30s');
  assert.equal(env.PGPULSE_CONFIG, '/etc/pgpulse.yaml');
  assert.equal(env.PGPULSE_GRPC_ADDR, '127.0.0.1:0');
  assert.equal(env.PGPULSE_HTTP_ADDR, '127.0.0.1:0');
  assert.equal(sidecarEnvFromPluginEnv({ GF_PLUGIN_HTTP_ADDR: '127.0.0.1:7790' }).PGPULSE_HTTP_ADDR, '127.0.0.1:7790');
});

test('runPluginEntry: handshake after the server listens, Shutdown stops the sidecar and exits 0', async () => {
  let handshake = '';
  let stopped = 0;
  const exited = new Promise<number>((resolve) => {
    void runPluginEntry(
      async ({ env }) => {
        assert.equal(env.PGPULSE_TOKEN, 'tok-1234');
        return { service: new FakeService(), stop: async () => void stopped++ };
      },
      // this test process plays Grafana, the process that started the plugin
      { handshake: (l) => (handshake = l), exit: resolve, shutdownFromPid: process.pid },
      { GF_PLUGIN_TOKEN: 'tok-1234', GF_PLUGIN_LOG_LEVEL: 'error' }
    );
  });
  while (!handshake) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const m = /^1\|2\|tcp\|127\.0\.0\.1:(\d+)\|grpc$/.exec(handshake);
  assert.ok(m, handshake);
  const c = new PluginClient(`127.0.0.1:${m![1]}`);
  const h = await c.unary(c.diagnostics, 'CheckHealth', { pluginContext: pluginContext('tok-1234') });
  assert.equal(h.status, 'OK');
  await c.unary(c.controller, 'Shutdown', {});
  assert.equal(await exited, 0);
  assert.equal(stopped, 1);
  c.close();
});

test('runPluginEntry: a sidecar that fails to start exits 1 without a handshake', async () => {
  let handshake = '';
  const code = await new Promise<number>((resolve) => {
    void runPluginEntry(
      async () => {
        throw new Error('DATABASE_URL is not set');
      },
      { handshake: (l) => (handshake = l), exit: resolve },
      { GF_PLUGIN_LOG_LEVEL: 'error' }
    );
  });
  assert.equal(code, 1);
  assert.equal(handshake, '');
});

test('a starter without a database (service null): the process relays, and a datasource naming no sidecar is told what to set', async () => {
  let handshake = '';
  const exited = new Promise<number>((resolve) => {
    void runPluginEntry(
      async () => ({ service: null, stop: async () => undefined }),
      { handshake: (l) => (handshake = l), exit: resolve, shutdownFromPid: process.pid },
      { GF_PLUGIN_LOG_LEVEL: 'error' }
    );
  });
  while (!handshake) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const c = new PluginClient(`127.0.0.1:${/:(\d+)\|grpc$/.exec(handshake)![1]}`);
  const h = await c.unary(c.diagnostics, 'CheckHealth', { pluginContext: pluginContext('any-token') });
  assert.equal(h.status, 'ERROR');
  assert.equal(h.message, NO_LOCAL_SIDECAR);
  await c.unary(c.controller, 'Shutdown', {});
  assert.equal(await exited, 0);
  c.close();
});

test('the real starter starts no sidecar without database_url or config', async () => {
  const s = await startSidecarFromApp({ logger: silentLogger, env: {} });
  assert.equal(s.service, null);
});
