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
import { ADDRESS_FIELD, ROUTED_HEADER, SidecarRelay, presentedToken, routeOf } from './routing';

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

/** Answer to a call no sidecar here can serve: the plugin process runs none and the datasource names none. */
export const NO_LOCAL_SIDECAR =
  "pgpulse: this plugin process runs no sidecar of its own (no database_url or config in [plugin.pgpulse-postgres-datasource]); set this datasource's Sidecar address to the host:port of a pgpulse sidecar's gRPC listener and its token, or give the plugin process a database_url";

export interface GrpcServerHandle {
  port: number;
  stop(): Promise<void>;
}

/** a relayed query may take as long as the sidecar's own budget allows; Grafana cancels earlier when the panel goes */
const RELAY_DEADLINE_MS = 300_000;
/** Save & test must say quickly that an address is wrong */
const HEALTH_DEADLINE_MS = 10_000;

type Unary<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => void;

/**
 * `service` null: a relay only (local mode without a database of its own), which serves the
 * datasource instances that name their sidecar (routing.ts) and tells the others how to.
 */
export async function startGrpcServer(
  service: PgpulseService | null,
  opts: GrpcServerOptions
): Promise<GrpcServerHandle> {
  const proto = loadProtocol();
  const logger = opts.logger ?? silentLogger;
  const token = opts.token ?? '';
  const server = new grpc.Server(SERVER_OPTIONS);
  const relay = new SidecarRelay();

  /**
   * Where a call goes: undefined = served here. Only a plugin process Grafana started (local mode)
   * relays; a relayed call is always served where it arrives (no loops).
   */
  const routeFor = (
    ctx: WirePluginContext | null | undefined,
    metadata: grpc.Metadata
  ): { address: string } | { error: string } | undefined => {
    if (metadata.get(ROUTED_HEADER).length > 0) {
      return undefined;
    }
    const route = routeOf(ctx);
    if (route && 'address' in route && opts.mode !== 'local') {
      return {
        error: `pgpulse: this datasource names its own sidecar (${ADDRESS_FIELD} ${route.address}), which only a plugin process Grafana starts itself can follow (mode = local in [plugin.pgpulse-postgres-datasource]); in remote mode Grafana talks to the sidecar at sidecar_address. Clear the datasource's Sidecar address or switch to local mode`,
      };
    }
    return route ?? (service ? undefined : { error: NO_LOCAL_SIDECAR });
  };
  const dataErrors = (
    req: WireQueryDataRequest,
    error: string,
    status: number,
    errorSource: 'plugin' | 'downstream'
  ) => ({
    responses: Object.fromEntries(
      (req.queries ?? []).map((q, i) => [
        typeof q.refId === 'string' && q.refId ? q.refId : `Q${i}`,
        { frames: [], error, status, errorSource, format: req.format === 'JSON' ? 'JSON' : 'ARROW' },
      ])
    ),
  });

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
    const route = routeFor(call.request.pluginContext, call.metadata);
    if (route && 'error' in route) {
      cb(null, dataErrors(call.request, route.error, 400, 'plugin'));
      return;
    }
    if (route) {
      const presented = presentedToken(call.request.pluginContext);
      relay
        .unary(route.address, 'data', 'QueryData', call.request, { deadlineMs: RELAY_DEADLINE_MS, signal: gone.signal })
        .then(
          (res) => cb(null, res),
          (e) => {
            const msg = relay.describe(route.address, e, presented);
            logger.warn('QueryData relay failed', { error: msg });
            cb(null, dataErrors(call.request, msg, 502, 'downstream'));
          }
        );
      return;
    }
    handleQueryData(service!, call.request, token, logger, gone.signal).then(
      (res) => cb(null, res),
      (e) => fail('QueryData', cb, e)
    );
  };

  const queryChunkedData = (call: grpc.ServerWritableStream<unknown, unknown>) => {
    // Grafana falls back to QueryData when a plugin answers 501 here.
    call.write({
      status: 501,
      error: 'pgpulse: QueryChunkedData is not implemented; use QueryData',
      errorSource: 'plugin',
    });
    call.end();
  };

  const checkHealth: Unary<{ pluginContext?: WirePluginContext }, unknown> = (call, cb) => {
    const route = routeFor(call.request.pluginContext, call.metadata);
    if (route && 'error' in route) {
      cb(null, { status: 'ERROR', message: route.error, jsonDetails: Buffer.from('{}') });
      return;
    }
    if (route) {
      const presented = presentedToken(call.request.pluginContext);
      relay
        .unary<{
          status?: string;
          message?: string;
          jsonDetails?: Buffer;
        }>(route.address, 'diagnostics', 'CheckHealth', call.request, { deadlineMs: HEALTH_DEADLINE_MS })
        .then(
          (res) => cb(null, { ...res, message: scrubToken(res.message ?? '', presented) }),
          (e) => {
            const msg = relay.describe(route.address, e, presented);
            logger.warn('CheckHealth relay failed', { error: msg });
            cb(null, { status: 'ERROR', message: msg, jsonDetails: Buffer.from('{}') });
          }
        );
      return;
    }
    const auth = checkToken(token, call.request.pluginContext);
    if (!auth.ok) {
      logger.warn('CheckHealth refused: bad or missing sidecar token');
      cb(null, { status: 'ERROR', message: auth.reason, jsonDetails: Buffer.from('{}') });
      return;
    }
    service!.health(defaultTarget(call.request.pluginContext)).then(
      (h) =>
        cb(null, {
          status: h.status === 'ok' ? 'OK' : 'ERROR',
          message: scrubToken(redact(h.message), token),
          jsonDetails: Buffer.from(scrubToken(JSON.stringify(h.details ?? {}), token)),
        }),
      (e) => {
        const msg = scrubToken(redact((e as Error)?.message ?? String(e)), token);
        logger.error('CheckHealth failed', { error: msg });
        cb(null, {
          status: 'ERROR',
          message: `pgpulse sidecar could not check health: ${msg}`,
          jsonDetails: Buffer.from('{}'),
        });
      }
    );
  };

  const collectMetrics: Unary<{ pluginContext?: WirePluginContext }, unknown> = (call, cb) => {
    const auth = checkToken(token, call.request.pluginContext);
    if (!auth.ok) {
      cb({ code: grpc.status.UNAUTHENTICATED, details: auth.reason });
      return;
    }
    if (!service) {
      // a relay has no sampler of its own; Grafana's plugin-metrics scrape gets an empty exposition
      cb(null, { metrics: { prometheus: Buffer.from('') } });
      return;
    }
    service.metricsText().then(
      (text) => cb(null, { metrics: { prometheus: Buffer.from(text) } }),
      (e) => fail('CollectMetrics', cb, e)
    );
  };

  const callResource = (call: grpc.ServerWritableStream<WireCallResourceRequest, unknown>) => {
    const route = routeFor(call.request.pluginContext, call.metadata);
    const jsonError = (code: number, error: string) => ({
      code,
      headers: { 'Content-Type': { values: ['application/json'] } },
      body: Buffer.from(JSON.stringify({ error })),
    });
    if (route && 'error' in route) {
      call.write(jsonError(400, route.error));
      call.end();
      return;
    }
    if (route) {
      const presented = presentedToken(call.request.pluginContext);
      relay
        .stream(route.address, call.request, { deadlineMs: RELAY_DEADLINE_MS })
        .then(
          (msgs) => msgs.forEach((m) => call.write(m)),
          (e) => {
            const msg = relay.describe(route.address, e, presented);
            logger.warn('CallResource relay failed', { error: msg });
            call.write(jsonError(502, msg));
          }
        )
        .finally(() => call.end());
      return;
    }
    handleCallResource(service!, call.request, token, logger)
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
        }
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
          logger.warn('Shutdown refused: it did not come from the process that started the plugin', {
            peer: call.getPeer(),
          });
          cb({
            code: grpc.status.PERMISSION_DENIED,
            details: `pgpulse: Shutdown is accepted only from the process that started the plugin (pid ${from})`,
          });
          return;
        }
        cb(null, {});
        accept();
      },
      (e) => cb({ code: grpc.status.INTERNAL, details: `pgpulse: Shutdown check failed: ${(e as Error).message}` })
    );
  };
  const accept = () => {
    if (!shuttingDown) {
      shuttingDown = true;
      logger.info('Shutdown requested by Grafana');
      setImmediate(() => opts.onShutdown?.());
    }
  };

  server.addService(proto.Data, {
    QueryData: queryData,
    QueryChunkedData: queryChunkedData,
  } as grpc.UntypedServiceImplementation);
  server.addService(proto.Diagnostics, {
    CheckHealth: checkHealth,
    CollectMetrics: collectMetrics,
  } as grpc.UntypedServiceImplementation);
  server.addService(proto.Resource, { CallResource: callResource } as grpc.UntypedServiceImplementation);
  server.addService(proto.Health, {
    Check: ((_call, cb) => cb(null, { status: 'SERVING' })) as Unary<unknown, unknown>,
  } as grpc.UntypedServiceImplementation);
  server.addService(proto.GRPCController, { Shutdown: shutdown } as grpc.UntypedServiceImplementation);

  const port = await new Promise<number>((resolvePort, reject) => {
    server.bindAsync(opts.address, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(new Error(`pgpulse: cannot listen for gRPC on ${opts.address}: ${err.message}`)) : resolvePort(p)
    );
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
        relay.close();
        server.tryShutdown(() => {
          clearTimeout(force);
          done();
        });
      });
      return stopped;
    },
  };
}
