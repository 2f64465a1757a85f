/**
 * Storage faults of the history store (disk full, read-only, locked, I/O errors): which SQLite and
 * file-system errors they are, how to say them to a person (the file and the fix), and when to
 * try again. A fault is the store's problem, never the monitored target's.
 */
import { dirname } from 'node:path';

export type StoreFaultKind = 'full' | 'read-only' | 'locked' | 'cannot-open' | 'io' | 'corrupt';

export interface StoreProblem {
  kind: StoreFaultKind;
  /** SQLite's extended code (SQLITE_FULL …) or the errno (ENOSPC …) */
  code: string;
  /** the history file */
  path: string;
  /** one sentence: what is wrong, with the path */
  message: string;
  /** what to do about it */
  fix: string;
  since: number;
  failures: number;
  nextRetryAt: number;
}

/** Thrown by every write while the store cannot be written; callers skip the write, nothing crashes. */
export class StoreWriteError extends Error {
  constructor(readonly problem: StoreProblem) {
    super(`history store problem: ${problem.message} — ${problem.fix}`);
    this.name = 'StoreWriteError';
  }
}

export function isStoreWriteError(e: unknown): e is StoreWriteError {
  return e instanceof StoreWriteError;
}

const SQLITE_KINDS: Array<[RegExp, StoreFaultKind]> = [
  [/^SQLITE_FULL/, 'full'],
  [/^SQLITE_READONLY/, 'read-only'],
  [/^SQLITE_(BUSY|LOCKED)/, 'locked'],
  [/^SQLITE_CANTOPEN/, 'cannot-open'],
  [/^SQLITE_(IOERR|PROTOCOL|NOLFS)/, 'io'],
  [/^SQLITE_(CORRUPT|NOTADB)/, 'corrupt'],
];

const ERRNO_KINDS: Record<string, StoreFaultKind> = {
  ENOSPC: 'full',
  EDQUOT: 'full',
  EROFS: 'read-only',
  EACCES: 'read-only',
  EPERM: 'read-only',
  EIO: 'io',
};

/** The fault kind of an error thrown by better-sqlite3 or node:fs, or undefined when it is a bug. */
export function storeFaultKind(e: unknown): { kind: StoreFaultKind; code: string } | undefined {
  const code = (e as { code?: unknown })?.code;
  if (typeof code !== 'string') {
    return undefined;
  }
  for (const [re, kind] of SQLITE_KINDS) {
    if (re.test(code)) {
      return { kind, code };
    }
  }
  const kind = ERRNO_KINDS[code];
  return kind ? { kind, code } : undefined;
}

/**
 * `need`: a full disk met by a schema migration (store/migrations.ts MigrationDiskFullError): how
 * much it needs and for what; its transaction was rolled back.
 */
export function describeFault(
  kind: StoreFaultKind,
  code: string,
  path: string,
  need?: { mb: number; why: string }
): { message: string; fix: string } {
  const dir = dirname(path);
  switch (kind) {
    case 'full':
      if (need) {
        return {
          message: `the disk holding the history store ${path} is full (${code}): ${need.why} needs about ${need.mb} MB free; the store is left as it was`,
          fix: `free about ${need.mb} MB on the filesystem of ${dir}, or move the data directory (PGPULSE_DATA_DIR) to a larger one; pgpulse serves the stored history read-only meanwhile and retries the upgrade by itself once that much is free`,
        };
      }
      return {
        message: `the disk holding the history store ${path} is full (${code})`,
        fix: `free space on the filesystem of ${dir}, move the data directory (PGPULSE_DATA_DIR) to a larger one, or lower retention; pgpulse resumes writing by itself when space returns`,
      };
    case 'read-only':
      return {
        message: `the history store ${path} is read-only (${code})`,
        fix: `make ${dir} and the pgpulse.db* files in it writable by the sidecar's user (or remount the filesystem read-write); pgpulse serves the stored history meanwhile and resumes writing by itself`,
      };
    case 'locked':
      return {
        message: `another process holds the write lock on the history store ${path} (${code})`,
        fix: `stop the other process writing ${path} (run one pgpulse serve per data directory; do not keep sqlite3 shells open in a transaction); pgpulse retries by itself`,
      };
    case 'cannot-open':
      return {
        message: `the history store ${path} cannot be opened for writing (${code})`,
        fix: `check that ${dir} exists, is a directory, and is writable by the sidecar's user; pgpulse retries by itself`,
      };
    case 'io':
      return {
        message: `an I/O error hit the history store ${path} (${code})`,
        fix: `check the disk and filesystem of ${dir} (dmesg, SMART, the volume's health); pgpulse retries by itself`,
      };
    case 'corrupt':
      return {
        message: `the history store ${path} is damaged (${code})`,
        fix: `stop pgpulse, move ${path}* aside (keep it for diagnosis) and start again with an empty history`,
      };
  }
}

/** Exponential back-off between write attempts while the store is failing. */
export function nextDelayMs(failures: number, policy: { minMs: number; maxMs: number }): number {
  return Math.min(policy.maxMs, policy.minMs * 2 ** Math.max(0, failures - 1));
}
