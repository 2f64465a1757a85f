import { guardStdout, runPluginEntry } from '../../../src/sidecar/grafana/plugin-entry';
import { FakeService } from './fake-service';

const io = guardStdout();
// a stray write before the handshake must not reach stdout
console.log('noise that must go to stderr');
void runPluginEntry(async ({ logger }) => {
  logger.info('fake sidecar started');
  return { service: new FakeService(), stop: async () => undefined };
}, io);
