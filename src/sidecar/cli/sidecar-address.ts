/**
 * How the one-shot commands (advise, report, top) find a running sidecar from its address and
 * token alone — no DATABASE_URL needed:
 *   address: --sidecar URL, else PGPULSE_HTTP_ADDR, else 127.0.0.1:7700
 *   token:   PGPULSE_TOKEN, else the file PGPULSE_TOKEN_FILE, else <PGPULSE_DATA_DIR or .pgpulse>/token
 *            (the demo writes that file, mode 0600)
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitAddress } from '../config';

export const TOKEN_FILE = 'token';

export interface SidecarEndpoint {
  /** http://host:port, no trailing slash */
  base: string;
  token: string | undefined;
  /** where the token came from, for messages (never the token itself) */
  tokenFrom: string;
}

export class EndpointError extends Error {}

export function readTokenFile(file: string): string {
  let t: string;
  try {
    t = readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new EndpointError(
      `cannot read the token file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`
    );
  }
  if (!t) {
    throw new EndpointError(`the token file ${file} is empty`);
  }
  return t;
}

export function sidecarEndpoint(env: NodeJS.ProcessEnv, sidecarFlag?: string): SidecarEndpoint {
  let base: string;
  if (sidecarFlag) {
    const withScheme = /^https?:\/\//.test(sidecarFlag) ? sidecarFlag : `http://${sidecarFlag}`;
    let u: URL;
    try {
      u = new URL(withScheme);
    } catch {
      throw new EndpointError(`--sidecar "${sidecarFlag}" is not an address: use host:port or http://host:port`);
    }
    base = `${u.protocol}//${u.host}`;
  } else {
    const addr = env.PGPULSE_HTTP_ADDR || '127.0.0.1:7700';
    const { host, port } = splitAddress(addr);
    if (!host || !Number.isInteger(port) || port <= 0) {
      throw new EndpointError(`PGPULSE_HTTP_ADDR="${addr}" must be host:port, e.g. 127.0.0.1:7700`);
    }
    const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
    base = `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
  }
  if (env.PGPULSE_TOKEN) {
    return { base, token: env.PGPULSE_TOKEN, tokenFrom: 'PGPULSE_TOKEN' };
  }
  if (env.PGPULSE_TOKEN_FILE) {
    return { base, token: readTokenFile(env.PGPULSE_TOKEN_FILE), tokenFrom: env.PGPULSE_TOKEN_FILE };
  }
  const file = join(env.PGPULSE_DATA_DIR || '.pgpulse', TOKEN_FILE);
  if (existsSync(file)) {
    return { base, token: readTokenFile(file), tokenFrom: file };
  }
  return { base, token: undefined, tokenFrom: `PGPULSE_TOKEN (unset; no ${file})` };
}

export type Probe = { ok: true; targets: string[] } | { ok: false; why: string };

/** Ask the sidecar for its targets: proves address and token in one call. */
export async function probeSidecar(ep: SidecarEndpoint, timeoutMs = 1500): Promise<Probe> {
  if (!ep.token) {
    return {
      ok: false,
      why: `no token: set ${ep.tokenFrom.startsWith('PGPULSE_TOKEN (') ? 'PGPULSE_TOKEN or PGPULSE_TOKEN_FILE' : ep.tokenFrom}`,
    };
  }
  try {
    const r = await fetch(`${ep.base}/api/v1/resources/targets`, {
      headers: { authorization: `Bearer ${ep.token}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (r.status === 401) {
      return { ok: false, why: `the sidecar at ${ep.base} refused the token from ${ep.tokenFrom}` };
    }
    if (r.status !== 200) {
      return { ok: false, why: `the sidecar at ${ep.base} answered HTTP ${r.status}` };
    }
    const body = (await r.json()) as { items?: Array<{ value: string }> };
    return { ok: true, targets: (body.items ?? []).map((i) => i.value) };
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
    return {
      ok: false,
      why: `nothing answered at ${ep.base} (${cause === 'ECONNREFUSED' ? 'connection refused' : cause})`,
    };
  }
}
