/**
 * The test runner's side of backend-process.ts: start it, read its address line, query the
 * same PostgreSQL for ground truth, and stop it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { Client } from 'pg';

const ROOT = resolve(__dirname, '../../..');

export interface RemoteBackend {
  grpcAddress: string;
  token: string;
  /** superuser connection to the monitored database, for ground truth */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

export async function launchBackend(): Promise<RemoteBackend> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', resolve(__dirname, 'backend-process.ts')], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'test' },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8000);
  });
  const info = await new Promise<{ grpcAddress: string; token: string; pgUrl: string }>((ok, fail) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /PGPULSE_E2E_READY (\{.*\})\n/.exec(out);
      if (m) {
        ok(JSON.parse(m[1]));
      }
    });
    child.once('exit', (code) => fail(new Error(`e2e backend exited (${code}) before it was ready:\n${stderr}`)));
  });
  const client = new Client({ connectionString: info.pgUrl.replace(/\/\/[^@]*@/, '//postgres@') });
  await client.connect();
  return {
    grpcAddress: info.grpcAddress,
    token: info.token,
    query: async <T>(sql: string, params: unknown[] = []) => (await client.query(sql, params)).rows as T[],
    stop: async () => {
      await client.end().catch(() => undefined);
      if (child.exitCode === null) {
        const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
