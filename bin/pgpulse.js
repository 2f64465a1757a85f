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

const flags = reexecFlags();
if (flags.length > 0) {
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...flags, ...process.argv.slice(1)], {
    ...process.env,
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
