/**
 * Secrets in statement texts: one case per pattern scrubStatement removes, the texts it must leave
 * alone, and the store paths (write, read, migration of old texts, retention of unseen texts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { migrations } from '../../../src/sidecar/store/migrations';
import { normalizeSentText, scrubStatement } from '../../../src/sidecar/store/scrub';
import { Store } from '../../../src/sidecar/store/store';

const cases: Array<[string, string, string[]]> = [
  ['CREATE ROLE … PASSWORD', "CREATE ROLE app LOGIN PASSWORD 'AppPw_1'", ['AppPw_1']],
  [
    'ALTER ROLE … ENCRYPTED PASSWORD',
    "ALTER ROLE app ENCRYPTED PASSWORD 'AppPw_2' VALID UNTIL '2030-01-01'",
    ['AppPw_2'],
  ],
  ['ALTER USER … WITH PASSWORD (E-string, escaped quote)', "alter user app with password E'A\\'ppPw_3'", ['ppPw_3']],
  ['CREATE USER … PASSWORD with a doubled quote', "CREATE USER app PASSWORD 'App''Pw_4'", ['Pw_4']],
  ['CREATE GROUP … PASSWORD', "CREATE GROUP g PASSWORD 'GrpPw_5'", ['GrpPw_5']],
  [
    'CREATE SERVER … OPTIONS (postgres_fdw)',
    "CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db', password 'SrvPw_6')",
    ['SrvPw_6'],
  ],
  [
    'CREATE USER MAPPING … OPTIONS',
    "CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'app', password 'MapPw_7')",
    ['MapPw_7'],
  ],
  [
    'ALTER USER MAPPING … OPTIONS (SET password)',
    "ALTER USER MAPPING FOR app SERVER s OPTIONS (SET password 'MapPw_8')",
    ['MapPw_8'],
  ],
  [
    'CREATE SUBSCRIPTION … CONNECTION',
    "CREATE SUBSCRIPTION sub CONNECTION 'host=db user=rep password=SubPw_9' PUBLICATION p",
    ['SubPw_9'],
  ],
  ['ALTER SUBSCRIPTION … CONNECTION', "ALTER SUBSCRIPTION sub CONNECTION 'host=db password=SubPw_10'", ['SubPw_10']],
  ['dblink_connect conninfo in a SELECT', "SELECT dblink_connect('c', 'host=db password=DbPw_11')", ['DbPw_11']],
  ['dblink with a URI', "SELECT * FROM dblink('postgresql://app:DbPw_12@db/app', 'select 1') AS t(x int)", ['DbPw_12']],
  ['pgp_sym_encrypt key', "SELECT pgp_sym_encrypt(data, 'SymKey_13') FROM t", ['SymKey_13']],
  ['pgp_sym_decrypt key (dollar quoted)', 'SELECT pgp_sym_decrypt(c, $k$SymKey_14$k$) FROM t', ['SymKey_14']],
  [
    'hmac / crypt keys',
    "SELECT hmac(x, 'HmacKey_15', 'sha256'), crypt('Pw_16', gen_salt('bf')) FROM t",
    ['HmacKey_15', 'Pw_16'],
  ],
  ['set_config of a secret', "SELECT set_config('app.key', 'CfgKey_17', false)", ['CfgKey_17']],
  ['SET of a custom setting', "SET app.api_key = 'SetKey_18'", ['SetKey_18']],
  ['ALTER SYSTEM SET', "ALTER SYSTEM SET neon.api_key TO 'SysKey_19'", ['SysKey_19']],
  ['DO block', "DO $$BEGIN PERFORM dblink_connect('host=db password=DoPw_20'); END$$", ['DoPw_20']],
  ['function body', "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $body$ SELECT 'FnKey_21' $body$", ['FnKey_21']],
  ['COPY … PROGRAM', "COPY t TO PROGRAM 'curl -u admin:CopyPw_22 https://x'", ['CopyPw_22']],
  ['password= in a comment', 'SELECT 1 /* host=db password=CmtPw_23 */', ['CmtPw_23']],
  [
    'a literal with a password in a plannable statement',
    "SELECT * FROM t WHERE conn = 'password=LitPw_24'",
    ['LitPw_24'],
  ],
  ['text cut inside a literal (fails closed)', "ALTER ROLE app PASSWORD 'TruncPw_25", ['TruncPw_25']],
  ['text cut inside a dollar body (fails closed)', 'DO $x$ BEGIN RAISE NOTICE $$DollarPw_26', ['DollarPw_26']],
  ['second statement of a multi-statement text', "SELECT $1; ALTER ROLE app PASSWORD 'MultiPw_27'", ['MultiPw_27']],
  ['leading comment before the utility statement', "/* app */ ALTER ROLE app PASSWORD 'LeadPw_28'", ['LeadPw_28']],
];

for (const [name, sql, secrets] of cases) {
  test(`scrub: ${name}`, () => {
    const out = scrubStatement(sql);
    for (const s of secrets) {
      assert.ok(!out.includes(s), `${s} left in: ${out}`);
    }
    assert.match(out, /<redacted>/);
  });
}

