/** targets[].actions validation: off by default, a separate credential, errors naming the field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseActionsConfig } from '../../../src/sidecar/actions/config';
import type { TargetConfig } from '../../../src/sidecar/config';

const target = (actions?: Record<string, unknown>): TargetConfig => ({
  name: 'db',
  url: 'postgres://pgpulse:pw@127.0.0.1:5432/app',
  intervalMs: 15_000,
  statementTimeoutMs: 5000,
  connectTimeoutMs: 5000,
  collectors: {},
  actions,
});

describe('parseActionsConfig', () => {
  it('is disabled when absent, with dry-run policies by default', () => {
    const c = parseActionsConfig(target());
    assert.equal(c.enabled, false);
    const p = parseActionsConfig(target({ policies: [{ name: 'p', action: 'cancel', match: 'SELECT', after: '5m' }] }));
    assert.equal(p.policies[0].dryRun, true);
    assert.equal(p.policies[0].after, 300_000);
  });

  it('needs a separate credential to enable', () => {
    assert.throws(
      () => parseActionsConfig(target({ enabled: true })),
      /enabled needs a separate credential: set targets\[db\]\.actions\.url/
    );
    assert.throws(
      () => parseActionsConfig(target({ enabled: true, url: 'postgres://pgpulse:other@127.0.0.1:5432/app' })),
      /uses the same role \(pgpulse\) as monitoring/
    );
    const ok = parseActionsConfig(target({ enabled: true, urlEnv: 'ACT_URL' }), {
      ACT_URL: 'postgres://actions:pw@127.0.0.1:5432/app',
    });
    assert.equal(ok.enabled, true);
    assert.equal(ok.url, 'postgres://actions:pw@127.0.0.1:5432/app');
    assert.deepEqual(ok.allow, ['cancel', 'terminate', 'analyze', 'vacuum', 'reindex', 'create_index']);
  });

  it('names the field and never echoes the URL', () => {
    assert.throws(
      () => parseActionsConfig(target({ enabled: 'yes' })),
      /targets\[db\]\.actions\.enabled: Expected boolean/
    );
    assert.throws(() => parseActionsConfig(target({ allow: ['drop_table'] })), /targets\[db\]\.actions\.allow\.0/);
    assert.throws(
      () => parseActionsConfig(target({ policies: [{ name: 'p', action: 'cancel', match: '(', after: '1m' }] })),
      /policies\.0\.match: is not a valid regular expression/
    );
    assert.throws(
      () => parseActionsConfig(target({ minQueryDuration: 'soon' })),
      /minQueryDuration: "soon" is not a duration/
    );
    assert.throws(() => parseActionsConfig(target({ enable: true })), /unknown key\(s\) enable/);
    try {
      parseActionsConfig(target({ enabled: true, url: 'mysql://actions:s3cret@h/db' }));
      assert.fail('should throw');
    } catch (e) {
      assert.match((e as Error).message, /must be a postgres:\/\//);
      assert.ok(!(e as Error).message.includes('s3cret'));
    }
  });
});
