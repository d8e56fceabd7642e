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

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ping, freePorts, withFreshPorts } = require('./redis-server');
const { HOST, spawnRedisServer, processGroup, redisCli } = require('./redis-processes');

const START_TIMEOUT_MS = 15000;

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

  const { ready, stop } = processGroup('cluster node', dir, children, () => createCluster(nodes));
  return { nodes, dir, ready, stop };
}

function spawnNode(dir, port, busPort) {
  return spawnRedisServer(dir, port, [
    '--port', String(port), '--cluster-port', String(busPort), '--bind', HOST,
    '--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`),
    '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no',
  ]);
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
  await redisCli(['--cluster', 'create', ...nodes.map(({ host, port }) => `${host}:${port}`), '--cluster-replicas', '0', '--cluster-yes'], { timeoutMs: START_TIMEOUT_MS });
  const stateOk = async ({ host, port }) =>
    /^cluster_state:ok\r?$/m.test(await redisCli(['-h', host, '-p', String(port), 'cluster', 'info']));
  await waitFor('cluster_state:ok not reached on every node', () => everyNode(stateOk));
}

module.exports = { start };
