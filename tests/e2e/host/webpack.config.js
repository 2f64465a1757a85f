/**
 * Builds the e2e host page bundle (tests/e2e/host/dist/host.js): the REAL @grafana/data, ui,
 * runtime, React and friends, which the host then offers to the plugin's dist/module.js as AMD
 * modules — the way Grafana provides them to plugins.
 */
const path = require('node:path');
const CopyWebpackPlugin = require('copy-webpack-plugin');
const webpack = require('webpack');

module.exports = {
  mode: 'development',
  target: 'web',
  devtool: false,
  context: __dirname,
  entry: { host: './host.tsx' },
  output: { path: path.join(__dirname, 'dist'), filename: '[name].js', publicPath: '/host/', clean: true },
  resolve: {
    extensions: ['.ts', '.tsx', '.js', '.mjs', '.json'],
    fallback: {
      fs: false,
      path: false,
      crypto: false,
      stream: false,
      buffer: false,
      util: false,
      os: false,
      url: false,
    },
  },
  module: {
    rules: [
      {
        test: /\.tsx?$/,
        exclude: /node_modules/,
        use: {
          loader: 'swc-loader',
          options: {
            jsc: {
              target: 'es2020',
              parser: { syntax: 'typescript', tsx: true },
              transform: { react: { runtime: 'automatic' } },
            },
          },
        },
      },
      // Packages' .mjs files import CommonJS defaults the lenient way (as Grafana's own build does).
      { test: /\.m?js$/, type: 'javascript/auto', resolve: { fullySpecified: false } },
      { test: /\.css$/, type: 'asset/source' },
      { test: /\.(svg|png|woff2?|ttf|eot)$/, type: 'asset/resource' },
    ],
  },
  plugins: [
    new webpack.ProvidePlugin({ process: require.resolve('./process-shim.js') }),
    new CopyWebpackPlugin({
      patterns: [
        { from: 'amd.js', to: '.' },
        { from: 'index.html', to: '.' },
      ],
    }),
  ],
  performance: { hints: false },
  stats: 'errors-warnings',
};
