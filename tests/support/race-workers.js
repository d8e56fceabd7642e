'use strict';
// The parent side of race-worker.js: starts long-lived child processes ("servers") and calls operations in them.
//
//   const workers = await startRaceWorkers(8, { idpUrl: shared.url, msalAuth: shared.msalAuth(), secrets });
//   const { ok, result, error, warnings } = await workers[0].call('silent', { prefix, sessionId, account, scopes });
//   await stopRaceWorkers(workers);
//
// Tests of the in-process cache and of Redis faults also pass redisUrl (a redis-server of their own, which they may
// kill and restart) or redisEnv (the variables of redis-client.js for a Redis of another topology, e.g. a Sentinel
// group of their own), redisOptions (the children's ioredis options) and monitorProblems (see race-worker.js).

const { fork } = require('node:child_process');
const path = require('node:path');

const WORKER_SCRIPT = path.join(__dirname, 'race-worker.js');
const START_TIMEOUT_MS = 20000;
const CALL_TIMEOUT_MS = 20000;

class RaceWorker {
  constructor(child, index) {
    this.child = child;
    this.index = index;
    this.nextId = 1;
    this.pending = new Map(); // id -> { resolve, timer }
    child.on('message', (message) => {
      const entry = this.pending.get(message.id);
      if (!entry) return;
      this.pending.delete(message.id);
      clearTimeout(entry.timer);
      entry.resolve(message);
    });
    child.on('exit', (code, signal) => {
      for (const [id, entry] of this.pending) {
        clearTimeout(entry.timer);
        entry.resolve({ id, ok: false, error: { name: 'WorkerExit', message: `worker ${index} exited (${code ?? signal})` }, warnings: [] });
      }
      this.pending.clear();
    });
  }

  /**
   * Runs an operation in the child. Never rejects for the operation's own failure: resolves { ok: false, error },
   * so a trial can count failures instead of aborting. Rejects only if the child does not answer in time.
   */
  call(op, args, { timeoutMs = CALL_TIMEOUT_MS } = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`race worker ${this.index}: no answer to "${op}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, timer });
      this.child.send({ id, op, args });
    });
  }

  /** True while the child process runs. */
  get alive() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.disconnect(); // the worker exits on disconnect
    });
  }
}

/**
 * @param {number} count
 * @param {object} options
 * @param {string} options.idpUrl the shared identity provider
 * @param {object} options.msalAuth msal's `auth` section (JSON-able)
 * @param {{ encryptionKey: string, keyNameSecret: string }} options.secrets the app's secrets, same for all
 * @param {string} [options.redisUrl] a standalone Redis for the children; default the run's shared one, whatever
 *   its topology (redis-client.js)
 * @param {object} [options.redisEnv] redis-client.js's variables for the children (TEST_REDIS_TOPOLOGY, ...): a Redis
 *   of the test's own, of any topology
 * @param {object} [options.redisOptions] the children's ioredis options (JSON-able); default
 *   { maxRetriesPerRequest: 2 }. "{index}" in connectionName becomes each child's index.
 * @param {boolean} [options.monitorProblems] children record unhandled rejections, uncaught exceptions,
 *   console.error lines and process warnings (the `problems` operation) instead of crashing on them
 * @returns {Promise<RaceWorker[]>}
 */
async function startRaceWorkers(count, { idpUrl, msalAuth, secrets, redisUrl, redisEnv, redisOptions, monitorProblems = false }) {
  const env = {
    ...process.env,
    ...redisEnv,
    TEST_ENCRYPTION_KEY: secrets.encryptionKey,
    TEST_KEY_NAME_SECRET: secrets.keyNameSecret,
    RACE_IDP_URL: idpUrl,
    RACE_MSAL_AUTH: JSON.stringify(msalAuth),
  };
  if (redisUrl) env.RACE_REDIS_URL = redisUrl;
  if (redisOptions) env.RACE_REDIS_OPTIONS = JSON.stringify(redisOptions);
  if (monitorProblems) env.RACE_MONITOR_PROBLEMS = '1';
  const started = Array.from({ length: count }, (_, index) => {
    // 'advanced' serialization (structured clone) keeps msal's AccountInfo intact, Map of tenant profiles included.
    const child = fork(WORKER_SCRIPT, [], {
      env: { ...env, RACE_WORKER_INDEX: String(index) },
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`race worker ${index} did not start within ${START_TIMEOUT_MS} ms`));
      }, START_TIMEOUT_MS);
      child.once('message', (message) => {
        clearTimeout(timer);
        if (message.ready) resolve(new RaceWorker(child, index));
        else reject(new Error(`race worker ${index} could not start: ${message.error}`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`race worker ${index} exited during start (code ${code})`));
      });
    });
  });
  const results = await Promise.allSettled(started);
  const workers = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    await stopRaceWorkers(workers);
    throw failed.reason;
  }
  return workers;
}

async function stopRaceWorkers(workers) {
  await Promise.all((workers || []).map((worker) => worker.stop()));
}

/** Runs an operation in a worker; resolves its result, or throws with its error when it failed. */
async function callWorker(worker, op, args, options) {
  const reply = await worker.call(op, args, options);
  if (!reply.ok) throw new Error(`${op} on worker ${worker.index} failed: ${reply.error.name}: ${reply.error.message}`);
  return reply.result;
}

module.exports = { startRaceWorkers, stopRaceWorkers, callWorker, RaceWorker };
