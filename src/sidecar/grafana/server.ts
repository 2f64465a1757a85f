/**
 * The sidecar's gRPC server for Grafana's backend plugin protocol (pluginv2 Data, Diagnostics,
 * Resource; grpc.health.v1; go-plugin's GRPCController). It authenticates, translates and
 * serialises; all answers come from PgpulseService.
 *
 * Plaintext gRPC by design (Grafana's go-plugin client speaks no TLS to plugins): run it on a
 * private network or loopback. Every Data/Diagnostics/Resource call is token-checked.
 */
import * as grpc from '@grpc/grpc-js';
import { redact } from '../auth';
import type { PgpulseService } from '../service';
import { silentLogger, type GrpcLogger } from './hclog';
import { checkToken, defaultTarget, scrubToken, type WirePluginContext } from './plugin-context';
import { SERVER_OPTIONS, loadProtocol } from './protocol';
import { peerIsProcess } from './peer-process';
import { handleQueryData, type WireQueryDataRequest } from './query-data';
import { handleCallResource, type WireCallResourceRequest } from './resource-call';

export interface GrpcServerOptions {
  /** host:port; port 0 picks a free one (local mode) */
  address: string;
  /** the sidecar token every call must carry in decryptedSecureJsonData.token */
  token: string;
  /** remote: Grafana is not our parent, Shutdown is a no-op; local: Shutdown ends the process */
  mode: 'remote' | 'local';
  /** called (once) after a Shutdown in local mode */
  onShutdown?: () => void;
  /**
   * local mode: the process whose Shutdown is obeyed (default: the parent, i.e. Grafana, which
   * started this plugin process); a Shutdown from any other process is refused
   */
  shutdownFromPid?: number;
  logger?: GrpcLogger;
}

export interface GrpcServerHandle {
  port: number;
  stop(): Promise<void>;
}

type Unary<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => void;

