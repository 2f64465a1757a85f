import { defineConfig, globalIgnores } from 'eslint/config';
import baseConfig from './.config/eslint.config.mjs';

export default defineConfig([
  // generated or vendored: the e2e host bundle, the Go harness, bench scratch space, build output
  globalIgnores(['tests/e2e/host/dist/', 'tests/conformance/', 'bench/.work/', 'build/', '.pgpulse/']),
  ...baseConfig,
  {
    // the sidecar, the CLI, tests and benchmarks are Node programs that print to a terminal on purpose
    files: [
      'src/sidecar/**/*.ts',
      'bench/**/*.{ts,cjs}',
      'scripts/**/*.ts',
      'tests/**/*.{ts,tsx,js,cjs}',
      'bin/**/*.js',
    ],
    rules: {
      'no-console': 'off',
    },
  },
  {
    // provisioning is written as v1 dashboard JSON on purpose: it is what file provisioning reads on every
    // Grafana we support; the SDK marks those builders deprecated in favour of the v2 schema
    files: ['src/dashboards/**/*.ts'],
    rules: {
      '@typescript-eslint/no-deprecated': 'off',
    },
  },
]);
