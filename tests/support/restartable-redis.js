'use strict';
// A redis-server of one test file's own, that the test may kill, stop, freeze and start again on the same port
// without disturbing the other suites (which use the run's shared server, TEST_REDIS_URL). The first start is the
// ordinary startRedis() (examples/express/redis-server.js); a restart launches redis-server again on that port,
// with the data (same directory: the AOF when enableAof() ran, else an RDB written by SAVE) or empty.
//
//   const server = await startRestartableRedis();
//   await server.kill();                        // SIGKILL, waits until the process is gone
//   await server.start({ keepData: true });     // same port; resolves when it answers PING
//   server.signal('SIGSTOP'); ... server.signal('SIGCONT');
//   await server.stop();                        // at the end: kills it, removes its directories

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const Redis = require('./ioredis');
const { startRedis, ping } = require('./redis-server');

const START_TIMEOUT_MS = 10000;
const EXIT_TIMEOUT_MS = 5000;

// Restarted servers still running; killed if the test process exits without stop() (startRedis does the same for
// the first one).
const restarted = new Set();
process.on('exit', () => {
  for (const started of restarted) started.kill('SIGKILL');
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function isRunning(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function startRestartableRedis() {
  const first = await startRedis();
  const { port, url } = first;
  const dirs = [first.dir];
  let pid = first.pid;
  let child = null; // the process of the latest restart (null: still startRedis's)
  let childExited = null;
  let aof = false;

  async function waitGone() {
    const deadline = Date.now() + EXIT_TIMEOUT_MS;
    if (childExited) {
      let timer;
      await Promise.race([childExited, new Promise((resolve) => { timer = setTimeout(resolve, EXIT_TIMEOUT_MS); })]);
      clearTimeout(timer);
    } else {
      // startRedis's own child: Node reaps it (its 'exit' handler runs), then the pid is gone.
      while (isRunning(pid) && Date.now() < deadline) await sleep(10);
    }
    if (isRunning(pid)) throw new Error(`redis-server ${pid} did not exit`);
  }

  const server = {
    port,
    url,
    get pid() {
      return pid;
    },

    /** True while a redis-server process runs (stopped by SIGSTOP or not). */
    get running() {
      return isRunning(pid);
    },

    /** Sends a signal to the running redis-server (SIGSTOP, SIGCONT, ...). */
    signal(name) {
      process.kill(pid, name);
    },

    /** SIGKILL (SIGCONT first, in case it is stopped), then waits until the process is gone. */
    async kill() {
      if (!isRunning(pid)) return;
      process.kill(pid, 'SIGKILL');
      await waitGone();
    },

    /**
     * Keeps every write from now on across a SIGKILL: turns on the append-only file (fsync always) and waits for
     * its first rewrite; start({ keepData: true }) then loads it.
     */
    async enableAof() {
      const admin = new Redis(url, { maxRetriesPerRequest: 1 });
      try {
        await admin.config('SET', 'appendfsync', 'always');
        await admin.config('SET', 'appendonly', 'yes');
        const deadline = Date.now() + START_TIMEOUT_MS;
        for (;;) {
          const info = await admin.info('persistence');
          if (/aof_rewrite_in_progress:0/.test(info) && /aof_rewrite_scheduled:0/.test(info)) break;
          if (Date.now() > deadline) throw new Error('the AOF rewrite did not finish');
          await sleep(20);
        }
        aof = true;
      } finally {
        admin.disconnect();
      }
    },

    /**
     * Starts redis-server again on the same port (after kill()). keepData: in the same directory (its AOF, or an
     * RDB a SAVE wrote); else in a new, empty one. Resolves when it answers PING.
     */
    async start({ keepData = false } = {}) {
      if (isRunning(pid)) throw new Error('redis-server is still running: kill() it first');
      let dir = dirs[dirs.length - 1];
      if (!keepData) {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'test-redis-'));
        dirs.push(dir);
      }
      const args = ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--dir', dir, '--daemonize', 'no',
        '--appendonly', keepData && aof ? 'yes' : 'no', '--appendfsync', 'always'];
      if (!(keepData && aof)) aof = false;
      let output = '';
      child = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', (chunk) => { output = (output + chunk).slice(-2000); });
      child.stderr.on('data', (chunk) => { output = (output + chunk).slice(-2000); });
      const started = child;
      restarted.add(started);
      childExited = new Promise((resolve) => started.once('exit', resolve)).then(() => restarted.delete(started));
      pid = child.pid;
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (!(await ping(port))) {
        if (started.exitCode !== null || Date.now() > deadline) {
          throw new Error(`redis-server did not start again on port ${port}:\n${output.trim()}`);
        }
        await sleep(10);
      }
    },

    /** Kills whatever runs and removes every directory. */
    async stop() {
      if (isRunning(pid)) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // gone meanwhile
        }
        await server.kill();
      }
      await first.stop();
      for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

module.exports = { startRestartableRedis };
