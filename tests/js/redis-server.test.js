'use strict';

const fs = require('node:fs');
const Redis = require('ioredis');
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

  test('jest globalSetup publishes a running server in TEST_REDIS_URL', async () => {
    expect(process.env.TEST_REDIS_URL).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    const client = new Redis(process.env.TEST_REDIS_URL);
    expect(await client.ping()).toBe('PONG');
    await client.quit();
  });
});
