/**
 * One plugin process, several sidecars. In local mode (Grafana starts the plugin process), a
 * datasource instance may name its own sidecar in jsonData.sidecarAddress (the host:port of that
 * sidecar's gRPC listener) with that sidecar's token in secureJsonData.token; its QueryData,
 * CheckHealth and CallResource calls are then relayed there unchanged, and that sidecar checks the
 * token. Instances that name none are answered by the sidecar this process runs, as before.
 *
 * A relayed call carries the ROUTED_HEADER: a sidecar never relays a relayed call again, so an
 * address that points back at a relay cannot loop.
 */
import * as grpc from '@grpc/grpc-js';
import { redact } from '../auth';
import { datasourceJsonData, scrubToken, type WirePluginContext } from './plugin-context';
import { CHANNEL_OPTIONS, loadProtocol } from './protocol';

export const ROUTED_HEADER = 'x-pgpulse-relayed';
export const ADDRESS_FIELD = 'sidecarAddress';

const ADDRESS_RE = /^[A-Za-z0-9.-]{1,253}:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/;

export type Route = { address: string } | { error: string } | undefined;

/** The sidecar a datasource instance names, undefined when it names none (served here). */
export function routeOf(ctx: WirePluginContext | null | undefined): Route {
  const raw = datasourceJsonData(ctx)[ADDRESS_FIELD];
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) {
    return undefined;
  }
  const address = typeof raw === 'string' ? raw.trim().replace(/^(tcp|grpc):\/\//, '') : '';
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  if (!ADDRESS_RE.test(address) || port < 1 || port > 65535) {
    return {
      error: `pgpulse: this datasource's sidecar address ${JSON.stringify(typeof raw === 'string' ? raw.slice(0, 100) : raw)} is not host:port; set it to the sidecar's gRPC listener (PGPULSE_GRPC_ADDR), e.g. pgpulse-eu.internal:7701, or clear it to use the sidecar of this Grafana`,
    };
  }
  return { address };
}

/** What the datasource's token is, to scrub it from anything relayed back. */
export function presentedToken(ctx: WirePluginContext | null | undefined): string {
  return ctx?.dataSourceInstanceSettings?.decryptedSecureJsonData?.token ?? '';
}

type Client = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

export class SidecarRelay {
  private readonly clients = new Map<string, { data: Client; diagnostics: Client; resource: Client }>();

  private clientsFor(address: string) {
    let c = this.clients.get(address);
    if (!c) {
      const { clients } = loadProtocol();
      const creds = grpc.credentials.createInsecure();
      c = {
        data: new clients.Data(address, creds, CHANNEL_OPTIONS) as unknown as Client,
        diagnostics: new clients.Diagnostics(address, creds, CHANNEL_OPTIONS) as unknown as Client,
        resource: new clients.Resource(address, creds, CHANNEL_OPTIONS) as unknown as Client,
      };
      this.clients.set(address, c);
    }
    return c;
  }

  private metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    md.set(ROUTED_HEADER, '1');
    return md;
  }

  /** Why a relayed call failed, naming the address and the fix; never the token. */
  describe(address: string, e: unknown, token: string): string {
    const err = e as Partial<grpc.ServiceError>;
    const code = typeof err.code === 'number' ? grpc.status[err.code] : undefined;
    const detail = scrubToken(redact(String(err.details || err.message || e)), token);
    const unreachable = err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED;
    return unreachable
      ? `pgpulse: cannot reach the sidecar at ${address} that this datasource names as its sidecar address (${code}: ${detail}); check that the sidecar runs and that ${address} is its gRPC listener (PGPULSE_GRPC_ADDR), reachable from the Grafana server`
      : `pgpulse: the sidecar at ${address} (this datasource's sidecar address) failed the call: ${code ?? 'error'}: ${detail}`;
  }

  unary<Res>(
    address: string,
    service: 'data' | 'diagnostics',
    method: string,
    request: unknown,
    opts: { deadlineMs: number; signal?: AbortSignal }
  ): Promise<Res> {
    const client = this.clientsFor(address)[service];
    return new Promise<Res>((resolve, reject) => {
      const call = client[method](
        request,
        this.metadata(),
        { deadline: Date.now() + opts.deadlineMs },
        (err: grpc.ServiceError | null, res: Res) => (err ? reject(err) : resolve(res))
      ) as grpc.ClientUnaryCall;
      opts.signal?.addEventListener('abort', () => call.cancel(), { once: true });
    });
  }

  /** CallResource: every message the sidecar streams back, in order. */
  stream<Msg>(address: string, request: unknown, opts: { deadlineMs: number }): Promise<Msg[]> {
    const client = this.clientsFor(address).resource;
    return new Promise<Msg[]>((resolve, reject) => {
      const out: Msg[] = [];
      const call = client.CallResource(request, this.metadata(), {
        deadline: Date.now() + opts.deadlineMs,
      }) as grpc.ClientReadableStream<Msg>;
      call.on('data', (m: Msg) => out.push(m));
      call.on('error', reject);
      call.on('end', () => resolve(out));
    });
  }

  close(): void {
    for (const c of this.clients.values()) {
      c.data.close();
      c.diagnostics.close();
      c.resource.close();
    }
    this.clients.clear();
  }
}
