/**
 * The parser's WebAssembly is instantiated the moment libpg-query is required (~130 MB reserved,
 * ~10 MB resident). Loading every feature of the sidecar — what the main thread and each query
 * worker do at start — must not require it; the first parse does.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assemble } from '../../../src/sidecar/feature';
import { sidecarFeatures } from '../../../src/sidecar/features';
import { classifyStatement } from '../../../src/sidecar/plans/classify';
import { parseSync, parserLoaded } from '../../../src/sidecar/sql-parser';

const libpgQueryRequired = () => Object.keys(require.cache).some((file) => file.includes('/node_modules/libpg-query/'));

test('assembling every sidecar feature leaves libpg-query unloaded; the first parse loads it', async () => {
  assemble(sidecarFeatures);
  assert.equal(libpgQueryRequired(), false, 'libpg-query was required while the features were assembled');
  assert.equal(parserLoaded(), false);
  assert.throws(() => parseSync('SELECT 1'), /await loadParser\(\)/);

  const kind = await classifyStatement('SELECT relname FROM pg_catalog.pg_class WHERE oid = $1');
  assert.equal(kind.ok, true);
  assert.equal(libpgQueryRequired(), true);
  assert.equal(parserLoaded(), true);
  assert.equal(Object.keys(parseSync('SELECT 1; SELECT 2').stmts).length, 2);
});
