'use strict';
// The throw-away redis-server launcher lives with the example, which starts one too; the tests share it.

module.exports = require('../../examples/express/redis-server');
