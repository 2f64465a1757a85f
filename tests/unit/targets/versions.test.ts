import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SUPPORTED_MAJORS, versionProblem } from '../../../src/sidecar/targets/versions';

const ROOT = join(__dirname, '..', '..', '..');

describe('supported PostgreSQL versions', () => {
  it('names an older and a newer major, and nothing for 14–18', () => {
    assert.match(versionProblem(130011) ?? '', /older than 14/);
    for (let m = 14; m <= 18; m++) {
      assert.equal(versionProblem(m * 10000 + 1), null, `PG${m}`);
    }
    assert.match(
      versionProblem(190000, '19beta1') ?? '',
      /PostgreSQL 19beta1 is newer than pgpulse is tested with \(14–18\)/
    );
  });

  it('every supported major has a matrix test file and a pinned server build', () => {
    const fetch = readFileSync(join(ROOT, 'scripts', 'fetch-postgres.sh'), 'utf8');
    for (let m = SUPPORTED_MAJORS.min; m <= SUPPORTED_MAJORS.max; m++) {
      assert.ok(
        existsSync(join(ROOT, 'tests', 'integration', 'matrix', `pg${m}.test.ts`)),
        `tests/integration/matrix/pg${m}.test.ts`
      );
      assert.match(
        fetch,
        new RegExp(`^\\s+${m}\\) echo "${m}\\.\\d+\\.\\d+-beta\\.\\d+ sha512-`, 'm'),
        `fetch-postgres.sh pins ${m}`
      );
    }
  });
});
