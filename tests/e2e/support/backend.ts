/**
 * The real backend the browser tests talk to: a throw-away PostgreSQL 15 (tests/support/pg.ts)
 * with the shop workload, and the pgpulse sidecar sampling it every second through a read-only
 * pg_monitor role, serving Grafana's plugin protocol on a free loopback port.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startSidecar, type Sidecar } from '../../../src/sidecar/app';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { SHOP_DB, seedShop } from './seed';

export interface E2EBackend {
  pg: TestPostgres;
  sidecar: Sidecar;
  grpcAddress: string;
  token: string;
  stop(): Promise<void>;
}

export async function startE2EBackend(): Promise<E2EBackend> {
  const pg = await startPostgres();
  const dataDir = mkdtempSync(join(tmpdir(), 'pgpulse-e2e-'));
  try {
    await seedShop(pg);
    await pg.query('CREATE ROLE pgpulse_monitor LOGIN IN ROLE pg_monitor');
    const token = randomBytes(18).toString('base64url');
    const sidecar = await startSidecar({
      env: {
        DATABASE_URL: pg.urlFor(SHOP_DB, 'pgpulse_monitor'),
        PGPULSE_TOKEN: token,
        PGPULSE_DATA_DIR: dataDir,
        PGPULSE_HTTP_ADDR: '127.0.0.1:0',
        PGPULSE_GRPC_ADDR: '127.0.0.1:0',
        PGPULSE_INTERVAL: '1s',
        PGPULSE_LOG_LEVEL: 'warn',
      },
    });
    if (!sidecar.grpcPort) {
      throw new Error('the sidecar started without its gRPC plugin server');
    }
    return {
      pg,
      sidecar,
      grpcAddress: `127.0.0.1:${sidecar.grpcPort}`,
      token,
      stop: async () => {
        await sidecar.stop();
        await pg.destroy();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await pg.destroy();
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
}
