import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createHclogLogger, hclogLine, hclogPinoOptions, grpcLoggerFromPino } from '../../../src/sidecar/grafana/hclog';

test('hclog line: @level/@message/@module, no @timestamp, fields kept, secrets redacted', () => {
  const j = JSON.parse(
    hclogLine('warn', 'connect postgres://u:hunter2@db/x failed', {
      attempt: 2,
      ok: false,
      '@level': 'x',
      err: new Error('password=hunter2'),
    })
  );
  assert.equal(j['@level'], 'warn');
  assert.equal(j['@module'], 'pgpulse');
  assert.equal('@timestamp' in j, false);
  assert.equal(j.attempt, 2);
  assert.equal(j.ok, false);
  assert.doesNotMatch(JSON.stringify(j), /hunter2/);
});

test('level filter', () => {
  const lines: string[] = [];
  const log = createHclogLogger({ level: 'warn', write: (l) => lines.push(l) });
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.error('e');
  assert.deepEqual(
    lines.map((l) => JSON.parse(l)['@level']),
    ['warn', 'error']
  );
});

test('pino with hclogPinoOptions prints hclog-shaped lines through the adapter', async () => {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk, _e, cb) {
      out.push(String(chunk));
      cb();
    },
  });
  const log = grpcLoggerFromPino(pino(hclogPinoOptions('debug') as pino.LoggerOptions, sink));
  log.info('hello', { port: 7701, token: 'sekrit-token', target: { url: 'postgres://u:pw@h/db' } });
  await new Promise((r) => setImmediate(r));
  const j = JSON.parse(out[0]);
  assert.equal(j['@level'], 'info');
  assert.equal(j['@message'], 'hello');
  assert.equal(j['@module'], 'pgpulse');
  assert.equal(j.port, 7701);
  assert.equal('time' in j || '@timestamp' in j, false);
  assert.doesNotMatch(out[0], /sekrit-token|pw@/);
});
