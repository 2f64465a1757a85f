/**
 * `pgpulse serve`: the long-running sidecar. It refuses to start without a token — a sidecar that
 * answers every call 503 looks alive and serves nothing — unless `--insecure-no-auth` is given
 * and both listeners are on loopback.
 */
import { startSidecar } from '../app';
import { insecureMode } from '../auth';
import { loadConfig, splitAddress } from '../config';
import { parseFlags, UsageError } from './support';

const isLoopback = (addr: string) => {
  const { host } = splitAddress(addr);
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
};

export async function runServe(argv: string[]): Promise<number> {
  let insecure: boolean;
  try {
    insecure = parseFlags(argv, [], ['insecure-no-auth']).bool.has('insecure-no-auth');
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`pgpulse serve: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const config = loadConfig(process.env);
  if (!config.token && !insecure) {
    process.stderr.write(
      "pgpulse serve: no token. Every call into the sidecar must carry one (Grafana sends it from the datasource's secure settings):\n" +
        '  export PGPULSE_TOKEN=$(openssl rand -hex 16)      # or PGPULSE_TOKEN_FILE=/path/to/file, or token: in PGPULSE_CONFIG\n' +
        'For a local experiment only: pgpulse serve --insecure-no-auth (loopback addresses only).\n'
    );
    return 2;
  }
  if (insecure) {
    if (config.token) {
      process.stderr.write('pgpulse serve: --insecure-no-auth and a token exclude each other: drop one\n');
      return 2;
    }
    const exposed = [config.httpAddress, config.grpcAddress].filter((a) => a !== 'off' && !isLoopback(a));
    if (exposed.length > 0) {
      process.stderr.write(
        `pgpulse serve: --insecure-no-auth is for loopback addresses only, not ${exposed.join(', ')}: set a token instead\n`
      );
      return 2;
    }
    insecureMode.noAuth = true;
    process.stderr.write(
      'pgpulse serve: WARNING: --insecure-no-auth — every local process can read this sidecar without a token. Never use it on a shared host.\n'
    );
  }
  const sidecar = await startSidecar({ config });
  process.stderr.write(
    `pgpulse serving: HTTP ${splitAddress(config.httpAddress).host}:${sidecar.httpPort}, ${config.grpcAddress === 'off' ? 'gRPC off (PGPULSE_GRPC_ADDR=off): Grafana cannot reach this sidecar' : `gRPC ${splitAddress(config.grpcAddress).host}:${sidecar.grpcPort}`}\n`
  );
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = () => {
      if (stopping) {
        process.exit(130); // a second Ctrl-C: do not wait
      }
      stopping = true;
      void sidecar.stop().then(
        () => resolveExit(0),
        () => resolveExit(1)
      );
    };
    for (const s of ['SIGINT', 'SIGTERM'] as const) {
      process.on(s, stop);
    }
  });
}