export async function startGrpcServer(service: PgpulseService, opts: GrpcServerOptions): Promise<GrpcServerHandle> {
  const proto = loadProtocol();
  const logger = opts.logger ?? silentLogger;
  const token = opts.token ?? '';
  const server = new grpc.Server(SERVER_OPTIONS);

  /** Never let a handler bug escape as an unhandled rejection or reach the client with secrets. */
  const fail = (method: string, cb: grpc.sendUnaryData<unknown>, e: unknown) => {
    const msg = scrubToken(redact((e as Error)?.message ?? String(e)), token);
    logger.error(`${method} failed`, { error: msg });
    cb({ code: grpc.status.INTERNAL, details: `pgpulse sidecar: ${method} failed: ${msg}` });
  };

  const queryData: Unary<WireQueryDataRequest, unknown> = (call, cb) => {
    // Grafana cancels the call when the dashboard goes away: stop computing for nobody
    const gone = new AbortController();
    call.once('cancelled', () => gone.abort());
    handleQueryData(service, call.request, token, logger, gone.signal).then(
      (res) => cb(null, res),
      (e) => fail('QueryData', cb, e),
    );
  };

  const queryChunkedData = (call: grpc.ServerWritableStream<unknown, unknown>) => {
    // Grafana falls back to QueryData when a plugin answers 501 here.
    call.write({ status: 501, error: 'pgpulse: QueryChunkedData is not implemented; use QueryData', errorSource: 'plugin' });
    call.end();
  };

  const checkHealth: Unary<{ pluginContext?: WirePluginContext }, unknown> = (call, cb) => {
    const auth = checkToken(token, call.request.pluginContext);
    if (!auth.ok) {
      logger.warn('CheckHealth refused: bad or missing sidecar token');
      cb(null, { status: 'ERROR', message: auth.reason, jsonDetails: Buffer.from('{}') });
      return;
    }
    service.health(defaultTarget(call.request.pluginContext)).then(
      (h) =>
        cb(null, {
          status: h.status === 'ok' ? 'OK' : 'ERROR',
          message: scrubToken(redact(h.message), token),
          jsonDetails: Buffer.from(scrubToken(JSON.stringify(h.details ?? {}), token)),
        }),
      (e) => {
        const msg = scrubToken(redact((e as Error)?.message ?? String(e)), token);
        logger.error('CheckHealth failed', { error: msg });
        cb(null, { status: 'ERROR', message: `pgpulse sidecar could not check health: ${msg}`, jsonDetails: Buffer.from('{}') });
      },
    );
  };

  const collectMetrics: Unary<{ pluginContext?: WirePluginContext }, unknown> = (call, cb) => {
    const auth = checkToken(token, call.request.pluginContext);
    if (!auth.ok) {
      cb({ code: grpc.status.UNAUTHENTICATED, details: auth.reason });
      return;
    }
    service.metricsText().then(
      (text) => cb(null, { metrics: { prometheus: Buffer.from(text) } }),
      (e) => fail('CollectMetrics', cb, e),
    );
  };

  const callResource = (call: grpc.ServerWritableStream<WireCallResourceRequest, unknown>) => {
    handleCallResource(service, call.request, token, logger)
      .then(
        (res) => call.write(res),
        (e) => {
          const msg = scrubToken(redact((e as Error)?.message ?? String(e)), token);
          logger.error('CallResource failed', { error: msg });
          call.write({
            code: 500,
            headers: { 'Content-Type': { values: ['application/json'] } },
            body: Buffer.from(JSON.stringify({ error: `pgpulse sidecar: ${msg}` })),
          });
        },
      )
      .finally(() => call.end());
  };

  let shuttingDown = false;
  const shutdown: Unary<unknown, unknown> = (call, cb) => {
    if (opts.mode !== 'local') {
      cb(null, {});
      // A remote sidecar is not Grafana's child: a Grafana restart must not stop it.
      logger.debug('Shutdown ignored (remote mode)');
      return;
    }
    // Shutdown carries no token: only the process that started the plugin may stop it
    const from = opts.shutdownFromPid ?? process.ppid;
    void peerIsProcess(call.getPeer(), port, from).then(
      (ok) => {
        if (!ok) {
          logger.warn('Shutdown refused: it did not come from the process that started the plugin', { peer: call.getPeer() });
          cb({ code: grpc.status.PERMISSION_DENIED, details: `pgpulse: Shutdown is accepted only from the process that started the plugin (pid ${from})` });
          return;
        }
        cb(null, {});
        accept();
      },
      (e) => cb({ code: grpc.status.INTERNAL, details: `pgpulse: Shutdown check failed: ${(e as Error).message}` }),
    );
  };
  const accept = () => {
    if (!shuttingDown) {
      shuttingDown = true;
      logger.info('Shutdown requested by Grafana');
      setImmediate(() => opts.onShutdown?.());
    }
  };

  server.addService(proto.Data, { QueryData: queryData, QueryChunkedData: queryChunkedData } as grpc.UntypedServiceImplementation);
  server.addService(proto.Diagnostics, { CheckHealth: checkHealth, CollectMetrics: collectMetrics } as grpc.UntypedServiceImplementation);
  server.addService(proto.Resource, { CallResource: callResource } as grpc.UntypedServiceImplementation);
  server.addService(proto.Health, {
    Check: ((_call, cb) => cb(null, { status: 'SERVING' })) as Unary<unknown, unknown>,
  } as grpc.UntypedServiceImplementation);
  server.addService(proto.GRPCController, { Shutdown: shutdown } as grpc.UntypedServiceImplementation);

  const port = await new Promise<number>((resolvePort, reject) => {
    server.bindAsync(opts.address, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(new Error(`pgpulse: cannot listen for gRPC on ${opts.address}: ${err.message}`)) : resolvePort(p)));
  });
  logger.info('gRPC plugin server listening', { address: opts.address, port, mode: opts.mode });

  let stopped: Promise<void> | undefined;
  return {
    port,
    stop() {
      stopped ??= new Promise<void>((done) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          done();
        }, 2000);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          done();
        });
      });
      return stopped;
    },
  };
}
