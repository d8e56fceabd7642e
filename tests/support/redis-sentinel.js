'use strict';
// A throw-away Redis Sentinel group on loopback: one master, one replica (--replicaof) and three sentinels, each a
// redis-server on a free port, in one temp dir. The sentinels notice a dead master within about a second
// (down-after-milliseconds 1000) and promote the replica.
//
//   const group = await start();   // { name: 'mymaster', master, replica, sentinels: [{ host, port }, ...], dir, stop(), kill(port) }
//   const redis = new Redis({ sentinels: group.sentinels, name: group.name });
//   ...
//   await group.kill(group.master.port);   // SIGKILL one redis-server (a failover test), waits until it is gone
//   group.signal(group.replica.port, 'SIGSTOP');   // ... 'SIGCONT'
//   await group.stop();                    // kills every process, removes the temp dir
//
// master and replica are the roles at start; after a failover ask the sentinels (masterOf).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ping, freePorts, withFreshPorts } = require('./redis-server');
const { HOST, spawnRedisServer, processGroup, redisCli: runRedisCli } = require('./redis-processes');

const NAME = 'mymaster';
const SENTINELS = 3;
const QUORUM = 2;
const DOWN_AFTER_MS = 1000;
const FAILOVER_TIMEOUT_MS = 5000;
const START_TIMEOUT_MS = 20000; // sentinels find each other through hello messages sent every 2 s

/**
 * @returns {Promise<{ name: string, master: { host: string, port: number }, replica: { host: string, port: number },
 *   sentinels: Array<{ host: string, port: number }>, dir: string, stop: () => Promise<void>,
 *   kill: (port: number) => Promise<void> }>}
 */
async function start() {
  // A free port can be taken between probing and binding: each attempt probes new ones.
  return withFreshPorts(async () => {
    const group = await launch();
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

async function launch() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'test-redis-sentinel-'));
  const [masterPort, replicaPort, ...sentinelPorts] = await freePorts(2 + SENTINELS);
  const master = { host: HOST, port: masterPort };
  const replica = { host: HOST, port: replicaPort };
  const sentinels = sentinelPorts.map((port) => ({ host: HOST, port }));

  const serverArgs = (port) => ['--port', String(port), '--bind', HOST, '--dir', path.join(dir, String(port)),
    '--save', '', '--appendonly', 'no', '--daemonize', 'no'];
  const children = [
    spawnRedisServer(dir, masterPort, serverArgs(masterPort)),
    spawnRedisServer(dir, replicaPort, [...serverArgs(replicaPort), '--replicaof', HOST, String(masterPort)]),
    ...sentinelPorts.map((port) => spawnRedisServer(dir, port, [writeSentinelConf(dir, port, masterPort), '--sentinel'])),
  ];

  const { ready, stop } = processGroup('sentinel group', dir, children, () => untilAgreed(master, replica, sentinels));
  const kill = async (port) => {
    const found = children.find((child) => child.port === port);
    if (!found) throw new Error(`redis-sentinel: no process of this group listens on port ${port}`);
    if (found.child.exitCode !== null || found.child.signalCode !== null) return;
    found.child.kill('SIGKILL');
    await found.exited;
  };

  const signal = (port, name) => { // SIGSTOP, SIGCONT
    const found = children.find((child) => child.port === port);
    if (!found) throw new Error(`redis-sentinel: no process of this group listens on port ${port}`);
    found.child.kill(name);
  };
  return { name: NAME, master, replica, sentinels, dir, ready, stop, kill, signal };
}

/** A sentinel's config file: it must be writable (a sentinel rewrites it with what it learns). */
function writeSentinelConf(dir, port, masterPort) {
  const file = path.join(dir, `sentinel-${port}.conf`);
  fs.mkdirSync(path.join(dir, String(port)), { recursive: true });
  fs.writeFileSync(file, [
    `port ${port}`,
    `bind ${HOST}`,
    `dir ${path.join(dir, String(port))}`,
    `sentinel monitor ${NAME} ${HOST} ${masterPort} ${QUORUM}`,
    `sentinel down-after-milliseconds ${NAME} ${DOWN_AFTER_MS}`,
    `sentinel failover-timeout ${NAME} ${FAILOVER_TIMEOUT_MS}`,
    `sentinel parallel-syncs ${NAME} 1`,
    '',
  ].join('\n'));
  return file;
}

/**
 * Waits until the group is what the tests assume: the replica in sync with the master, and every sentinel naming
 * that master, knowing the replica and the two other sentinels (so that a failover can be agreed on at once).
 */
async function untilAgreed(master, replica, sentinels) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  const waitFor = async (what, check) => {
    // A process still starting may refuse a command: not yet, rather than a failure.
    while (!(await check().catch(() => false))) {
      if (Date.now() > deadline) throw new Error(`Redis Sentinel group: ${what} within ${START_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const all = [master, replica, ...sentinels];
  await waitFor('not every process answered PING', async () => (await Promise.all(all.map(({ port }) => ping(port)))).every(Boolean));
  await waitFor('the replica did not sync with the master', async () =>
    /^master_link_status:up\r?$/m.test(await redisCli(replica.port, ['INFO', 'replication'])));
  const agrees = async ({ port }) => {
    const state = fields(await redisCli(port, ['SENTINEL', 'MASTER', NAME]));
    return state.port === String(master.port) && state.flags === 'master' && state['num-slaves'] === '1'
      && state['num-other-sentinels'] === String(sentinels.length - 1);
  };
  await waitFor('the sentinels did not agree on the master, its replica and each other',
    async () => (await Promise.all(sentinels.map(agrees))).every(Boolean));
}

/** The master the sentinels name now ({ host, port }), as a client asks for it; null if none answers. */
async function masterOf(sentinels, name = NAME) {
  for (const { port } of sentinels) {
    try {
      const [host, masterPort] = (await redisCli(port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name])).trim().split('\n');
      if (host && masterPort) return { host, port: Number(masterPort) };
    } catch {
      // that sentinel is down: ask the next
    }
  }
  return null;
}

/** redis-cli's plain output of a flat list of field names and values, as an object. */
function fields(text) {
  const lines = text.trim().split('\n');
  const object = {};
  for (let i = 0; i + 1 < lines.length; i += 2) object[lines[i]] = lines[i + 1];
  return object;
}

/** redis-cli against the server or sentinel at `port`. */
const redisCli = (port, args) => runRedisCli(['-h', HOST, '-p', String(port), ...args]);

module.exports = { start, masterOf, NAME };
