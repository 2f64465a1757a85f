/**
 * Kept where @grafana/create-plugin's scaffold keeps it (.config/webpack/webpack.config.ts) and
 * following its conventions, written for this project rather than generated.
 *
 * Builds the Grafana frontend plugin into dist/ the way create-plugin does: one AMD module.js
 * with Grafana's shared libraries as externals, publicPath under public/plugins/<id>/, and the
 * plugin's static files copied next to it. The locator executables (dist/gpx_pgpulse_linux_*)
 * are written by another build step and are kept when dist/ is cleaned.
 */
const path = require('node:path');
const fs = require('node:fs');
const CopyWebpackPlugin = require('copy-webpack-plugin');

const root = path.resolve(__dirname, '..', '..');
const pkg = require(path.join(root, 'package.json'));
const srcDir = path.join(root, 'src');
const pluginJson = JSON.parse(fs.readFileSync(path.join(root, 'plugin.json'), 'utf8'));

/** Exactly the modules Grafana provides to plugins at run time (grafana-plugin-protocol.md §7). */
const externals = [
  'react',
  'react-dom',
  'react/jsx-runtime',
  '@grafana/data',
  '@grafana/ui',
  '@grafana/runtime',
  'lodash',
  'rxjs',
  '@emotion/react',
  '@emotion/css',
  'i18next',
  'moment',
  'd3',
];

/** Server-only code must never reach the browser bundle: fail the build if it does. */
class NoServerCodePlugin {
  apply(compiler) {
    const forbidden = [
      `${path.sep}src${path.sep}sidecar${path.sep}`,
      `${path.sep}node_modules${path.sep}pg${path.sep}`,
      `${path.sep}node_modules${path.sep}better-sqlite3${path.sep}`,
      `${path.sep}node_modules${path.sep}@grpc${path.sep}`,
      `${path.sep}node_modules${path.sep}apache-arrow${path.sep}`,
      `${path.sep}node_modules${path.sep}pino${path.sep}`,
      `${path.sep}node_modules${path.sep}libpg-query${path.sep}`,
    ];
    compiler.hooks.compilation.tap('NoServerCodePlugin', (compilation) => {
      compilation.hooks.finishModules.tap('NoServerCodePlugin', (modules) => {
        for (const m of modules) {
          const res = m.resource || '';
          const hit = forbidden.find((f) => res.includes(f));
          if (hit) {
            compilation.errors.push(
              new Error(
                `Server-only module in the browser bundle: ${path.relative(root, res)} — import it from the sidecar, never from src/plugin or src/model.`
              )
            );
          }
        }
      });
    });
  }
}

function copyIfPresent(file) {
  return fs.existsSync(path.join(root, file)) ? [{ from: file, to: '.' }] : [];
}

module.exports = (env, argv) => {
  const production = (argv && argv.mode) !== 'development';
  return {
    mode: production ? 'production' : 'development',
    target: 'web',
    context: root,
    devtool: 'source-map',
    entry: { module: './src/plugin/module.ts' },
    output: {
      path: path.join(root, 'dist'),
      filename: '[name].js',
      library: { type: 'amd' },
      publicPath: `public/plugins/${pluginJson.id}/`,
      uniqueName: pluginJson.id,
      // Source names relative to src/, as create-plugin's (whose context is src/) are: the plugin
      // validator strips "webpack://<plugin id>/" and compares each sourcesContent with <repo>/src/<name>.
      // node_modules sources become "../node_modules/…", which it skips; webpack's runtime and
      // externals keep their usual names.
      devtoolModuleFilenameTemplate: (info) => {
        const file = info.absoluteResourcePath;
        const name = path.isAbsolute(file) ? path.relative(srcDir, file).split(path.sep).join('/') : info.resourcePath;
        return `webpack://${pluginJson.id}/${name}`;
      },
      // Keep the locator executables another build step put there.
      clean: { keep: /^gpx_pgpulse_linux_/ },
    },
    externals,
    resolve: {
      extensions: ['.ts', '.tsx', '.js', '.jsx', '.json'],
      // Node built-ins are not polyfilled: a browser import of them is a bug.
      fallback: { fs: false, path: false, crypto: false, net: false, tls: false, child_process: false },
    },
    module: {
      rules: [
        {
          test: /\.[tj]sx?$/,
          exclude: /node_modules/,
          use: {
            loader: 'swc-loader',
            options: {
              jsc: {
                baseUrl: root,
                target: 'es2020',
                loose: false,
                parser: { syntax: 'typescript', tsx: true, decorators: false, dynamicImport: true },
                transform: { react: { runtime: 'automatic' } },
              },
            },
          },
        },
        { test: /\.svg$/, type: 'asset/resource', generator: { filename: 'img/[name][ext]' } },
      ],
    },
    plugins: [
      new NoServerCodePlugin(),
      new CopyWebpackPlugin({
        patterns: [
          {
            from: 'plugin.json',
            to: '.',
            transform(content) {
              return content
                .toString()
                .replace('%VERSION%', pkg.version)
                .replace('%TODAY%', new Date().toISOString().slice(0, 10));
            },
          },
          // Grafana's catalog shows the packaged README outside the repository: relative links
          // would break there (the plugin validator flags them), so they become plain text.
          ...copyIfPresent('README.md').map((e) => ({
            ...e,
            transform: (content) =>
              content
                .toString()
                .replace(/\[([^\]]+)\]\((?!https?:|mailto:|#)([^)\s]+)\)/g, (_, text, target) =>
                  text.replace(/`/g, '') === target ? `\`${target}\`` : `${text} (\`${target}\` in the source)`
                ),
          })),
          ...copyIfPresent('CHANGELOG.md'),
          ...copyIfPresent('LICENSE'),
          { from: 'src/plugin/img', to: 'img' },
        ],
      }),
    ],
    performance: { hints: false },
    optimization: { minimize: production },
  };
};
