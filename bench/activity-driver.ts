/**
 * Child process of bench/activity-sampler.ts: the real sidecar (store, main sampler, activity
 * sampler; no servers) sampling one target for BENCH_SECONDS, so its CPU time is measured alone.
 * Prints one JSON line: the process CPU time used, the main cycles' and the activity ticks' counts.
 * env: DATABASE_URL, BENCH_DATA_DIR, BENCH_SECONDS, BENCH_ACTIVITY (on|off), BENCH_INTERVAL_MS.
 */
import { startSidecar } from '../src/sidecar/app';
import type { SidecarConfig } from '../src/sidecar/config';
import { activitySamplers } from '../src/sidecar/activity';

async function main(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 60);
  const intervalMs = Number(process.env.BENCH_INTERVAL_MS ?? 15_000);
  const config: SidecarConfig = {
    token: 'bench',
    dataDir: process.env.BENCH_DATA_DIR as string,
    httpAddress: '127.0.0.1:0',
    grpcAddress: '127.0.0.1:0',
    intervalMs,
    retentionMs: 86_400_000,
    downsampleAfterMs: 86_400_000,
    downsampleStepMs: 300_000,
    logLevel: 'warn',
    targets: [
      {
        name: 'bench',
        url: process.env.DATABASE_URL as string,
        intervalMs,
        statementTimeoutMs: 5000,
        connectTimeoutMs: 5000,
        collectors: {},
        activity: { enabled: process.env.BENCH_ACTIVITY !== 'off', interval: '1s', vcpus: 2 },
      },
    ],
  };
  const sc = await startSidecar({ config, http: false, grpc: false, sampling: false });
  const sampler = sc.samplers.get('bench')!;
  // the first cycle (discovery, texts of 200+ statements) is setup, not steady state
  await sampler.runCycle(true);
  let cycles = 0;
  const run = sampler.runCycle.bind(sampler);
  sampler.runCycle = async (force?: boolean) => {
    cycles++;
    return run(force);
  };
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  sampler.start();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const act = activitySamplers.get(sc)!.get('bench')!;
  const stats = { ...act.stats };
  const cpu = process.cpuUsage(cpu0);
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  await sc.stop();
  process.stdout.write(
    `${JSON.stringify({ wallMs, cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000, cycles, activity: stats })}\n`
  );
}

main().catch((e: Error) => {
  process.stderr.write(`${e.stack ?? e.message}\n`);
  process.exit(1);
});
