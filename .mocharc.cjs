// Mocha's settings for `npm test`. Files named on the command line run alone:
// mocha would otherwise add them to the whole suite's spec, not replace it.
const named = process.argv.slice(2).some((arg) => /\.test\.ts$/.test(arg));

module.exports = {
  'node-option': ['import=tsx'],
  spec: named ? [] : ['test/**/*.test.ts'],
  require: ['test/harness/root-hooks.ts'],
  timeout: 20000,
  exit: true,
};
