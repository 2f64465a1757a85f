'use strict';
/**
 * The child of bench/parser-memory.ts: loads libpg-query, parses the texts given on stdin (a JSON
 * array), drops the module, and prints its memory after forced collections at each step as JSON.
 * Plain CommonJS, so no TypeScript loader's memory is counted. Needs --expose-gc.
 */
const { readFileSync } = require('node:fs');

function status() {
  const s = readFileSync('/proc/self/status', 'utf8');
  const mb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)[1]) / 1024;
  return {
    rss: mb('VmRSS'),
    anon: mb('RssAnon'),
    file: mb('RssFile'),
    external: process.memoryUsage().external / 1048576,
  };
}

async function main() {
  const texts = JSON.parse(readFileSync(0, 'utf8'));
  const steps = [];
  const mark = async (step) => {
    for (let i = 0; i < 5; i++) {
      global.gc();
      await new Promise((r) => setTimeout(r, 200));
    }
    steps.push({ step, ...status() });
  };
  await mark('before');
  let lib = require('libpg-query');
  await lib.loadModule();
  await mark('parser loaded');
  for (const t of texts) {
    lib.parseSync(t);
  }
  await mark(`${texts.length} texts parsed`);
  for (const f of Object.keys(require.cache)) {
    if (f.includes('libpg-query')) {
      delete require.cache[f];
    }
  }
  lib = undefined;
  await mark('module dropped, collected');
  process.stdout.write(JSON.stringify(steps));
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e));
  process.exit(1);
});
