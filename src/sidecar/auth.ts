import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * `pgpulse serve --insecure-no-auth` (loopback only): calls without a token are answered. Only the
 * serve command sets it, after checking that both listeners are on loopback.
 */
export const insecureMode = { noAuth: false };

/**
 * Constant-time token check. Both sides are hashed first so that neither the length nor the
 * content of the configured token leaks through timing.
 */
export function tokenMatches(expected: string, presented: string | undefined | null): boolean {
  if (!expected || typeof presented !== 'string' || presented.length === 0) {
    return false;
  }
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(presented).digest();
  return timingSafeEqual(a, b);
}

/** Strip anything that looks like a credential before a message leaves the process. */
export function redact(text: string): string {
  return text
    .replace(/(postgres(?:ql)?:\/\/[^:\s/@]+:)[^@\s]+@/gi, '$1***@')
    .replace(/(password\s*=\s*)\S+/gi, '$1***')
    .replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]+/g, '$1***');
}
