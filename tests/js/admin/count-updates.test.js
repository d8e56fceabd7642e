'use strict';
// The count updates after writes (js/admin/count-updates.js): only noted by the write, sent coalesced every FLUSH_MS as
// one pipeline per count key, the last state of a member winning; settle() and settleAll() send at once. With a
// recording send; the counts a real Redis then holds are admin.test.js's (countPartitions) and memory-redis.test.js's.

const { CountUpdates, countCommands, FLUSH_MS } = require('../../../js/admin/count-updates');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function recorder() {
  const sent = [];
  const send = async (countKey, members) => {
    sent.push([countKey, Object.fromEntries(members)]);
  };
  return { sent, send };
}

test('notes of one window go as one send per count key; a member\'s last state wins', async () => {
  const { sent, send } = recorder();
  const updates = new CountUpdates(send);
  updates.note('c:session', 'session:a', { score: 100, ttl: 10 });
  updates.note('c:session', 'session:b', { score: 101, ttl: 10 });
  updates.note('c:session', 'session:a', null); // signed out after its write
  updates.note('c:app', 'app:x', { score: 102, ttl: 20 });
  updates.note('c:session', 'session:b', { score: 105, ttl: 10 });
  expect(sent).toEqual([]); // nothing in the writer's turn
  await sleep(FLUSH_MS + 100);
  expect(sent.sort()).toEqual([
    ['c:app', { 'app:x': { score: 102, ttl: 20 } }],
    ['c:session', { 'session:a': null, 'session:b': { score: 105, ttl: 10 } }],
  ]);
});

test('settle() and settleAll() send what is noted at once, and wait for it', async () => {
  const a = recorder();
  const b = recorder();
  const first = new CountUpdates(a.send);
  const second = new CountUpdates(b.send);
  first.note('c:session', 'session:a', { score: 100, ttl: 10 });
  await first.settle();
  expect(a.sent).toHaveLength(1);
  first.note('c:session', 'session:b', { score: 100, ttl: 10 });
  second.note('c:account', 'account:x', null);
  await CountUpdates.settleAll(); // countPartitions: every cache of the process
  expect([a.sent.length, b.sent.length]).toEqual([2, 1]);
  await sleep(FLUSH_MS + 50);
  expect([a.sent.length, b.sent.length]).toEqual([2, 1]); // nothing sent twice
});

test('a failed send is not retried and does not reject settle()', async () => {
  let calls = 0;
  const updates = new CountUpdates(async () => {
    calls += 1;
    throw new Error('Redis is down');
  });
  updates.note('c:session', 'session:a', { score: 100, ttl: 10 });
  await expect(updates.settle()).resolves.toBeUndefined();
  await updates.settle();
  expect(calls).toBe(1);
});

test('a burst of writes goes in a few sends, never one per write, and none over the cap', async () => {
  const { sent, send } = recorder();
  const updates = new CountUpdates(send);
  for (let i = 0; i < 2500; i += 1) updates.note('c:session', `session:${i}`, { score: 100, ttl: 10 });
  await updates.settle();
  expect(sent.length).toBe(3); // 1000, 1000 and the rest
  expect(sent.map(([, members]) => Object.keys(members).length)).toEqual([1000, 1000, 500]);
});

test('countCommands: the stored members\' scores, the removed, the expired pruned, the key\'s TTL its latest member\'s', () => {
  const members = new Map([['s1', { score: 1100, ttl: 100 }], ['s2', null], ['s3', { score: 1300, ttl: 300 }]]);
  expect(countCommands('c', members, 1000)).toEqual([
    ['ZADD', 'c', 1100, 's1', 1300, 's3'],
    ['ZREM', 'c', 's2'],
    ['ZREMRANGEBYSCORE', 'c', '-inf', '(1000'],
    ['EXPIRE', 'c', 300, 'NX'],
    ['EXPIRE', 'c', 300, 'GT'],
  ]);
  expect(countCommands('c', new Map([['s2', null]]), 1000)).toEqual([
    ['ZREM', 'c', 's2'],
    ['ZREMRANGEBYSCORE', 'c', '-inf', '(1000'],
  ]);
});
