'use strict';
// A throw-away master with replicas on loopback (no sentinels: nothing fails over), for the tests and the bench case
// of sign-outs that wait for a replica (signOutReplicas). Each server is a redis-server on a free port, in one temp
// dir; a test may stop (SIGSTOP), continue (SIGCONT) or kill a replica.
//
//   const group = await start({ replicas: 1 });  // { master: { host, port }, replicas: [{ host, port }], ... }
//   group.signal(group.replicas[0].port, 'SIGSTOP');
//   await group.kill(group.replicas[0].port);     // SIGKILL, waits until it is gone
//   await group.stop();                           // every process, then the temp dir

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ping, freePorts, withFreshPorts } = require('./redis-server');
const { HOST, spawnRedisServer, processGroup, redisCli } = require('./redis-processes');

const START_TIMEOUT_MS = 15000;

/**
 * @param {{ replicas?: number }} [options]
 * @returns {Promise<{ master: { host: string, port: number }, replicas: Array<{ host: string, port: number }>,
 *   dir: string, signal: (port: number, name: string) => void, kill: (port: number) => Promise<void>,
 *   stop: () => Promise<void> }>}
 */
async function start({ replicas = 1 } = {}) {
  return withFreshPorts(async () => {
    const group = await launch(replicas);
    try {
      await group.ready;
      const { ready, ...started } = group;
      return started;
    } catch (err) {
      await group.stop();
      throw err;
    }
  });
}

async function launch(replicaCount) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'test-redis-replicated-'));
  const [masterPort, ...replicaPorts] = await freePorts(1 + replicaCount);
  const serverArgs = (port) => ['--port', String(port), '--bind', HOST, '--dir', path.join(dir, String(port)),
    '--save', '', '--appendonly', 'no', '--daemonize', 'no'];
  const children = [
    spawnRedisServer(dir, masterPort, serverArgs(masterPort)),
    ...replicaPorts.map((port) => spawnRedisServer(dir, port, [...serverArgs(port), '--replicaof', HOST, String(masterPort)])),
  ];
  const master = { host: HOST, port: masterPort };
  const replicas = replicaPorts.map((port) => ({ host: HOST, port }));
  const { ready, stop } = processGroup('replicated', dir, children, () => untilSynced(master, replicas));
  const child = (port) => {
    const found = children.find((c) => c.port === port);
    if (!found) throw new Error(`redis-replicated: no process of this group listens on port ${port}`);
    return found;
  };
  const signal = (port, name) => child(port).child.kill(name);
  const kill = async (port) => {
    const found = child(port);
    if (found.child.exitCode !== null || found.child.signalCode !== null) return;
    found.child.kill('SIGCONT'); // a stopped process dies of SIGKILL too, but say so
    found.child.kill('SIGKILL');
    await found.exited;
  };
  return { master, replicas, dir, ready, stop, signal, kill };
}

/** Waits until every replica's link to the master is up and the master counts them all. */
async function untilSynced(master, replicas) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  const cli = (port, args) => redisCli(['-h', HOST, '-p', String(port), ...args]);
  const synced = async () => {
    if (!(await Promise.all([master, ...replicas].map(({ port }) => ping(port)))).every(Boolean)) return false;
    for (const { port } of replicas) {
      if (!/^master_link_status:up\r?$/m.test(await cli(port, ['INFO', 'replication']))) return false;
    }
    return new RegExp(`^connected_slaves:${replicas.length}\\r?$`, 'm').test(await cli(master.port, ['INFO', 'replication']));
  };
  while (!(await synced().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`redis-replicated: the replicas did not sync within ${START_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

module.exports = { start };
