'use strict';
// A throw-away Redis Cluster on loopback: N masters (3 by default) and R replicas of each (0 by default), each a
// redis-server on free ports, in one temp dir; with replicas, a node is failed after nodeTimeoutMs (the failover
// tests: a master SIGKILLed, its replica promoted by the cluster itself).
//
//   const cluster = await start();   // { nodes: [{ host, port }, ...], dir, stop(), kill(port), signal(port, name) }
//   const redis = new Redis.Cluster(cluster.nodes);
//   ...
//   await cluster.kill(port);        // SIGKILL one node, waits until it is gone
//   cluster.signal(port, 'SIGSTOP'); // ... 'SIGCONT'
//   await cluster.stop();            // kills every node, removes the temp dir
//
// `nodes` lists the masters first, then the replicas (which master each replica has is for CLUSTER NODES to say).
//
// Needs redis-server and redis-cli 7 or later (--cluster-port, so that no bus port has to be port + 10000).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ping, freePorts, withFreshPorts } = require('./redis-server');
const { HOST, spawnRedisServer, processGroup, redisCli } = require('./redis-processes');

const START_TIMEOUT_MS = 20000;

/**
 * @param {{ masters?: number, replicas?: number, nodeTimeoutMs?: number }} [options] masters: at least 3 (redis-cli
 *   --cluster create refuses fewer); replicas: of each master; nodeTimeoutMs: cluster-node-timeout (how long until a
 *   dead master's replica takes over; Redis's default is 15 s)
 * @returns {Promise<{ nodes: Array<{ host: string, port: number }>, dir: string, stop: () => Promise<void>,
 *   kill: (port: number) => Promise<void> }>}
 */
async function start({ masters = 3, replicas = 0, nodeTimeoutMs = 15000 } = {}) {
  if (!Number.isSafeInteger(masters) || masters < 3) throw new Error('redis-cluster start: masters must be 3 or more');
  // A free port can be taken between probing and binding: each attempt probes new ones.
  return withFreshPorts(async () => {
    const cluster = await launch(masters, replicas, nodeTimeoutMs);
    try {
      await cluster.ready;
      return { nodes: cluster.nodes, dir: cluster.dir, stop: cluster.stop, kill: cluster.kill, signal: cluster.signal };
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  });
}

async function launch(masters, replicas, nodeTimeoutMs) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'test-redis-cluster-'));
  const count = masters * (1 + replicas);
  const ports = await freePorts(count * 2);
  const nodes = [];
  const children = [];
  for (let i = 0; i < count; i++) {
    const port = ports[i];
    const busPort = ports[count + i];
    nodes.push({ host: HOST, port });
    children.push(spawnNode(dir, port, busPort, nodeTimeoutMs));
  }

  const { ready, stop } = processGroup('cluster node', dir, children, () => createCluster(nodes, replicas));
  const child = (port) => {
    const found = children.find((c) => c.port === port);
    if (!found) throw new Error(`redis-cluster: no node of this cluster listens on port ${port}`);
    return found;
  };
  const kill = async (port) => {
    const found = child(port);
    if (found.child.exitCode !== null || found.child.signalCode !== null) return;
    found.child.kill('SIGKILL');
    await found.exited;
  };
  const signal = (port, name) => child(port).child.kill(name); // SIGSTOP, SIGCONT
  return { nodes, dir, ready, stop, kill, signal };
}

function spawnNode(dir, port, busPort, nodeTimeoutMs) {
  return spawnRedisServer(dir, port, [
    '--port', String(port), '--cluster-port', String(busPort), '--bind', HOST,
    '--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`),
    '--cluster-node-timeout', String(nodeTimeoutMs),
    '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no',
  ]);
}

/**
 * Waits for every node, joins them (redis-cli --cluster create: the first nodes become the masters), then waits until
 * every node says cluster_state:ok and, with replicas, every replica is in sync with its master.
 */
async function createCluster(nodes, replicas) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  const waitFor = async (what, check) => {
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`Redis Cluster: ${what} within ${START_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const everyNode = async (check) => (await Promise.all(nodes.map(check))).every(Boolean);
  await waitFor('not every node answered PING', () => everyNode(({ port }) => ping(port)));
  await redisCli(['--cluster', 'create', ...nodes.map(({ host, port }) => `${host}:${port}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { timeoutMs: START_TIMEOUT_MS });
  const stateOk = async ({ host, port }) =>
    /^cluster_state:ok\r?$/m.test(await redisCli(['-h', host, '-p', String(port), 'cluster', 'info']));
  await waitFor('cluster_state:ok not reached on every node', () => everyNode(stateOk));
  if (replicas === 0) return;
  // Every replica in sync, and every master counting its replicas online (a WAIT would wait for them otherwise).
  const synced = async ({ host, port }) => {
    const info = await redisCli(['-h', host, '-p', String(port), 'info', 'replication']);
    if (/^role:slave\r?$/m.test(info)) return /^master_link_status:up\r?$/m.test(info);
    return (info.match(/^slave\d+:.*state=online/mg) || []).length >= replicas;
  };
  await waitFor('the replicas did not sync', () => everyNode(synced));
}

module.exports = { start };
