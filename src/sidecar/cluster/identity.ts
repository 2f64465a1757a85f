/**
 * Which server a target's connection reaches (see ServerIdentity), from the target's capabilities
 * probe (targets/capabilities), which reads it again after a restart.
 */
import type { TargetCapabilities } from '../targets/capabilities';
import type { ServerIdentity } from './shared-reads';

export interface TargetServer {
  identity: ServerIdentity;
  database: string;
}

/** undefined when the server does not say (a managed service that hides pg_control_system): the target reads alone */
export function serverOf(caps: TargetCapabilities): TargetServer | undefined {
  if (!caps.server.systemIdentifier) {
    return undefined;
  }
  return {
    identity: {
      systemIdentifier: caps.server.systemIdentifier,
      port: caps.server.port,
      postmasterStart: String(caps.postmasterStartMs),
      role: caps.role.name,
    },
    database: caps.database,
  };
}
