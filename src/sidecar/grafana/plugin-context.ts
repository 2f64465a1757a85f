/**
 * What the gRPC transport reads from Grafana's PluginContext: the sidecar token (auth) and the
 * datasource's jsonData.target. The token is compared in constant time and never logged.
 */
import { insecureMode, tokenMatches } from '../auth';

export interface WirePluginContext {
  dataSourceInstanceSettings?: {
    jsonData?: Buffer | Uint8Array | null;
    decryptedSecureJsonData?: Record<string, string> | null;
    uid?: string;
    name?: string;
  } | null;
  user?: { login?: string; name?: string; email?: string; role?: string } | null;
  orgId?: string;
}

export const TOKEN_HELP =
  "set the sidecar token (the sidecar's PGPULSE_TOKEN) in the pgpulse datasource's secure settings (secureJsonData.token), then Save & test";

export type AuthResult = { ok: true } | { ok: false; reason: string };

export function checkToken(expected: string, ctx: WirePluginContext | null | undefined): AuthResult {
  const presented = ctx?.dataSourceInstanceSettings?.decryptedSecureJsonData?.token;
  if (!expected) {
    if (insecureMode.noAuth) {
      return { ok: true };
    }
    return {
      ok: false,
      reason:
        'pgpulse sidecar refused the request: the sidecar has no token configured (set PGPULSE_TOKEN on the sidecar), and it accepts no call without one',
    };
  }
  if (typeof presented !== 'string' || presented.length === 0) {
    return {
      ok: false,
      reason: `pgpulse sidecar refused the request: the datasource sends no sidecar token; ${TOKEN_HELP}`,
    };
  }
  if (!tokenMatches(expected, presented)) {
    return {
      ok: false,
      reason: `pgpulse sidecar refused the request: the datasource's sidecar token is wrong; ${TOKEN_HELP}`,
    };
  }
  return { ok: true };
}

/** Parsed datasource jsonData, {} when absent or not a JSON object. */
export function datasourceJsonData(ctx: WirePluginContext | null | undefined): Record<string, unknown> {
  const raw = ctx?.dataSourceInstanceSettings?.jsonData;
  if (!raw || raw.length === 0) {
    return {};
  }
  try {
    const v: unknown = JSON.parse(Buffer.from(raw).toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function defaultTarget(ctx: WirePluginContext | null | undefined): string | undefined {
  const t = datasourceJsonData(ctx).target;
  return typeof t === 'string' && t.trim() !== '' ? t.trim() : undefined;
}

/** Remove the configured token from any text leaving the process (belt and braces on top of redact()). */
export function scrubToken(text: string, token: string): string {
  return token && token.length >= 4 ? text.split(token).join('***') : text;
}
