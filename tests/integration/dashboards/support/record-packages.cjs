// Preloaded with `node -r`: appends the name of every npm package the process loads to the file
// in PGPULSE_TEST_PACKAGES_FILE, so a test can compare it with the production dependency tree.
'use strict';
const fs = require('fs');
const Module = require('module');
const out = process.env.PGPULSE_TEST_PACKAGES_FILE;
const seen = new Set();
const load = Module._load;
Module._load = function (request, parent, isMain) {
  try {
    const file = Module._resolveFilename(request, parent, isMain);
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    if (m && !seen.has(m[1])) {
      seen.add(m[1]);
      if (out) {
        fs.appendFileSync(out, m[1] + '\n');
      }
    }
  } catch {
    // unresolvable requests fail in the real load below, with the real error
  }
  return load.apply(this, arguments);
};
