#!/usr/bin/env node
'use strict';
// The CLI entry: runs the compiled sidecar (npm run build writes build/).
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
