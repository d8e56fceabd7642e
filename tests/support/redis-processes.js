'use strict';
// The redis-server and redis-cli processes behind the Cluster and Sentinel launchers (redis-cluster.js,
// redis-sentinel.js): each server a child of the test process, killed if that process exits without stopping it.

const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { promisify } = require('node:util');

const HOST = '127.0.0.1';
const STOP_TIMEOUT_MS = 5000;

// Servers still running; killed if the test process exits without stopping them.
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * `redis-server <args>` in `dir` (its working directory, created per port), its last output kept for errors.
 * @returns {{ child: import('node:child_process').ChildProcess, exited: Promise<number|null>, port: number,
 *   output: () => string }}
 */
function spawnRedisServer(dir, port, args) {
  fs.mkdirSync(path.join(dir, String(port)), { recursive: true });
  const child = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const collect = (chunk) => { output = (output + chunk).slice(-2000); };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise((resolve) => {
    child.once('exit', resolve);
    child.once('error', (err) => {
      output += err.code === 'ENOENT' ? 'redis-server not found: apt-get install redis-server' : err.message;
      resolve(null);
    });
  });
  exited.then(() => running.delete(child));
  return { child, exited, port, output: () => output };
}

/** SIGTERM, then SIGKILL if it is still there after STOP_TIMEOUT_MS. */
async function stopRedisServer({ child, exited }) {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/**
 * The parts every launcher returns for its processes: `stop()` (every process, then the temp dir; once), and
 * `ready`, which is `untilReady()` unless a process exits first (then worth another attempt on new ports only when
 * its port was taken).
 */
function processGroup(label, dir, children, untilReady) {
  let stopped = null;
  const stop = () => {
    stopped ??= (async () => {
      await Promise.all(children.map(stopRedisServer));
      fs.rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  const exitedEarly = Promise.race(children.map(({ exited, output, port }) => exited.then((code) => {
    const err = new Error(`redis-server (${label}, port ${port}) exited (code ${code}):\n${output().trim()}`);
    if (!/Address already in use/.test(output())) err.retry = false;
    throw err;
  })));
  exitedEarly.catch(() => {});
  const ready = Promise.race([untilReady(), exitedEarly]);
  ready.catch(() => {});
  return { ready, stop };
}

/** `redis-cli <args>`'s output; a failure is an error a launcher retries on new ports (a missing redis-cli is not). */
async function redisCli(args, { timeoutMs = 5000 } = {}) {
  try {
    const { stdout } = await promisify(execFile)('redis-cli', args, { timeout: timeoutMs });
    return stdout;
  } catch (err) {
    const message = err.code === 'ENOENT'
      ? 'redis-cli not found: apt-get install redis-tools'
      : `redis-cli ${args.join(' ')} failed: ${err.stderr || err.message}`;
    throw Object.assign(new Error(message), { retry: err.code !== 'ENOENT' });
  }
}

module.exports = { HOST, spawnRedisServer, processGroup, redisCli };
