/**
 * Frontend unit tests (jsdom + @testing-library/react) for src/plugin. Node-side tests use
 * node:test instead (see package.json test:unit / test:integration).
 */
// Packages that ship only ES modules and must be transformed for jest's CommonJS runtime.
const esModules = [
  'd3',
  'd3-[a-z-]+',
  'internmap',
  'delaunator',
  'robust-predicates',
  'react-colorful',
  'ol',
  'ol-mapbox-style',
  'rbush',
  'quickselect',
  'pbf',
  'earcut',
  'marked',
  'marked-mangle',
  'uuid',
  'monaco-promql',
  'proj4',
  '@grafana/schema',
  '@grafana/i18n',
  '@bsull/augurs',
  'ngraph\\.[a-z-]+',
  'nanoid',
  'yocto-queue',
  '@wojtekmaj/date-utils',
  'mimic-function',
  'memoize',
  'get-user-locale',
  'react-calendar',
];

module.exports = {
  testEnvironment: 'jsdom',
  roots: ['<rootDir>/src/plugin', '<rootDir>/tests/frontend'],
  testMatch: ['**/*.test.ts', '**/*.test.tsx'],
  setupFiles: ['<rootDir>/tests/frontend/jest.polyfills.js'],
  setupFilesAfterEnv: ['<rootDir>/tests/frontend/jest.setup.ts'],
  transform: {
    '^.+\\.(t|j)sx?$|^.+\\.mjs$': [
      '@swc/jest',
      {
        sourceMaps: 'inline',
        jsc: {
          parser: { syntax: 'typescript', tsx: true, decorators: false, dynamicImport: true },
          transform: { react: { runtime: 'automatic' } },
          target: 'es2020',
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esModules.join('|')})/)`],
  moduleNameMapper: {
    '^react-inlinesvg$': '<rootDir>/tests/frontend/inlineSvgMock.js',
    '\\.(css|scss|sass)$': '<rootDir>/tests/frontend/styleMock.js',
    '\\.(svg|png|jpg)$': '<rootDir>/tests/frontend/fileMock.js',
  },
  testTimeout: 20000,
};
