/**
 * A bad target.vector stops the sidecar at startup with the field named, before any sampling.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../../src/sidecar/config';
import { startTestSidecar } from '../../support/sidecar';

test('startup rejects targets[1].vector.probes.sampleSize = 0 with the field named', async () => {
  await assert.rejects(
    startTestSidecar({
      targets: [
        { name: 'a', url: 'postgres://u@127.0.0.1:1/db' },
        { name: 'b', url: 'postgres://u@127.0.0.1:1/db', vector: { probes: { enabled: true, sampleSize: 0 } } },
      ],
      grpc: false,
    }),
    (e: Error) =>
      e instanceof ConfigError && /targets\[1\]\.vector\.probes\.sampleSize: must be at least 1/.test(e.message)
  );
});

test('enabled probes get their own interval through the sampler', async () => {
  const sc = await startTestSidecar({
    targets: [
      { name: 'a', url: 'postgres://u@127.0.0.1:1/db', vector: { probes: { enabled: true, interval: '10m' } } },
    ],
    grpc: false,
  });
  try {
    assert.equal(sc.sidecar.config.targets[0].collectors.vector_probe?.interval, 600_000);
  } finally {
    await sc.destroy();
  }
});
