/**
 * A sidecar configuration for tests and benches: HTTP and gRPC on loopback at free ports, retention
 * and downsampling as a config file without them gets, no targets unless given. Written once so a
 * field added to SidecarConfig is added here, not in every test and bench that starts a sidecar.
 */
import type { SidecarConfig } from '../../src/sidecar/config';

export function sidecarConfig(dataDir: string, token: string, more: Partial<SidecarConfig> = {}): SidecarConfig {
  return {
    token,
    dataDir,
    httpAddress: '127.0.0.1:0',
    grpcAddress: '127.0.0.1:0',
    intervalMs: 15_000,
    retentionMs: 14 * 86_400_000,
    downsampleAfterMs: 2 * 86_400_000,
    downsampleStepMs: 300_000,
    logLevel: 'warn',
    targets: [],
    ...more,
  };
}
