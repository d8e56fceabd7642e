'use strict';
// A throw-away certificate authority and a server certificate it signed, made with the `openssl` command, for a
// TLS-only test Redis (redis-server.js, `startRedis({ tls: true })`). Never for production: the CA key sits next
// to the certificates, both live one day.
//
//   const { caFile, certFile, keyFile } = await createTestCertificates(dir);
//
// The server certificate names IP:127.0.0.1 and DNS:localhost, so clients that verify the host name (Node's tls
// does) accept both `rediss://127.0.0.1:N` and `rediss://localhost:N` once they trust caFile.

const { execFile } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { promisify } = require('node:util');

const OPENSSL_NOT_FOUND = 'openssl not found: apt-get install openssl';
const DAYS = '1';
// P-256 keys: generated in milliseconds (RSA 2048 takes up to a second), accepted by every TLS stack.
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

const SERVER_EXTENSIONS = [
  'basicConstraints = critical, CA:FALSE',
  'keyUsage = critical, digitalSignature, keyEncipherment',
  'extendedKeyUsage = serverAuth',
  'subjectAltName = IP:127.0.0.1, DNS:localhost',
].join('\n');

async function openssl(args, cwd) {
  try {
    await promisify(execFile)('openssl', args, { cwd });
  } catch (err) {
    if (err.code === 'ENOENT') throw new Error(OPENSSL_NOT_FOUND);
    throw new Error(`openssl ${args[0]} failed: ${(err.stderr || err.message).trim()}`);
  }
}

/**
 * Writes ca.crt, ca.key, server.crt, server.key (PEM) into dir.
 * @param {string} dir an existing directory
 * @returns {Promise<{ caFile: string, certFile: string, keyFile: string }>} absolute paths
 */
async function createTestCertificates(dir) {
  fs.writeFileSync(path.join(dir, 'server.ext'), `${SERVER_EXTENSIONS}\n`);
  await openssl(['req', '-x509', ...NEW_KEY, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', DAYS,
    '-subj', '/CN=msal-redis-cache throw-away test CA',
    '-addext', 'basicConstraints = critical, CA:TRUE', '-addext', 'keyUsage = critical, keyCertSign, cRLSign'], dir);
  await openssl(['req', ...NEW_KEY, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  await openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial',
    `0x${crypto.randomBytes(16).toString('hex')}`, '-days', DAYS, '-extfile', 'server.ext',
    '-out', 'server.crt'], dir);
  return { caFile: path.join(dir, 'ca.crt'), certFile: path.join(dir, 'server.crt'), keyFile: path.join(dir, 'server.key') };
}

module.exports = { createTestCertificates, OPENSSL_NOT_FOUND };
