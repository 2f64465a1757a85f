/**
 * Secrets never leave the database: a real PostgreSQL runs the statements that carry passwords and
 * keys (pg_stat_statements keeps utility statements verbatim), pgpulse samples them, and then
 * nothing in its data directory, in top_queries frames (gRPC QueryData and HTTP) or in the
 * queryids resource asked for by a Grafana Viewer through CallResource contains any of them —
 * while the statements themselves are there, redacted.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { startPostgres, type TestPostgres } from '../../support/pg';
import { startTestSidecar, type TestSidecar } from '../../support/sidecar';
import { PluginClient, dataQuery, pluginContext } from './grpc-client';

const SECRETS: Array<[string, string]> = [
  ['CREATE ROLE … PASSWORD', "CREATE ROLE sec_app LOGIN PASSWORD 'AppPw_1'"],
  ['ALTER ROLE … PASSWORD', "ALTER ROLE sec_app PASSWORD 'AppPw_2'"],
  ['ALTER USER … ENCRYPTED PASSWORD', "ALTER USER sec_app WITH ENCRYPTED PASSWORD 'AppPw_3' VALID UNTIL 'infinity'"],
  [
    'CREATE SERVER … OPTIONS',
    "CREATE SERVER sec_srv FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', dbname 'postgres', application_name 'SrvOpt_4')",
  ],
  [
    'CREATE USER MAPPING … password',
    "CREATE USER MAPPING FOR sec_app SERVER sec_srv OPTIONS (user 'sec_app', password 'FdwPw_5')",
  ],
  [
    'ALTER USER MAPPING … SET password',
    "ALTER USER MAPPING FOR sec_app SERVER sec_srv OPTIONS (SET password 'FdwPw_6')",
  ],
  [
    'CREATE SUBSCRIPTION … CONNECTION',
    "CREATE SUBSCRIPTION sec_sub CONNECTION 'host=127.0.0.1 dbname=postgres password=SubPw_7' PUBLICATION p WITH (connect = false)",
  ],
  ['SET of a custom setting', "SET sec.api_key = 'SetKey_8'"],
  ['DO block', "DO $$BEGIN PERFORM 'DoKey_9'; END$$"],
  ['COMMENT with a conninfo', "COMMENT ON ROLE sec_app IS 'host=db password=CmtPw_10'"],
  ['pgcrypto key', "SELECT pgp_sym_encrypt('data', 'SymKey_11')"],
  [
    'dblink conninfo',
    "SELECT dblink_connect('sec_c', 'host=127.0.0.1 port=PORT dbname=postgres user=postgres password=DbPw_12')",
  ],
];
const WORDS = SECRETS.map(([, sql]) => /'([A-Za-z]+_\d+)'|password=([A-Za-z]+_\d+)/.exec(sql)).map(
  (m) => (m?.[1] ?? m?.[2]) as string
);

let pg: TestPostgres;
let side: TestSidecar;
let client: PluginClient;

before(async () => {
  pg = await startPostgres();
  await pg.query('CREATE EXTENSION postgres_fdw; CREATE EXTENSION dblink; CREATE EXTENSION pgcrypto');
  side = await startTestSidecar({ url: pg.url, grpc: true });
  await side.sampleNow();
  for (const [, sql] of SECRETS) {
    await pg.query(sql.replace('PORT', String(pg.port)));
  }
  await new Promise((r) => setTimeout(r, 1100));
  await side.sampleNow();
  client = new PluginClient(side.grpcAddress);
});

after(async () => {
  client?.close();
  await side?.destroy();
  await pg?.destroy();
});

function leaked(text: string): string[] {
  return WORDS.filter((w) => text.includes(w));
}

test('the secrets reached pg_stat_statements (the test is meaningful)', async () => {
  const rows = await pg.query<{ query: string }>('SELECT query FROM pg_stat_statements');
  const all = rows.map((r) => r.query).join('\n');
  for (const w of ['AppPw_1', 'AppPw_2', 'FdwPw_5', 'SubPw_7', 'SetKey_8', 'DoKey_9']) {
    assert.ok(all.includes(w), `${w} is in pg_stat_statements`);
  }
});

test('nothing secret in the data directory (SQLite file and WAL)', () => {
  for (const f of readdirSync(side.dataDir)) {
    const bytes = readFileSync(join(side.dataDir, f)).toString('latin1');
    assert.deepEqual(leaked(bytes), [], `${f} holds a secret`);
  }
  const texts = [...side.sidecar.store.statementTexts('default').values()];
  assert.ok(
    texts.some((t) => /^ALTER ROLE sec_app PASSWORD '<redacted>'/.test(t)),
    'the ALTER ROLE statement is kept, redacted'
  );
  assert.ok(
    texts.some((t) => /CREATE USER MAPPING .*password '<redacted>'/.test(t)),
    'the USER MAPPING statement is kept, redacted'
  );
});

test('a Viewer sees no secret: top_queries over gRPC QueryData and the queryids resource over CallResource', async () => {
  const viewer = { ...pluginContext(side.token), user: { login: 'viewer', name: 'Viewer', role: 'Viewer' } };
  const to = Date.now() + 1000;
  const r = await client.unary(client.data, 'QueryData', {
    pluginContext: viewer,
    queries: [dataQuery('A', { metric: 'top_queries', topN: 100, orderBy: 'calls' }, to - 600_000, to)],
  });
  const a = r.responses.A;
  assert.equal(a.error ?? '', '', a.error);
  const frames = a.frames.map((f: Buffer) => JSON.stringify(tableFromIPC(f).toArray()));
  const frameText = frames.join('\n');
  assert.match(frameText, /ALTER ROLE sec_app PASSWORD '<redacted>'/, 'top_queries shows the statement, redacted');
  assert.deepEqual(leaked(frameText), [], 'top_queries frames');

  const [res] = await client.stream(client.resource, 'CallResource', {
    pluginContext: viewer,
    path: 'queryids',
    method: 'GET',
    url: 'queryids?target=default',
  });
  const body = Buffer.from(res.body).toString();
  assert.equal(res.code, 200, body.slice(0, 200));
  assert.match(body, /<redacted>/);
  assert.deepEqual(leaked(body), [], 'queryids resource');
});

test('HTTP top_queries carries no secret either', async () => {
  const res = await side.query({
    from: Date.now() - 600_000,
    to: Date.now() + 1000,
    queries: [{ refId: 'A', metric: 'top_queries', topN: 100 }],
  });
  const text = JSON.stringify(res.json);
  assert.match(text, /<redacted>/);
  assert.deepEqual(leaked(text), []);
});
