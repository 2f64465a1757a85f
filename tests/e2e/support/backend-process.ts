/**
 * Runs the e2e backend (PostgreSQL + sidecar) in its own Node process under tsx, so the sidecar
 * runs exactly as its own code is compiled and loaded, not through Playwright's test transpiler.
 * Prints one line `PGPULSE_E2E_READY {json}` when ready; stops cleanly on SIGTERM or when stdin
 * closes (the test runner went away).
 */
import { startE2EBackend } from './backend';

async function main() {
  const backend = await startE2EBackend();
  let stopping = false;
  const stop = async () => {
    if (stopping) {
      return;
    }
    stopping = true;
    await backend.stop().catch((e) => console.error('stop failed:', (e as Error).message));
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
  process.stdout.write(
    `PGPULSE_E2E_READY ${JSON.stringify({ grpcAddress: backend.grpcAddress, token: backend.token, pgUrl: backend.pg.urlFor('shop'), adminUrl: backend.pg.url })}\n`
  );
}

main().catch((e) => {
  console.error(`e2e backend failed to start: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
