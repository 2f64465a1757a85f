// Some browser-targeted packages still read process.env; give them an empty one.
module.exports = {
  env: { NODE_ENV: 'production' },
  browser: true,
  version: '',
  versions: {},
  platform: 'browser',
  nextTick: (fn, ...a) => Promise.resolve().then(() => fn(...a)),
};
