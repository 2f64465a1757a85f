/**
 * Which Neon compute a connection URL points at, read from the URL alone (no connection):
 * Neon host names start with the endpoint id (`ep-…`), with `-pooler` appended for the
 * PgBouncer endpoint; clients without SNI name the endpoint in `options=endpoint=ep-…` instead.
 * A target whose URL names another endpoint than neon.endpointId would be gated on the wrong
 * compute's state and could wake this one, so that is a configuration error.
 */
export interface UrlIdentity {
  /** the endpoint id the URL names, when it names one */
  endpointId?: string;
  /** the URL goes through Neon's pooler (PgBouncer, transaction mode) */
  pooled: boolean;
}

export function identityFromUrl(url: string): UrlIdentity {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { pooled: false };
  }
  const first = u.hostname.split('.')[0] ?? '';
  const pooled = first.endsWith('-pooler');
  const label = pooled ? first.slice(0, -'-pooler'.length) : first;
  if (/^ep-[a-z0-9-]+$/.test(label)) {
    return { endpointId: label, pooled };
  }
  const opt = /(?:^|\s)endpoint=(ep-[a-z0-9-]+)/.exec(decodeURIComponent(u.searchParams.get('options') ?? ''));
  return { endpointId: opt?.[1], pooled };
}

/** null when consistent, else the error naming both ids and the fix */
export function urlEndpointMismatch(url: string | undefined, endpointId: string): string | null {
  const id = url ? identityFromUrl(url).endpointId : undefined;
  if (!id || id === endpointId) {
    return null;
  }
  return `the target URL points at Neon endpoint ${id} but neon.endpointId is ${endpointId}: pgpulse would read the wrong compute's state and could wake this one — set neon.endpointId to ${id} (or fix the URL)`;
}

/** the same check against the neon.endpoint_id setting the compute itself reports */
export function gucEndpointMismatch(guc: string | null | undefined, endpointId: string): string | null {
  if (!guc || guc === endpointId) {
    return null;
  }
  return `the compute reports neon.endpoint_id = ${guc} but neon.endpointId is ${endpointId}: pgpulse was gating on another compute's state — set neon.endpointId to ${guc}`;
}
