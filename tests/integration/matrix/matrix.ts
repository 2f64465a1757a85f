/**
 * Runs every matrix suite against one real server of one major: each tests/integration/matrix
 * pgNN.test.ts file is one server (the node test runner gives each file its own process, so a
 * server cannot be shared across files; sharing it across suites is what keeps CI short).
 *
 * To add a suite: export a function (server, getPg) => void that registers describe()/it() blocks
 * and list it in SUITES. It gets the superuser handle (url, urlFor, query, stop, crash, start) and
 * must leave the server running and its own roles/tables named apart from other suites.
 */
import { after, before } from 'node:test';
import { startMatrixPostgres, type MatrixServer } from '../../support/pg-matrix';
import type { TestPostgres } from '../../support/pg';
import { clusterTruthSuite } from './cluster-truth';
import { hijackSuite } from './hijack';
import { leastPrivilegeSuite } from './least-privilege';
import { loadTruthSuite } from './load-truth';
import { ownStatementsSuite } from './own-statements';
import { plansSuite } from './plans';
import { prometheusTruthSuite } from './prometheus-truth';
import { replicationTruthSuite } from './replication-truth';
import { resetTruthSuite } from './reset-truth';
import { sizesTruthSuite } from './sizes-truth';
import { vitalSignsTruthSuite } from './vital-signs-truth';
import { vitalsTruthSuite } from './vitals-truth';

export type MatrixSuite = (server: MatrixServer, getPg: () => TestPostgres) => void;

// reset-truth restarts the server several times: it runs last, after the suites that keep a
// sidecar connected for their whole describe block
const SUITES: MatrixSuite[] = [
  ownStatementsSuite,
  leastPrivilegeSuite,
  vitalsTruthSuite,
  replicationTruthSuite,
  vitalSignsTruthSuite,
  loadTruthSuite,
  plansSuite,
  hijackSuite,
  prometheusTruthSuite,
  sizesTruthSuite,
  clusterTruthSuite,
  resetTruthSuite,
];

export function runMatrix(server: MatrixServer): void {
  let pg: TestPostgres | undefined;
  before(async () => {
    pg = await startMatrixPostgres(server);
    const v = await pg.query<{ v: number }>("SELECT current_setting('server_version_num')::int AS v");
    if (Math.floor(v[0].v / 10000) !== server.major) {
      throw new Error(`${server.label}: started PostgreSQL ${v[0].v}, expected major ${server.major}`);
    }
  });
  after(async () => {
    await pg?.destroy();
  });
  const getPg = () => {
    if (!pg) {
      throw new Error(`${server.label}: the server did not start`);
    }
    return pg;
  };
  for (const suite of SUITES) {
    suite(server, getPg);
  }
}
