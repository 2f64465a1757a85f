/*
 * Grafana's plugin formatting conventions (create-plugin). Extend in ../.prettierrc.js, not here.
 */
module.exports = {
  endOfLine: 'auto',
  printWidth: 120,
  trailingComma: 'es5',
  semi: true,
  jsxSingleQuote: false,
  singleQuote: true,
  useTabs: false,
  tabWidth: 2,
};
