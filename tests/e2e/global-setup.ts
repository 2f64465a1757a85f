/**
 * Before the browser tests: the plugin must be built (dist/module.js, as `npm run build:plugin`
 * makes it) and the host page bundled. The plugin is rebuilt only when its sources are newer
 * than dist/module.js, so a fresh `npm run build` output is what gets tested.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function webpack(args: string[]) {
  execFileSync(process.execPath, [join(ROOT, 'node_modules/webpack-cli/bin/cli.js'), ...args], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}

export default async function globalSetup() {
  const moduleJs = join(ROOT, 'dist/module.js');
  const sources = Math.max(
    newestMtime(join(ROOT, 'src/plugin')),
    newestMtime(join(ROOT, 'src/model')),
    statSync(join(ROOT, 'plugin.json')).mtimeMs
  );
  if (!existsSync(moduleJs) || statSync(moduleJs).mtimeMs < sources) {
    // the config is TypeScript (create-plugin's .config/ layout): tsx loads it
    execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'node_modules/webpack-cli/bin/cli.js'),
        '--config',
        '.config/webpack/webpack.config.ts',
        '--mode',
        'production',
      ],
      {
        cwd: ROOT,
        stdio: 'inherit',
      }
    );
  }
  webpack(['--config', 'tests/e2e/host/webpack.config.js']);
}
