/**
 * Local mode: the plugin process obeys Shutdown from the process that started it (here this test,
 * standing in for Grafana) and from nobody else. The plugin entry runs as a real child process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { PluginClient } from './grpc-client';

test('the parent process may Shutdown the plugin: the child exits 0', async () => {
  const child = spawn(process.execPath, [join(__dirname, 'fake-plugin-entry.cjs')], {
    env: { ...process.env, GF_PLUGIN_TOKEN: 'tok', GF_PLUGIN_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) {
          resolve(out.split('\n')[0]);
        }
      });
      child.once('exit', () => reject(new Error('plugin exited before the handshake')));
    });
    const port = /^1\|2\|tcp\|127\.0\.0\.1:(\d+)\|grpc$/.exec(line)?.[1];
    assert.ok(port, line);
    const c = new PluginClient(`127.0.0.1:${port}`);
    await c.unary(c.controller, 'Shutdown', {});
    c.close();
    assert.equal(await exited, 0);
  } finally {
    child.kill('SIGKILL');
  }
});
