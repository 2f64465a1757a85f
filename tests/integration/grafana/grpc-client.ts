/** A real @grpc/grpc-js client for the plugin protocol, used by the transport tests. */
import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS, loadProtocol } from '../../../src/sidecar/grafana/protocol';

export type AnyClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

export class PluginClient {
  readonly data: AnyClient;
  readonly diagnostics: AnyClient;
  readonly resource: AnyClient;
  readonly health: AnyClient;
  readonly controller: AnyClient;

  constructor(address: string) {
    const { clients } = loadProtocol();
    const creds = grpc.credentials.createInsecure();
    this.data = new clients.Data(address, creds, CHANNEL_OPTIONS) as unknown as AnyClient;
    this.diagnostics = new clients.Diagnostics(address, creds, CHANNEL_OPTIONS) as unknown as AnyClient;
    this.resource = new clients.Resource(address, creds, CHANNEL_OPTIONS) as unknown as AnyClient;
    this.health = new clients.Health(address, creds) as unknown as AnyClient;
    this.controller = new clients.GRPCController(address, creds) as unknown as AnyClient;
  }

  unary<T = any>(client: AnyClient, method: string, req: unknown): Promise<T> {
    return new Promise((resolve, reject) => {
      client[method](req, (err: Error | null, res: T) => (err ? reject(err) : resolve(res)));
    });
  }

  stream<T = any>(client: AnyClient, method: string, req: unknown): Promise<T[]> {
    return new Promise((resolve, reject) => {
      const out: T[] = [];
      const call = client[method](req) as grpc.ClientReadableStream<T>;
      call.on('data', (m: T) => out.push(m));
      call.on('error', reject);
      call.on('end', () => resolve(out));
    });
  }

  close(): void {
    for (const c of [this.data, this.diagnostics, this.resource, this.health, this.controller]) {
      c.close();
    }
  }
}

export function pluginContext(token: string | undefined, jsonData: Record<string, unknown> = {}) {
  return {
    orgId: '1',
    pluginId: 'pgpulse-postgres-datasource',
    dataSourceInstanceSettings: {
      id: '1',
      uid: 'pgpulse',
      name: 'pgpulse',
      jsonData: Buffer.from(JSON.stringify(jsonData)),
      decryptedSecureJsonData: token === undefined ? {} : { token },
    },
  };
}

export function dataQuery(
  refId: string,
  model: unknown,
  from: number,
  to: number,
  extra: Record<string, unknown> = {}
) {
  return {
    refId,
    maxDataPoints: '500',
    intervalMS: '15000',
    timeRange: { fromEpochMS: String(from), toEpochMS: String(to) },
    json: Buffer.from(typeof model === 'string' ? model : JSON.stringify(model)),
    ...extra,
  };
}
