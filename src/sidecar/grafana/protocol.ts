/**
 * Loads pgpulse's own .proto files for Grafana's plugin protocol with @grpc/proto-loader.
 * keepCase keeps the wire names Grafana uses (fromEpochMS, decryptedSecureJsonData …); longs as
 * strings so int64 never loses precision; enums as their names.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const PROTO_FILES = ['backend.proto', 'health.proto', 'grpc_controller.proto'];

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** The .proto files live in src/; the compiled build/ code finds them there too. */
export function protoDir(): string {
  const candidates = [join(__dirname, 'proto'), resolve(__dirname, '../../../src/sidecar/grafana/proto')];
  for (const dir of candidates) {
    if (existsSync(join(dir, 'backend.proto'))) {
      return dir;
    }
  }
  throw new Error(`pgpulse: Grafana protocol .proto files not found (looked in ${candidates.join(', ')})`);
}

export interface ProtocolServices {
  Data: grpc.ServiceDefinition;
  Diagnostics: grpc.ServiceDefinition;
  Resource: grpc.ServiceDefinition;
  Health: grpc.ServiceDefinition;
  GRPCController: grpc.ServiceDefinition;
  /** client constructors, used by tests */
  clients: {
    Data: grpc.ServiceClientConstructor;
    Diagnostics: grpc.ServiceClientConstructor;
    Resource: grpc.ServiceClientConstructor;
    Health: grpc.ServiceClientConstructor;
    GRPCController: grpc.ServiceClientConstructor;
  };
}

let cached: ProtocolServices | undefined;

export function loadProtocol(): ProtocolServices {
  if (cached) {
    return cached;
  }
  const dir = protoDir();
  const def = protoLoader.loadSync(
    PROTO_FILES.map((f) => join(dir, f)),
    { ...LOADER_OPTIONS, includeDirs: [dir] }
  );
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    pluginv2: Record<string, grpc.ServiceClientConstructor>;
    grpc: { health: { v1: Record<string, grpc.ServiceClientConstructor> } };
    plugin: Record<string, grpc.ServiceClientConstructor>;
  };
  const clients = {
    Data: pkg.pluginv2.Data,
    Diagnostics: pkg.pluginv2.Diagnostics,
    Resource: pkg.pluginv2.Resource,
    Health: pkg.grpc.health.v1.Health,
    GRPCController: pkg.plugin.GRPCController,
  };
  cached = {
    Data: clients.Data.service,
    Diagnostics: clients.Diagnostics.service,
    Resource: clients.Resource.service,
    Health: clients.Health.service,
    GRPCController: clients.GRPCController.service,
    clients,
  };
  return cached;
}

/** Message limits: Grafana's default 4 MiB receive limit is too small for big tables. */
export const MESSAGE_LIMIT_BYTES = 64 * 1024 * 1024;
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': MESSAGE_LIMIT_BYTES,
  'grpc.max_send_message_length': MESSAGE_LIMIT_BYTES,
};

/**
 * What the sidecar accepts: requests are small (at most 100 queries of a few hundred bytes, action
 * bodies like the HTTP API's 1 MiB), answers may be large. grpc-js refuses a message whose
 * length prefix is over the limit (RESOURCE_EXHAUSTED) before it buffers it, so nobody — with or
 * without the token, which is only read from a decoded message — can make the sidecar hold 64 MiB.
 */
export const REQUEST_LIMIT_BYTES = 4 * 1024 * 1024;
export const SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_receive_message_length': REQUEST_LIMIT_BYTES,
  'grpc.max_send_message_length': MESSAGE_LIMIT_BYTES,
};
