// Types of the ESM entry (index.mjs): the CommonJS entry's named exports, and its module.exports as the default
// export. Declared by re-export so that both entries share one declaration of every class.
import moduleExports from './index.js';

export * from './index.js';
export default moduleExports;
