'use strict';
// A throw-away Redis Cluster on loopback: N masters (3 by default, no replicas), each a redis-server on free ports,
// in one temp dir.
//
//   const cluster = await start();   // { nodes: [{ host, port }, ...], dir, stop() }
//   const redis = new Redis.Cluster(cluster.nodes);
//   ...
//   await cluster.stop();            // kills every node, removes the temp dir
//
// Needs redis-server and redis-cli 7 or later (--cluster-port, so that no bus port has to be port + 10000).

const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { promisify } = require('node:util');
const { ping, freePorts, withFreshPorts } = require('./redis-server');

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 5000;

// Nodes still running; killed if the test process exits without stop().
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * @param {{ masters?: number }} [options] masters: at least 3 (redis-cli --cluster create refuses fewer)
 * @returns {Promise<{ nodes: Array<{ host: string, port: number }>, dir: string, stop: () => Promise<void> }>}
 */
async function start({ masters = 3 } = {}) {
  if (!Number.isSafeInteger(masters) || masters < 3) throw new Error('redis-cluster start: masters must be 3 or more');
  // A free port can be taken between probing and binding: each attempt probes new ones.
  return withFreshPorts(async () => {
    const cluster = await launch(masters);
    try {
      await cluster.ready;
      return { nodes: cluster.nodes, dir: cluster.dir, stop: cluster.stop };
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  });
}

async function launch(masters) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'test-redis-cluster-'));
  const ports = await freePorts(masters * 2);
  const nodes = [];
  const children = [];
  for (let i = 0; i < masters; i++) {
    const port = ports[i];
    const busPort = ports[masters + i];
    nodes.push({ host: HOST, port });
    children.push(spawnNode(dir, port, busPort));
  }

  let stopped = null;
  const stop = () => {
    stopped ??= (async () => {
      await Promise.all(children.map(({ child, exited }) => stopChild(child, exited)));
      fs.rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  const ready = (async () => {
    const exitedEarly = Promise.race(children.map(({ exited, output, port }) => exited.then((code) => {
      const err = new Error(`redis-server (cluster node, port ${port}) exited (code ${code}):\n${output().trim()}`);
      if (!/Address already in use/.test(output())) err.retry = false;
      throw err;
    })));
    exitedEarly.catch(() => {});
    await Promise.race([createCluster(nodes), exitedEarly]);
  })();
  ready.catch(() => {});
  return { nodes, dir, ready, stop };
}

function spawnNode(dir, port, busPort) {
  const args = [
    '--port', String(port), '--cluster-port', String(busPort), '--bind', HOST,
    '--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`),
    '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no',
  ];
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

async function stopChild(child, exited) {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** Waits for every node, joins them (redis-cli --cluster create), then waits until every node says cluster_state:ok. */
async function createCluster(nodes) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  const waitFor = async (what, check) => {
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`Redis Cluster: ${what} within ${START_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const everyNode = async (check) => (await Promise.all(nodes.map(check))).every(Boolean);
  await waitFor('not every node answered PING', () => everyNode(({ port }) => ping(port)));
  await redisCli(['--cluster', 'create', ...nodes.map(({ host, port }) => `${host}:${port}`), '--cluster-replicas', '0', '--cluster-yes']);
  const stateOk = async ({ host, port }) =>
    /^cluster_state:ok\r?$/m.test(await redisCli(['-h', host, '-p', String(port), 'cluster', 'info']));
  await waitFor('cluster_state:ok not reached on every node', () => everyNode(stateOk));
}

async function redisCli(args) {
  try {
    const { stdout } = await promisify(execFile)('redis-cli', args, { timeout: START_TIMEOUT_MS });
    return stdout;
  } catch (err) {
    const message = err.code === 'ENOENT'
      ? 'redis-cli not found: apt-get install redis-tools'
      : `redis-cli ${args.join(' ')} failed: ${err.stderr || err.message}`;
    throw Object.assign(new Error(message), { retry: false });
  }
}

module.exports = { start };
