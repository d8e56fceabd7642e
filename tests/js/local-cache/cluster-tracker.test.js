'use strict';
// cluster-tracker.js against a fake Cluster driver (no Redis): the in-process cache serves hits only while every master
// of the client's view tracks and says it is a master, and any change drops every entry. The same rules on a real
// Cluster, with failovers and a slot migration: local-cache.cluster.test.js.

const { LocalCache } = require('../../../js/local-cache/local-cache');
const { ClusterTracker } = require('../../../js/local-cache/cluster-tracker');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A Cluster driver whose masters, roles and connections the test sets. */
function fakeDriver(masters) {
  const driver = {
    view: { version: masters.join(','), masters, covered: true },
    roles: Object.fromEntries(masters.map((id) => [id, 'master'])),
    connections: new Map(), // id -> the handlers of its latest tracking connection
    refreshes: 0,
    clusterView: () => driver.view,
    onTopologyChange: () => () => {},
    nodeRole: async (id) => driver.roles[id] ?? null,
    refreshTopology: () => { driver.refreshes += 1; },
    trackingConnection(handlers, id) {
      driver.connections.set(id, handlers);
      return {
        connect: async () => { setImmediate(() => handlers.ready()); },
        command: async (...args) => (args[0] === 'INFO' ? `role:${driver.roles[id]}\r\n` : args[0] === 'CLIENT' && args[1] === 'ID' ? 7 : 'OK'),
        subscribe: async () => {},
        disconnect: () => { handlers.close(); handlers.end(); },
      };
    },
    setMasters(ids) {
      driver.view = { version: ids.join(','), masters: ids, covered: ids.length > 0 };
      for (const id of ids) driver.roles[id] ??= 'master';
    },
  };
  return driver;
}

function setup(masters = ['a:1', 'b:2', 'c:3']) {
  const cache = new LocalCache({ maxBytes: 1e6, maxEntries: 100, staleIfErrorSeconds: 60, clock: Date.now });
  const driver = fakeDriver(masters);
  const tracker = new ClusterTracker(driver, { prefix: 'p:', localCache: cache, logger: { warn: () => {} } });
  return { cache, driver, tracker };
}

/** Stores `key` through a read, as loadPartition does; true when it was kept. */
function read(cache, key) {
  const flight = cache.beginRead(key);
  cache.endRead(flight, { body: 'x', etag: 'e' }, 60000);
  return cache.get(key) !== undefined;
}

async function until(check, ms = 2000) {
  for (let waited = 0; !check(); waited += 5) {
    if (waited > ms) throw new Error('not reached');
    await sleep(5);
  }
}

test('nothing is served until every master tracks; one master\'s listener down: nothing is served, and every entry goes', async () => {
  const { cache, driver, tracker } = setup();
  expect(read(cache, 'p:session:{1}')).toBe(false); // not started
  tracker.start();
  await until(() => cache.coherent);
  expect([...driver.connections.keys()].sort()).toEqual(['a:1', 'b:2', 'c:3']);
  expect(read(cache, 'p:session:{1}')).toBe(true);
  expect(read(cache, 'p:session:{2}')).toBe(true);

  // b's connection drops: no hit for any key, whichever master holds it.
  driver.connections.get('b:2').close();
  expect(cache.coherent).toBe(false);
  expect(cache.get('p:session:{1}')).toBeUndefined();
  expect(cache.get('p:session:{2}')).toBeUndefined();
  expect(read(cache, 'p:session:{3}')).toBe(false);
  driver.connections.get('b:2').end(); // the listener reconnects after 100 ms
  await until(() => cache.coherent);
  expect(cache.entries.size).toBe(0); // dropped on resume: they may have missed an invalidation
  expect(read(cache, 'p:session:{1}')).toBe(true);
  await tracker.close();
});

test('a new master in the client\'s view: suspended at the next lookup, a listener opened for it, entries dropped', async () => {
  const { cache, driver, tracker } = setup();
  tracker.start();
  await until(() => cache.coherent);
  expect(read(cache, 'p:session:{1}')).toBe(true);
  // A read in flight when the view changes (a MOVED to a node the client just learnt of) is not kept.
  const flight = cache.beginRead('p:session:{2}');
  driver.setMasters(['a:1', 'b:2', 'c:3', 'd:4']);
  cache.endRead(flight, { body: 'y', etag: 'e' }, 60000);
  expect(cache.get('p:session:{2}')).toBeUndefined();
  expect(cache.get('p:session:{1}')).toBeUndefined();
  expect(cache.coherent).toBe(false);
  await until(() => cache.coherent);
  expect(driver.connections.has('d:4')).toBe(true);
  expect(cache.entries.size).toBe(0);
  // A master gone from the view: its listener is closed, the others stay.
  driver.setMasters(['a:1', 'c:3', 'd:4']);
  expect(read(cache, 'p:session:{1}')).toBe(false); // the store checks the view too (a lookup of no entry need not)
  expect(cache.coherent).toBe(false);
  await until(() => cache.coherent);
  expect(driver.connections.get('b:2')).toBeDefined(); // its last connection, closed
  expect(read(cache, 'p:session:{1}')).toBe(true);
  await tracker.close();
});

