/**
 * Unauthenticated oversized gRPC requests against a plugin process: how much memory the server
 * keeps. 16 concurrent QueryData calls of 60 MiB each, no token; the server's RSS before and after.
 * Run: node --import tsx bench/grpc-oversize.ts
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PluginClient, dataQuery, pluginContext } from '../tests/integration/grafana/grpc-client';

const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

async function main(): Promise<void> {
  const child = spawn(
    process.execPath,
    [join(__dirname, '..', 'tests', 'integration', 'grafana', 'fake-plugin-entry.cjs')],
    {
      env: { ...process.env, GF_PLUGIN_TOKEN: 'tok', GF_PLUGIN_LOG_LEVEL: 'error' },
      stdio: ['ignore', 'pipe', 'ignore'],
    }
  );
  try {
    const port = await new Promise<string>((resolve) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /127\.0\.0\.1:(\d+)\|grpc/.exec(out);
        if (m) {
          resolve(m[1]);
        }
      });
    });
    await new Promise((r) => setTimeout(r, 1000));
    const before = rssMb(child.pid!);
    const c = new PluginClient(`127.0.0.1:${port}`);
    const pad = 'a'.repeat(60 * 1024 * 1024);
    const now = Date.now();
    const results = await Promise.allSettled(
      Array.from({ length: 16 }, () =>
        c.unary(c.data, 'QueryData', {
          pluginContext: pluginContext(undefined),
          queries: [dataQuery('A', { metric: 'tps', pad }, now - 60_000, now)],
        })
      )
    );
    await new Promise((r) => setTimeout(r, 2000));
    const after = rssMb(child.pid!);
    const codes = results.map((r) => (r.status === 'rejected' ? (r.reason as { code?: number }).code : 'answered'));
    console.log(
      JSON.stringify({
        requests: 16,
        messageMiB: 60,
        rssBeforeMb: Math.round(before),
        rssAfterMb: Math.round(after),
        growthMb: Math.round(after - before),
        codes: [...new Set(codes)],
      })
    );
    c.close();
  } finally {
    child.kill('SIGKILL');
  }
}

void main();
