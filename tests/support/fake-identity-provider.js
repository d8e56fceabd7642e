'use strict';
// The tests' fake Microsoft Entra ID is the example's development identity provider: one implementation of the
// token endpoint, driven in-process through msal's networkClient. See examples/dev-identity-provider/.

const { createDevIdentityProvider, DEFAULT_TENANT_ID } = require('../../examples/dev-identity-provider/tokens');

module.exports = { createFakeIdentityProvider: createDevIdentityProvider, DEFAULT_TENANT_ID };
