/**
 * The parser's WebAssembly is instantiated the moment libpg-query is required (~130 MB reserved,
 * ~10 MB resident) and keeps what a parse touched for good. Loading every feature of the sidecar —
 * what the main thread and each query worker do at start — must not require it, and parsing from
 * the main thread happens on the parser thread, which ends when idle: the main thread never loads it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyzeIndexDef, analyzeStatement, parseOne } from '../../../src/sidecar/advisors/sql-analysis';
import { assemble } from '../../../src/sidecar/feature';
import { sidecarFeatures } from '../../../src/sidecar/features';
import { parserThreadStats, stopParserThread } from '../../../src/sidecar/parser-thread';
import { classifyStatement } from '../../../src/sidecar/plans/classify';
import { loadParser, parse, parseSync, parserLoaded } from '../../../src/sidecar/sql-parser';
import { classifyStatements } from '../../../src/sidecar/vector/classify';

const libpgQueryRequired = () => Object.keys(require.cache).some((file) => file.includes('/node_modules/libpg-query/'));

test('assembling every sidecar feature leaves libpg-query unloaded; parses run on the parser thread, never here', async () => {
  assemble(sidecarFeatures);
  assert.equal(libpgQueryRequired(), false, 'libpg-query was required while the features were assembled');
  assert.equal(parserLoaded(), false);
  assert.throws(() => parseSync('SELECT 1'), /await loadParser\(\)/);
  const started = parserThreadStats().started;

  const kind = await classifyStatement('SELECT relname FROM pg_catalog.pg_class WHERE oid = $1');
  assert.deepEqual(kind, { ok: true, params: 1, locking: false, functions: [] });
  const shape = await analyzeStatement('SELECT * FROM public.orders WHERE customer_id = $1');
  assert.deepEqual(shape.relations, [{ schema: 'public', name: 'orders', alias: undefined }]);
  assert.equal((await analyzeIndexDef('CREATE INDEX o_c ON public.orders USING btree (customer_id)'))?.method, 'btree');
  assert.equal(await parseOne('SELECT 1; SELECT 2'), null);
  assert.equal(Object.keys((await parse('SELECT 1; SELECT 2')).stmts).length, 2);
  const [vector, plain] = await classifyStatements([
    'SELECT id FROM public.items ORDER BY embedding <-> $1 LIMIT 5',
    'SELECT 1',
  ]);
  assert.equal(vector?.operator, '<->');
  assert.equal(plain, null);
  // a syntax error crosses the thread as the parser's own message
  await assert.rejects(parse('SELEC 1'), /syntax error at or near "SELEC"/);

  assert.equal(libpgQueryRequired(), false, 'libpg-query was required on this thread');
  assert.equal(parserLoaded(), false);
  assert.deepEqual(parserThreadStats(), { started: started + 1, running: true });
  await stopParserThread();
  assert.equal(parserThreadStats().running, false);
  // the next parse starts a fresh thread
  assert.equal((await classifyStatement('DELETE FROM public.t')).ok, false);
  assert.equal(parserThreadStats().started, started + 2);
  await stopParserThread();
});

test('the parser thread ends by itself once idle', async () => {
  await analyzeStatement('SELECT 1');
  assert.equal(parserThreadStats().running, true);
  // PARSER_IDLE_MS after the last answer; the wait is for the event, not a timed assertion
  while (parserThreadStats().running) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(parserLoaded(), false);
});

test('loaded on purpose (the parser thread itself does), the parser answers synchronously', async () => {
  await loadParser();
  assert.equal(libpgQueryRequired(), true);
  assert.equal(parserLoaded(), true);
  assert.equal(Object.keys(parseSync('SELECT 1; SELECT 2').stmts).length, 2);
});
