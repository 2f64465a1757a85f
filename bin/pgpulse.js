#!/usr/bin/env node
'use strict';
// The CLI entry: runs the compiled sidecar (npm run build writes build/).

// V8 flags the long-running `serve` wants (docs/benchmarks.md §8): a small young generation (the
// sampling cycle's short-lived rows otherwise grow the heap by ~100 MB) and no TurboFan for the SQL
// parser's WebAssembly (its compile peaks at hundreds of MB). V8 reads its flags once at start and
// NODE_OPTIONS refuses --liftoff-only, so `serve` replaces this process with one started with them:
// process.execve keeps the pid, stdio and signals, and leaves no wrapper process behind. Node flags
// the user gave (`node --max-semi-space-size=16 bin/pgpulse.js serve`) stand; PGPULSE_NODE_FLAGS
// replaces the default ('' = none).
const SERVE_FLAGS = ['--liftoff-only', '--max-semi-space-size=2'];

function reexecFlags() {
  if (process.argv[2] !== 'serve' || process.env.PGPULSE_REEXECED === '1' || typeof process.execve !== 'function') {
    return [];
  }
  const chosen = process.env.PGPULSE_NODE_FLAGS;
  if (chosen !== undefined) {
    return chosen.split(/\s+/).filter(Boolean);
  }
  if (process.execArgv.length > 0 || /--max-semi-space-size/.test(process.env.NODE_OPTIONS || '')) {
    return [];
  }
  return SERVE_FLAGS;
}

// jemalloc instead of glibc's malloc for `serve`: glibc keeps the native memory freed by SQLite, the
// pg protocol's buffers and the query worker in per-thread arenas (≈120 MB after an hour with 5,000
// statements), jemalloc returns it (docs/benchmarks.md §8.1, §8.2). It has to be preloaded before the
// process starts, so it rides on the same re-exec. PGPULSE_ALLOCATOR=system keeps glibc;
// =jemalloc insists (an error when the library is missing); unset: jemalloc when installed.
const JEMALLOC_PATHS = [
  '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2',
  '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2',
  '/usr/lib64/libjemalloc.so.2',
  '/usr/lib/libjemalloc.so.2',
  '/usr/local/lib/libjemalloc.so.2',
];

// a multiarch system may hold another architecture's build too: ld.so would ignore that one
const OTHER_ARCH = { x64: /aarch64|AArch64/, arm64: /x86_64|x86-64/ }[process.arch] || /$^/;

function findJemalloc() {
  const fs = require('node:fs');
  const known = JEMALLOC_PATHS.find((p) => !OTHER_ARCH.test(p) && fs.existsSync(p));
  if (known) {
    return known;
  }
  // elsewhere: as the dynamic linker knows it (ldconfig may be missing or outside PATH); its
  // lines read "libjemalloc.so.2 (libc6,x86-64) => /path", a 32-bit build has no ",x86-64"
  const mine = { x64: 'x86-64', arm64: 'AArch64' }[process.arch];
  for (const ldconfig of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    const r = require('node:child_process').spawnSync(ldconfig, ['-p'], { encoding: 'utf8' });
    if (r.status === 0) {
      for (const m of r.stdout.matchAll(/libjemalloc\.so\.2 \(([^)]*)\) => (\S+)/g)) {
        if (!mine || m[1].includes(mine)) {
          return m[2];
        }
      }
      return undefined;
    }
  }
  return undefined;
}

function refuse(message) {
  process.stderr.write(`pgpulse: ${message}\n`);
  process.exit(2);
}

function preloadFor() {
  const preloaded = process.env.LD_PRELOAD || '';
  if (process.argv[2] !== 'serve' || process.env.PGPULSE_REEXECED === '1' || /libjemalloc/.test(preloaded)) {
    return undefined;
  }
  const chosen = process.env.PGPULSE_ALLOCATOR || 'auto';
  if (!['auto', 'jemalloc', 'system'].includes(chosen)) {
    refuse(`PGPULSE_ALLOCATOR=${chosen} is not one of auto, jemalloc, system`);
  }
  if (chosen === 'system') {
    return undefined;
  }
  if (typeof process.execve !== 'function') {
    // Node 22 before 22.15 cannot re-execute itself in place
    if (chosen === 'jemalloc') {
      refuse(
        `PGPULSE_ALLOCATOR=jemalloc needs Node 22.15 or newer (this is ${process.version}), or set LD_PRELOAD yourself`
      );
    }
    return undefined;
  }
  const lib = findJemalloc();
  if (!lib && chosen === 'jemalloc') {
    refuse(
      'PGPULSE_ALLOCATOR=jemalloc but libjemalloc.so.2 is not installed (Debian/Ubuntu: apt-get install libjemalloc2)'
    );
  }
  return lib && (preloaded ? `${lib}:${preloaded}` : lib);
}

// jemalloc's defaults suit a big server: four arenas per CPU, and dirty pages returned to the kernel
// 10 s after they are freed, but only when their arena is used again (no background thread), so an
// arena a quiet thread touched keeps them. For a sidecar on a small VM: two arenas and a background
// thread returning freed pages after 1 s, straight to the kernel (no MADV_FREE pages lingering in
// RSS; docs/benchmarks.md §8.2). A MALLOC_CONF the user set (even empty) stands.
const JEMALLOC_CONF = 'narenas:2,background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0';

const flags = reexecFlags();
const preload = preloadFor();
if (flags.length > 0 || preload) {
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...flags, ...process.argv.slice(1)], {
    ...process.env,
    ...(preload ? { LD_PRELOAD: preload } : {}),
    ...(preload && process.env.MALLOC_CONF === undefined ? { MALLOC_CONF: JEMALLOC_CONF } : {}),
    PGPULSE_REEXECED: '1',
  });
}

let main;
try {
  ({ main } = require('../build/sidecar/cli/main.js'));
} catch (e) {
  if (e && e.code === 'MODULE_NOT_FOUND') {
    process.stderr.write('pgpulse is not built yet: run `npm ci && npm run build` first\n');
    process.exit(2);
  }
  throw e;
}
main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number' && code !== 0) {
      process.exitCode = code;
    }
  },
  (e) => {
    process.stderr.write(`pgpulse: ${e && e.message ? e.message : e}\n`);
    process.exitCode = 1;
  }
);
