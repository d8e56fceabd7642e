'use strict';
// Starts a throw-away redis-server on a free loopback port: for the tests (tests/support/redis-server.js), and
// for the example's start command when no REDIS_URL is given.
//
//   const redis = await startRedis();   // { port, url, pid, dir, stop() }
//   ...
//   await redis.stop();                 // kills the server, removes its temp dir

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const NOT_FOUND = 'redis-server not found: apt-get install redis-server';
const START_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 5000;
const PORT_ATTEMPTS = 3;

// Servers still running; killed if the test process exits without stop().
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function startRedis({ tls = false } = {}) {
  if (tls) throw new Error('startRedis: tls is not supported yet');
  let lastError;
  // The free port can be taken between probing and binding: retry with a new one.
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    try {
      return await launch(await freePort());
    } catch (err) {
      if (err.message === NOT_FOUND) throw err;
      lastError = err;
    }
  }
  throw lastError;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function launch(port) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'test-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--daemonize', 'no'];
  const child = spawn('redis-server', args, { cwd: dir, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);

  let output = '';
  const collect = (chunk) => { output = (output + chunk).slice(-2000); };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const spawnFailed = new Promise((_, reject) => child.once('error', (err) => {
    running.delete(child);
    reject(err.code === 'ENOENT' ? new Error(NOT_FOUND) : err);
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
    throw new Error(`redis-server exited (code ${code}) before answering PING on port ${port}:\n${output.trim()}`);
  });
  // Only the race below cares about these; a later exit (after stop()) is expected.
  exitedEarly.catch(() => {});
  spawnFailed.catch(() => {});
  let waiting = true;
  try {
    await Promise.race([waitForPing(port, () => waiting), spawnFailed, exitedEarly]);
  } catch (err) {
    await stop();
    throw err;
  } finally {
    waiting = false;
  }
  return { port, url: `redis://127.0.0.1:${port}`, pid: child.pid, dir, stop };
}

async function waitForPing(port, stillWaiting) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && stillWaiting()) {
    if (await ping(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${START_TIMEOUT_MS} ms`);
}

// Resolves true if a Redis server on the port answers PING with +PONG.
function ping(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk;
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

module.exports = { startRedis, ping };