test('scrub: normalized statements and identifiers are left as they are', () => {
  for (const sql of [
    'SELECT * FROM orders WHERE customer = $1 AND note LIKE $2',
    'INSERT INTO "Passwords" (id, "secret") VALUES ($1, $2)',
    'UPDATE t SET v = v + $1 WHERE id = ANY($2::int[])',
    'VACUUM (ANALYZE) public.orders',
    'SELECT $1::text || $2 AS x /* pgpulse */',
  ]) {
    assert.equal(scrubStatement(sql), sql);
  }
  // a plannable statement keeps harmless literals pg_stat_statements did not normalize
  assert.equal(scrubStatement("SELECT 'a'::regclass"), "SELECT 'a'::regclass");
  // the statement kind stays readable after redaction
  assert.equal(scrubStatement("ALTER ROLE app PASSWORD 'x'"), "ALTER ROLE app PASSWORD '<redacted>'");
});

function tmp() {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-scrub-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('store: texts are scrubbed when written and when read', () => {
  const { dir, cleanup } = tmp();
  const store = Store.open(dir);
  try {
    store.putStatementTexts('t', [{ queryid: '1', text: "ALTER ROLE app PASSWORD 'StorePw_1'" }], Date.now());
    const raw = store.db.prepare('SELECT text FROM statement_text').all() as Array<{ text: string }>;
    assert.ok(
      raw.every((r) => !r.text.includes('StorePw_1')),
      'not stored'
    );
    assert.ok(!store.statementTexts('t').get('1')!.includes('StorePw_1'), 'not served');
  } finally {
    store.close();
    cleanup();
  }
});

test('store: migration 3 scrubs texts stored verbatim by an older pgpulse', () => {
  const { dir, cleanup } = tmp();
  try {
    Store.open(dir).close();
    // as an older version left it: schema version 2, the secret verbatim
    const file = join(dir, 'pgpulse.db');
    const db = new Database(file);
    db.prepare('INSERT INTO target (id, name) VALUES (1, ?)').run('t');
    db.prepare('INSERT INTO statement_text (target_id, queryid, text, first_seen) VALUES (1, ?, ?, ?)').run(
      '9',
      "CREATE USER MAPPING FOR a SERVER s OPTIONS (password 'OldPw_1')",
      1
    );
    db.pragma('user_version = 2');
    db.close();
    const store = Store.open(dir);
    try {
      const raw = store.db.prepare('SELECT text FROM statement_text').get() as { text: string };
      assert.equal(raw.text, "CREATE USER MAPPING FOR a SERVER s OPTIONS (password '<redacted>')");
      // migrated on to the latest version
      assert.equal(store.db.pragma('user_version', { simple: true }), Math.max(...migrations.map((m) => m.version)));
    } finally {
      store.close();
    }
  } finally {
    cleanup();
  }
});

test('store: texts of statements not seen within the retention are dropped, live ones kept', () => {
  const { dir, cleanup } = tmp();
  const store = Store.open(dir);
  try {
    const day = 86_400_000;
    const now = 100 * day;
    const row = (queryid: string) => ({ key: { queryid, datname: 'd', username: 'u' }, values: { calls: 1 } });
    store.writeSample({
      target: 't',
      collector: 'statements',
      ts: now - 20 * day,
      ok: true,
      epoch: 1,
      rows: [row('old'), row('live')],
    });
    // entities' last_seen moves at keyframes (here: a new epoch)
    store.writeSample({ target: 't', collector: 'statements', ts: now - day, ok: true, epoch: 2, rows: [row('live')] });
    store.putStatementTexts(
      't',
      [
        { queryid: 'old', text: 'SELECT $1' },
        { queryid: 'live', text: 'SELECT $2' },
      ],
      now - 20 * day
    );
    store.compact(now, { retentionMs: 14 * day, downsampleAfterMs: 2 * day, downsampleStepMs: 300_000 });
    assert.deepEqual([...store.statementTexts('t').keys()], ['live']);
  } finally {
    store.close();
    cleanup();
  }
});

test('texts as sent (pg_stat_activity): every constant becomes $n, numbered after the parameters already there', () => {
  const cases: Array<[string, string]> = [
    [
      "SELECT * FROM users WHERE email = 'ann@example.com' AND id = 42",
      'SELECT * FROM users WHERE email = $1 AND id = $2',
    ],
    [
      'select t1.x, $1 from t1 where y > 3.14 and z < 1e10 and w = 2.5E-3 and v = .5',
      'select t1.x, $1 from t1 where y > $2 and z < $3 and w = $4 and v = $5',
    ],
    [
      "INSERT INTO cards VALUES (4111111111111111, E'it''s', $$body$$, $q$x$q$)",
      'INSERT INTO cards VALUES ($1, $2, $3, $4)',
    ],
    [
      'SELECT a[1], "col 2", t2.c3 FROM t2 LIMIT 10 -- password=hunter2',
      'SELECT a[$1], "col 2", t2.c3 FROM t2 LIMIT $2 -- password=<redacted>',
    ],
    ["UPDATE t SET v = 'unterminated", 'UPDATE t SET v = $1'],
    ["ALTER ROLE app PASSWORD 'pw'", 'ALTER ROLE app PASSWORD $1'],
  ];
  for (const [sent, shown] of cases) {
    assert.equal(normalizeSentText(sent), shown);
  }
});
