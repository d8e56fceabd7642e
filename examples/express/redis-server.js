'use strict';
// Starts a throw-away redis-server on a free loopback port: for the tests (tests/support/redis-server.js), and
// for the example's start command when no REDIS_URL is given.
//
//   const redis = await startRedis();   // { port, url: 'redis://127.0.0.1:N', pid, dir, stop() }
//   ...
//   await redis.stop();                 // kills the server, removes its temp dir
//
// Options, for tests of a production-like Redis:
//   tls: true       TLS only: a throw-away CA and server certificate (tls-certificates.js) in the temp dir,
//                   `--port 0 --tls-port N` (no plain-TCP listener), clients need no certificate. Adds
//                   { url: 'rediss://127.0.0.1:N', caFile, certFile, keyFile }; clients must trust caFile.
//   aclUsers: ['user app on >password ~msal:* ...']
//                   ACL file lines (one user each, `user <name> <rules>`), written to <dir>/users.acl and loaded
//                   with --aclfile. Unless a line defines `default`, the default user keeps every permission
//                   (the harness's own admin access: cleanup, ACL LOG, CONFIG GET) but gets a random password,
//                   so nothing is reachable without credentials. Adds { aclFile, admin: { username, password } }
//                   (admin is null when the lines define `default` themselves).

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const tls = require('node:tls');
const { createTestCertificates, OPENSSL_NOT_FOUND } = require('./tls-certificates');

const NOT_FOUND = 'redis-server not found: apt-get install redis-server';
const START_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 5000;
const PORT_ATTEMPTS = 3;

// Servers still running; killed if the test process exits without stop().
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * @param {{ tls?: boolean, aclUsers?: string[] }} [options]
 * @returns {Promise<{ port: number, url: string, pid: number, dir: string, stop: () => Promise<void>,
 *   caFile?: string, certFile?: string, keyFile?: string, aclFile?: string,
 *   admin?: { username: string, password: string } | null }>}
 */
async function startRedis({ tls: useTls = false, aclUsers = null } = {}) {
  if (aclUsers !== null && !(Array.isArray(aclUsers) && aclUsers.every((line) => /^user \S+/.test(line)))) {
    throw new Error('startRedis: aclUsers must be an array of ACL file lines ("user <name> <rules>")');
  }
  return withFreshPorts(async () => launch((await freePorts(1))[0], { useTls, aclUsers }));
}

/**
 * Runs `start` until it does not fail for a port taken between probing and binding (any error without
 * `retry: false`), at most PORT_ATTEMPTS times; each attempt probes new ports.
 */
async function withFreshPorts(start) {
  let lastError;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (err.retry === false) throw err;
      lastError = err;
    }
  }
  throw lastError;
}

const notRetried = (err) => Object.assign(err, { retry: false });

/** `count` distinct free loopback ports: all are held open at once while probing, so that they differ. */
async function freePorts(count) {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise((resolve, reject) => {
      const server = net.createServer();
      server.unref();
      server.on('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((server) => server.address().port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** Writes the ACL file; returns the admin credentials (the default user's), null if the lines define it. */
function writeAclFile(aclFile, aclUsers) {
  const lines = [...aclUsers];
  let admin = null;
  if (!aclUsers.some((line) => /^user default\s/.test(line))) {
    admin = { username: 'default', password: crypto.randomBytes(24).toString('hex') };
    lines.push(`user default on >${admin.password} ~* &* +@all`);
  }
  fs.writeFileSync(aclFile, `${lines.join('\n')}\n`, { mode: 0o600 });
  return admin;
}

async function launch(port, { useTls, aclUsers }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'test-redis-'));
  const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'];
  const info = {};
  try {
    if (useTls) {
      Object.assign(info, await createTestCertificates(dir));
      args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', info.certFile,
        '--tls-key-file', info.keyFile, '--tls-ca-cert-file', info.caFile, '--tls-auth-clients', 'no');
    } else {
      args.push('--port', String(port));
    }
    if (aclUsers) {
      info.aclFile = path.join(dir, 'users.acl');
      info.admin = writeAclFile(info.aclFile, aclUsers);
      args.push('--aclfile', info.aclFile);
    }
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err.message === OPENSSL_NOT_FOUND ? notRetried(err) : err;
  }
  const child = spawn('redis-server', args, { cwd: dir, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);

  let output = '';
  const collect = (chunk) => { output = (output + chunk).slice(-2000); };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const spawnFailed = new Promise((_, reject) => child.once('error', (err) => {
    running.delete(child);
    reject(err.code === 'ENOENT' ? notRetried(new Error(NOT_FOUND)) : err);
  }));
  exited.then(() => running.delete(child));

  let stopped = null;
  async function stop() {
    if (!stopped) {
      stopped = (async () => {
        if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
          await exited;
          clearTimeout(timer);
        }
        fs.rmSync(dir, { recursive: true, force: true });
      })();
    }
    return stopped;
  }

  const exitedEarly = exited.then((code) => {
    const err = new Error(`redis-server exited (code ${code}) before answering PING on port ${port}:\n${output.trim()}`);
    // Only a port taken meanwhile is worth another port; anything else (e.g. a rejected ACL file) fails again.
    throw /Address already in use/.test(output) ? err : notRetried(err);
  });
  // Only the race below cares about these; a later exit (after stop()) is expected.
  exitedEarly.catch(() => {});
  spawnFailed.catch(() => {});
  let waiting = true;
  try {
    const probe = { ca: info.caFile ? fs.readFileSync(info.caFile) : null, auth: info.admin ?? null };
    await Promise.race([waitForPing(port, probe, () => waiting), spawnFailed, exitedEarly]);
  } catch (err) {
    await stop();
    throw err;
  } finally {
    waiting = false;
  }
  return { port, url: `${useTls ? 'rediss' : 'redis'}://127.0.0.1:${port}`, pid: child.pid, dir, ...info, stop };
}

async function waitForPing(port, probe, stillWaiting) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && stillWaiting()) {
    // Up is up, even when the ACL file locks the prober out (a `default` user of the caller's own).
    if (/^(\+PONG|-NOAUTH|-NOPERM)/.test(await lastReply(port, probe))) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${START_TIMEOUT_MS} ms`);
}

/**
 * Resolves true if a Redis server on the port answers PING with +PONG.
 * @param {number} port
 * @param {{ ca?: Buffer|string|null, auth?: { username: string, password: string }|null }} [options]
 *   ca: connect with TLS, trusting this CA; auth: AUTH first
 */
async function ping(port, options = {}) {
  return (await lastReply(port, options)) === '+PONG';
}

const resp = (...words) => `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`;

// Sends [AUTH,] PING; resolves the last reply line (e.g. "+PONG", "-NOAUTH ..."), or null without one.
function lastReply(port, { ca = null, auth = null } = {}) {
  return new Promise((resolve) => {
    const socket = ca
      ? tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' })
      : net.connect(port, '127.0.0.1');
    const commands = (auth ? [resp('AUTH', auth.username, auth.password)] : []).concat(resp('PING'));
    let reply = '';
    const done = (line) => { socket.destroy(); resolve(line); };
    socket.setTimeout(1000, () => done(null));
    socket.on('error', () => done(null));
    socket.on('close', () => done(null));
    socket.on(ca ? 'secureConnect' : 'connect', () => socket.write(commands.join('')));
    socket.on('data', (chunk) => {
      reply += chunk;
      const lines = reply.split('\r\n');
      if (lines.length > commands.length) done(lines[commands.length - 1]);
    });
  });
}

module.exports = { startRedis, ping, freePorts, withFreshPorts };
