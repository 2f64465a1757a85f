/**
 * The PostgreSQL majors pgpulse supports: each is tested on a real server in CI
 * (tests/integration/matrix, servers from scripts/fetch-postgres.sh). A newer major is sampled
 * anyway (the newest collector SQL variant has no upper bound) but is named as untested.
 */
export const SUPPORTED_MAJORS = { min: 14, max: 18 } as const;

/** null when supported, else what health and doctor say about this server */
export function versionProblem(
  serverVersionNum: number,
  display = String(Math.floor(serverVersionNum / 10000))
): string | null {
  const major = Math.floor(serverVersionNum / 10000);
  if (major < SUPPORTED_MAJORS.min) {
    return `PostgreSQL ${display} is older than ${SUPPORTED_MAJORS.min}, which pgpulse supports: upgrade, or expect most collectors to be unavailable`;
  }
  if (major > SUPPORTED_MAJORS.max) {
    return `PostgreSQL ${display} is newer than pgpulse is tested with (${SUPPORTED_MAJORS.min}–${SUPPORTED_MAJORS.max}): collectors run, but a changed statistics view can fail one (health lists it)`;
  }
  return null;
}
