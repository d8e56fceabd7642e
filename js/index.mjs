// The ESM entry: the CommonJS entry's exports, so that both module systems share one copy of every class
// (instanceof works across them) and the list of names lives in index.js only. The default export is
// module.exports, as Node gives for a CommonJS package imported without an ESM entry.
export * from './index.js';
export { default } from './index.js';
