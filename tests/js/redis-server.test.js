'use strict';

const fs = require('node:fs');
const Redis = require('../support/ioredis');
const { newRedis, masters, topology } = require('../support/redis-client');
const { startRedis, ping } = require('../support/redis-server');

function isRunning(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code !== 'ESRCH';
  }
}

describe('startRedis', () => {
  test('starts a server that stores data, and stop() really stops it', async () => {
    const server = await startRedis();
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    expect(fs.existsSync(server.dir)).toBe(true);

    const client = new Redis(server.url);
    await client.set('greeting', 'hello');
    expect(await client.get('greeting')).toBe('hello');
    await client.quit();

    await server.stop();
    expect(isRunning(server.pid)).toBe(false);
    expect(await ping(server.port)).toBe(false);
    expect(fs.existsSync(server.dir)).toBe(false);
    await server.stop(); // idempotent
  });

  test('two servers run side by side on different ports', async () => {
    const [a, b] = await Promise.all([startRedis(), startRedis()]);
    try {
      expect(a.port).not.toBe(b.port);
      const clientA = new Redis(a.url);
      const clientB = new Redis(b.url);
      await clientA.set('k', 'a');
      expect(await clientB.get('k')).toBeNull();
      await Promise.all([clientA.quit(), clientB.quit()]);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test('fails with a one-line hint when redis-server is not installed', async () => {
    const savedPath = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(startRedis()).rejects.toThrow('redis-server not found: apt-get install redis-server');
    } finally {
      process.env.PATH = savedPath;
    }
  });

  test('tls: a TLS-only server with a throw-away CA; clients must trust caFile', async () => {
    const server = await startRedis({ tls: true });
    try {
      expect(server.url).toBe(`rediss://127.0.0.1:${server.port}`);
      for (const file of [server.caFile, server.certFile, server.keyFile]) expect(file.startsWith(server.dir)).toBe(true);
      const ca = fs.readFileSync(server.caFile);
      expect(await ping(server.port)).toBe(false); // no plain text on the TLS port
      expect(await ping(server.port, { ca })).toBe(true);
      const client = new Redis(server.url, { tls: { ca } });
      await client.set('k', 'v');
      expect(await client.get('k')).toBe('v');
      expect(await client.config('GET', 'port')).toEqual(['port', '0']); // no plain-TCP listener
      await client.quit();
    } finally {
      await server.stop();
    }
    expect(fs.existsSync(server.dir)).toBe(false);
  });

  test('aclUsers: the users of an ACL file; the default user keeps admin rights behind a random password', async () => {
    const server = await startRedis({ aclUsers: ['user app on >app-password ~app:* resetchannels -@all +get +set +info'] });
    try {
      expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
      expect(server.admin).toEqual({ username: 'default', password: expect.stringMatching(/^[0-9a-f]{48}$/) });
      expect(fs.readFileSync(server.aclFile, 'utf8')).toContain('user app on >app-password');
      expect(await ping(server.port)).toBe(false); // NOAUTH: nothing without credentials
      expect(await ping(server.port, { auth: server.admin })).toBe(true);

      const app = new Redis(server.url, { username: 'app', password: 'app-password' });
      await app.set('app:k', 'v');
      await expect(app.get('other:k')).rejects.toThrow(/NOPERM/);
      await app.quit();
      const admin = new Redis(server.url, server.admin);
      expect(await admin.get('app:k')).toBe('v');
      await admin.quit();
    } finally {
      await server.stop();
    }
  });

  test('a rejected ACL line fails at once with redis-server\'s reason, not after port retries', async () => {
    await expect(startRedis({ aclUsers: ['user app on +nosuchcommand'] })).rejects.toThrow(/Error in applying operation '\+nosuchcommand'/);
    await expect(startRedis({ aclUsers: ['app on +get'] })).rejects.toThrow(/aclUsers must be an array of ACL file lines/);
  });

  // The suites that talk to Redis run on each topology (npm test; jest.config.js), with redis-client.js's clients.
  test(`jest globalSetup publishes the run's Redis (${topology}), and newRedis() connects to it`, async () => {
    const client = newRedis();
    try {
      expect(await client.ping()).toBe('PONG');
      // npm test's Valkey pass runs valkey-server under the name redis-server (TEST_REDIS_SERVER=valkey): it does.
      const serverName = /^server_name:(\w+)/m.exec(await client.info('server'));
      expect(serverName ? serverName[1] : 'redis').toBe(process.env.TEST_REDIS_SERVER || 'redis');
      if (topology === 'standalone') {
        expect(process.env.TEST_REDIS_URL).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
        expect(client.isCluster).toBeFalsy();
      } else if (topology === 'cluster') {
        expect(client.isCluster).toBe(true);
        const nodes = await masters(client);
        expect(nodes).toHaveLength(3);
        for (const node of nodes) expect(await node.cluster('INFO')).toMatch(/^cluster_state:ok\r?$/m);
      } else {
        // A Sentinel client is connected to the master the sentinels name, which has its replica.
        expect(client.options.sentinels).toHaveLength(3);
        expect((await client.role())[0]).toBe('master');
        expect(await client.info('replication')).toMatch(/^connected_slaves:1\r?$/m);
      }
    } finally {
      await client.quit();
    }
  });
});
