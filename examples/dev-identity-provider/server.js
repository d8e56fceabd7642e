'use strict';
// The development identity provider on its own, as a small Node process, for apps that cannot load it in-process
// (the Flask example). The same provider the Express example mounts at /dev-idp, plus what a server-side app needs:
//
//   /dev-idp/...         the sign-in page and Entra-shaped endpoints (http.js), for the browser
//   POST /msal-network   msal's requests to https://login.microsoftonline.com, forwarded: {method, url, body} in,
//                        msal-node's NetworkResponse {status, headers, body} out (the in-process answers, over HTTP)
//   GET  /dev-config     what an app needs to talk to it: client id and secret, authority, API scopes and URL
//   GET  /dev-grants     how many refresh tokens it redeemed (the cache page's "Refresh now" shows it)
//   /dev-api/me          the local protected API (../express/downstream-api.js), which verifies its tokens
//
//   node examples/dev-identity-provider/server.js      # PORT (default 3100), HOST (127.0.0.1), REDIRECT_ORIGINS
//
// REDIRECT_ORIGINS (comma-separated, default http://localhost:5000,http://127.0.0.1:5000) are the app origins whose
// redirect URIs it accepts. There are no passwords: keep it on loopback.

const express = require('express');
const { createDevIdentityProvider, HOST } = require('./tokens');
const { createDevIdentityProviderRouter } = require('./http');
const { createDownstreamApi } = require('../express/downstream-api');
const { DEV_CLIENT_ID, DEV_API_AUDIENCE, DEV_API_SCOPE } = require('../express/config');

const MAX_FORWARDED_BYTES = '256kb';

/**
 * @param {{ port?: number, host?: string, redirectOrigins?: string[], logger?: { log: Function } }} [options]
 * @returns {Promise<{ url: string, idp: object, close: () => Promise<void> }>}
 */
async function startDevIdentityProviderServer({ port = 3100, host = '127.0.0.1', redirectOrigins = [] } = {}) {
  const idp = createDevIdentityProvider({ clientId: DEV_CLIENT_ID });
  const app = express();
  app.disable('x-powered-by');
  app.use('/dev-idp', createDevIdentityProviderRouter(idp, { redirectOrigins }));
  app.use('/dev-api', createDownstreamApi({ jwks: idp.jwks(), issuer: idp.issuer, audience: DEV_API_AUDIENCE, scope: DEV_API_SCOPE }));
  app.post('/msal-network', express.json({ limit: MAX_FORWARDED_BYTES }), async (req, res) => {
    const { method, url, body } = req.body || {};
    // Only what msal sends to Entra's host (msal-python writes the port: https://login.microsoftonline.com:443/...).
    let target = null;
    try {
      target = new URL(url);
    } catch { /* refused below */ }
    if (!target || target.protocol !== 'https:' || target.hostname !== HOST) return res.status(400).type('text').send('not an Entra URL');
    const answer = method === 'GET'
      ? await idp.networkClient.sendGetRequestAsync(url)
      : await idp.networkClient.sendPostRequestAsync(url, { body: String(body ?? '') });
    return res.set('cache-control', 'no-store').json(answer);
  });
  app.get('/dev-config', (req, res) => {
    const { auth } = idp.msalConfig();
    res.json({
      clientId: auth.clientId,
      clientSecret: auth.clientSecret,
      authority: auth.authority,
      entraHost: HOST,
      apiScopes: [`${DEV_API_AUDIENCE}/${DEV_API_SCOPE}`],
      apiPath: '/dev-api/me',
    });
  });
  app.get('/dev-grants', (req, res) => res.json({ refreshToken: idp.grantCount('refresh_token') }));

  const server = await new Promise((resolve, reject) => {
    const listening = app.listen(port, host, () => resolve(listening)).once('error', reject);
  });
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${server.address().port}`;
  return {
    url,
    idp,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

if (require.main === module) {
  const origins = (process.env.REDIRECT_ORIGINS || 'http://localhost:5000,http://127.0.0.1:5000').split(',').map((o) => o.trim()).filter(Boolean);
  startDevIdentityProviderServer({ port: Number(process.env.PORT || 3100), host: process.env.HOST || '127.0.0.1', redirectOrigins: origins })
    .then(({ url, close }) => {
      if (!/^(127\.|localhost$|::1$)/.test(process.env.HOST || '127.0.0.1')) {
        console.warn(`WARNING: HOST=${process.env.HOST}: the dev identity provider has no passwords, and anyone who can reach it can sign in as anyone.`);
      }
      console.log(`Dev identity provider listening on ${url} (sign-in page ${url}/dev-idp; redirect URIs on ${origins.join(', ')})`);
      const stop = () => close().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    })
    .catch((err) => {
      console.error(`Dev identity provider did not start: ${err.message}`);
      process.exit(1);
    });
}

module.exports = { startDevIdentityProviderServer };
