/**
 * Which Neon endpoint a URL names, pooler detection, and the direct host actions use behind the
 * pooler (statements that cannot run in a transaction never go through PgBouncer).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gucEndpointMismatch, identityFromUrl, urlEndpointMismatch } from '../../../src/sidecar/neon/identity';
import { actionsUrl } from '../../../src/sidecar/actions/runner';

test('endpoint id and pooler from the host, or from options=endpoint=…', () => {
  assert.deepEqual(identityFromUrl('postgres://u:p@ep-cool-darkness-123456.us-east-2.aws.neon.tech/db'), {
    endpointId: 'ep-cool-darkness-123456',
    pooled: false,
  });
  assert.deepEqual(identityFromUrl('postgres://u:p@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/db'), {
    endpointId: 'ep-cool-darkness-123456',
    pooled: true,
  });
  assert.deepEqual(identityFromUrl('postgres://u:p@proxy.example.com/db?options=endpoint%3Dep-cool-darkness-123456'), {
    endpointId: 'ep-cool-darkness-123456',
    pooled: false,
  });
  assert.deepEqual(identityFromUrl('postgres://u@127.0.0.1:5432/db'), { endpointId: undefined, pooled: false });
});

test('mismatches name both ids and the fix; matching or unknown is fine', () => {
  assert.match(
    urlEndpointMismatch('postgres://u@ep-a-1.x.neon.tech/db', 'ep-b-2') ?? '',
    /points at Neon endpoint ep-a-1 but neon.endpointId is ep-b-2: .*set neon.endpointId to ep-a-1/
  );
  assert.equal(urlEndpointMismatch('postgres://u@ep-a-1-pooler.x.neon.tech/db', 'ep-a-1'), null);
  assert.equal(urlEndpointMismatch('postgres://u@127.0.0.1/db', 'ep-a-1'), null);
  assert.match(
    gucEndpointMismatch('ep-z-9', 'ep-a-1') ?? '',
    /neon.endpoint_id = ep-z-9 but neon.endpointId is ep-a-1/
  );
  assert.equal(gucEndpointMismatch(null, 'ep-a-1'), null, 'no GUC (not Neon, or older compute): no verdict');
});

test('actions behind the pooler go to the direct host; otherwise the URL is unchanged', () => {
  assert.equal(
    actionsUrl('postgres://act:s3cret@ep-a-1-pooler.us-east-2.aws.neon.tech/db?sslmode=require', true),
    'postgres://act:s3cret@ep-a-1.us-east-2.aws.neon.tech/db?sslmode=require'
  );
  assert.equal(
    actionsUrl('postgres://act@ep-a-1.us-east-2.aws.neon.tech/db', false),
    'postgres://act@ep-a-1.us-east-2.aws.neon.tech/db'
  );
});
