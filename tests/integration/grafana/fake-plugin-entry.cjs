// Local-mode plugin entry backed by the FakeService, for locator tests (the locator execs
// `node <entry>`, so this CommonJS file loads the TypeScript through tsx).
require('tsx/cjs');
require('./fake-plugin-entry-main.ts');
