'use strict';
// Fixed keys for the tests, so that every instance and process of one test shares them, as servers behind one
// Redis must. Never use these anywhere else.

const TEST_ENCRYPTION_KEY = 'ZM4HTPgTlDECrMEyh5oS5Yf7t0PkMpj2oSP4+VVgGe4=';
const TEST_KEY_NAME_SECRET = 'dw3A9OIdLhUHHmmHBWxVGSv2ovQhW4FcdTpC5E1anbw=';

/** The RedisTokenCache options that carry them. */
const testSecrets = () => ({ encryptionKeys: [TEST_ENCRYPTION_KEY], keyNameSecret: TEST_KEY_NAME_SECRET });

module.exports = { TEST_ENCRYPTION_KEY, TEST_KEY_NAME_SECRET, testSecrets };