test('a tracked node that says it is no longer a master (a manual failover): suspended, the client asked to re-read the slots, back once the view is right', async () => {
  const { cache, driver, tracker } = setup();
  tracker.start();
  await until(() => cache.coherent);
  expect(read(cache, 'p:session:{1}')).toBe(true);
  driver.roles['b:2'] = 'slave'; // its connections stay open; it reports writes only as it replicates them
  await until(() => !cache.coherent, 3000); // the next role check (every second)
  expect(cache.get('p:session:{1}')).toBeUndefined();
  expect(driver.refreshes).toBeGreaterThanOrEqual(1);
  await sleep(300);
  expect(cache.coherent).toBe(false); // the client's view still names b as a master: still suspended
  driver.setMasters(['a:1', 'c:3', 'e:5']); // the client re-read the slots: e was promoted
  await until(() => cache.coherent, 3000);
  expect(cache.entries.size).toBe(0);
  await tracker.close();
});

test('a listener that finds its node is not a master does not track there (requireMaster)', async () => {
  const { cache, driver, tracker } = setup();
  driver.roles['c:3'] = 'slave';
  tracker.start();
  await sleep(300);
  expect(cache.coherent).toBe(false);
  driver.roles['c:3'] = 'master';
  await until(() => cache.coherent, 4000);
  await tracker.close();
});

test('a node that does not answer its role question: suspended, and not asked again until it answers (no pile-up)', async () => {
  const { cache, driver, tracker } = setup();
  tracker.start();
  await until(() => cache.coherent);
  let asked = 0;
  let answer;
  const nodeRole = driver.nodeRole;
  driver.nodeRole = (id) => {
    if (id !== 'b:2') return nodeRole(id);
    asked += 1;
    return new Promise((resolve) => { answer = resolve; });
  };
  await until(() => !cache.coherent, 3000); // the check after the next one times out (1 s)
  await sleep(1500);
  expect(asked).toBe(1);
  driver.nodeRole = nodeRole;
  answer('master');
  await until(() => cache.coherent, 3000);
  await tracker.close();
});

test('a client that has not read the slot map yet (no masters, or slots without an owner): nothing is served', async () => {
  const { cache, driver, tracker } = setup([]);
  tracker.start();
  await sleep(300); // a role check ran: nothing to ask
  expect(cache.coherent).toBe(false);
  expect(read(cache, 'p:session:{1}')).toBe(false);
  driver.setMasters(['a:1', 'b:2']);
  driver.view.covered = false; // some slots have no owner yet
  expect(read(cache, 'p:session:{1}')).toBe(false);
  await sleep(300);
  expect(cache.coherent).toBe(false);
  driver.view = { ...driver.view, version: 'a:1,b:2|all', covered: true };
  expect(read(cache, 'p:session:{1}')).toBe(false); // the view changed: followed
  await until(() => cache.coherent, 3000);
  expect(read(cache, 'p:session:{1}')).toBe(true);
  await tracker.close();
});

test('an ioredis Cluster whose reads may go to replicas (scaleReads): partition reads go in a transaction (to the master), and the in-process cache stays', async () => {
  // eslint-disable-next-line global-require
  const Redis = require('../../support/ioredis');
  const { RedisTokenCache } = require('../../../js'); // eslint-disable-line global-require
  const { driverFor } = require('../../../js/redis/driver'); // eslint-disable-line global-require
  const secrets = { encryptionKeys: [Buffer.alloc(32, 1).toString('base64')], keyNameSecret: Buffer.alloc(32, 2).toString('base64') };
  for (const [scaleReads, batch] of [[undefined, 'pipeline'], ['master', 'pipeline'], ['slave', 'multi'], ['all', 'multi']]) {
    const redis = new Redis.Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true, ...(scaleReads ? { scaleReads } : {}) });
    const cache = new RedisTokenCache({ redis, prefix: `scale-${scaleReads}:`, ...secrets });
    expect(cache.stats().localCache).not.toBeNull();
    // Which batch the read is sent in (a unit check of the driver: no Redis behind this client).
    const used = [];
    for (const name of ['multi', 'pipeline']) {
      redis[name] = () => {
        used.push(name);
        const batchOf = { getrangeBuffer: () => batchOf, pttl: () => batchOf, exec: async () => [[null, Buffer.alloc(0)], [null, -2]] };
        return batchOf;
      };
    }
    expect(await driverFor(redis).getRangeAndPttl('scale:key', 10)).toEqual([Buffer.alloc(0), -2]);
    expect({ scaleReads, used }).toEqual({ scaleReads, used: [batch] });
    await cache.close();
    redis.disconnect();
  }
});
