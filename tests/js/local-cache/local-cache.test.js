'use strict';
// The in-process cache (L1, js/local-cache/local-cache.js) keeps its bounds and its rules:
//   - never more than maxEntries entries or maxBytes bytes (as it counts them), the least recently used going first;
//   - no entry outlives the Redis TTL it was read with, even when Redis's invalidation never comes;
//   - a read overtaken by an invalidation (or a flush, or a loss of coherence) is not cached;
//   - nothing is served as a hit while the invalidation connection is down.
// First LocalCache alone, with a fake clock (every interleaving chosen by the test), then through RedisTokenCache on
// the run's real Redis (tests/support/redis-client.js: standalone or Sentinel; on a Cluster there is no L1, and the
// last test checks just that).

const crypto = require('node:crypto');
const { newRedis, hasLocalCache, topology } = require('../../support/redis-client');
const { LocalCache } = require('../../../js/local-cache/local-cache');
const { RedisTokenCache } = require('../../../js');
const { CacheStoreError } = require('../../../js/errors');
const { loadPartition } = require('../../../js/storage/partition-reader');
const { resolvePartition } = require('../../../js/msal/partitions');
const { createFakeIdentityProvider, DEFAULT_TENANT_ID } = require('../../support/fake-identity-provider');
const { testSecrets } = require('../../support/test-secrets');
const { testKeyring } = require('../../support/stored');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- LocalCache alone, fake clock ------------------------------------------------------------------------------

// As js/local-cache/local-cache.js counts an entry: this + key length + twice the body length (the JSON and msal's parsed form).
const ENTRY_OVERHEAD_BYTES = 256;

function fakeClock(start = 1_000_000) {
  const clock = () => clock.now;
  clock.now = start;
  clock.advance = (ms) => { clock.now += ms; };
  return clock;
}

function newCache({ start = true, ...options } = {}) {
  const clock = fakeClock();
  const cache = new LocalCache({ maxBytes: 1 << 20, maxEntries: 100, staleIfErrorSeconds: 300, clock, ...options });
  if (start) cache.resume(); // the invalidation connection tracks
  return { cache, clock };
}

const loaded = (body, etag = crypto.randomBytes(4).toString('hex')) => ({ etag, body, removed: false });
const sizeOf = (key, body) => ENTRY_OVERHEAD_BYTES + key.length + (body ? 2 * body.length : 0);

/** A complete read of `key` from "Redis": begin, then end with `value` and `ttlMs`. */
function read(cache, key, value, ttlMs = 60000) {
  const flight = cache.beginRead(key);
  cache.endRead(flight, value, ttlMs);
}

/** Keys the cache holds, least recently used first. */
const keysOf = (cache) => [...cache.entries.keys()];

describe('LocalCache bounds', () => {
  test('never holds more than maxEntries; the least recently used goes first', () => {
    const { cache } = newCache({ maxEntries: 3 });
    for (const key of ['a', 'b', 'c']) read(cache, key, loaded(`body of ${key}`));
    expect(keysOf(cache)).toEqual(['a', 'b', 'c']);
    expect(cache.get('a')).toBeDefined(); // a is now the most recently used
    read(cache, 'd', loaded('body of d'));
    expect(keysOf(cache)).toEqual(['c', 'a', 'd']); // b went
    expect(cache.get('b')).toBeUndefined();
    read(cache, 'e', loaded('body of e'));
    expect(keysOf(cache)).toEqual(['a', 'd', 'e']); // then c
    expect(cache.stats.evictions).toBe(2);
  });

  test('never holds more than maxBytes; an entry larger than maxBytes alone is not kept and evicts nothing', () => {
    const body = 'x'.repeat(1000);
    const entry = sizeOf('k0', body);
    const { cache } = newCache({ maxBytes: Math.floor(entry * 2.5), maxEntries: 100 });
    for (let i = 0; i < 6; i += 1) {
      read(cache, `k${i}`, loaded(body));
      expect(cache.bytes).toBeLessThanOrEqual(cache.maxBytes);
      expect(cache.entries.size).toBeLessThanOrEqual(2);
    }
    expect(keysOf(cache)).toEqual(['k4', 'k5']);
    read(cache, 'huge', loaded('y'.repeat(cache.maxBytes)));
    expect(cache.get('huge')).toBeUndefined();
    expect(keysOf(cache)).toEqual(['k4', 'k5']);
    expect(cache.bytes).toBe(2 * entry);
  });

  test('random reads, invalidations and clock steps: the bounds, the byte count and LRU order always hold (model check)', () => {
    // A seeded random walk against a plain model of an LRU with TTLs; 20,000 steps.
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const maxEntries = 8;
    const maxBytes = 8 * sizeOf('key-00', 'x'.repeat(400));
    const { cache, clock } = newCache({ maxEntries, maxBytes });
    // key -> { bytes, expiresAt }, insertion order = LRU order. Like the cache, it keeps an expired entry (never
    // served) until it is replaced, invalidated or evicted.
    const model = new Map();
    let hits = 0;
    for (let step = 0; step < 20000; step += 1) {
      const key = `key-${String(Math.floor(random() * 20)).padStart(2, '0')}`;
      const action = random();
      if (action < 0.7) {
        const got = cache.get(key);
        const expected = model.get(key);
        const live = Boolean(expected && expected.expiresAt > clock.now);
        expect(Boolean(got)).toBe(live);
        if (live) {
          hits += 1;
          model.delete(key);
          model.set(key, expected);
        } else {
          const body = 'x'.repeat(Math.floor(random() * 1200));
          const ttlMs = 1 + Math.floor(random() * 5000);
          read(cache, key, loaded(body), ttlMs);
          const bytes = sizeOf(key, body);
          if (bytes <= maxBytes) {
            model.delete(key);
            model.set(key, { bytes, expiresAt: clock.now + ttlMs });
            let total = [...model.values()].reduce((sum, e) => sum + e.bytes, 0);
            for (const [oldest, e] of model) {
              if (total <= maxBytes && model.size <= maxEntries) break;
              model.delete(oldest);
              total -= e.bytes;
            }
          }
        }
      } else if (action < 0.85) {
        cache.invalidate(key);
        model.delete(key);
      } else {
        clock.advance(Math.floor(random() * 300));
      }
      // (Plain comparisons first: expect() on every one of the steps would dominate the test's time.)
      const state = {
        entries: cache.entries.size,
        bytes: cache.bytes,
        counted: [...cache.entries.values()].reduce((sum, e) => sum + e.bytes, 0),
        order: keysOf(cache).join(),
      };
      if (state.entries > maxEntries || state.bytes > maxBytes || state.counted !== state.bytes
        || state.order !== [...model.keys()].join()) {
        expect({ step, ...state }).toEqual({ step, entries: model.size, bytes: state.counted, counted: state.counted, order: [...model.keys()].join() });
      }
      // No entry is ever served past its expiry: checked by the get() above against the model's expiresAt.
    }
    expect(hits).toBeGreaterThan(1000); // the walk did exercise hits
  });
});

describe('LocalCache expiry', () => {
  test('an entry is served until the TTL it was read with, and not from that moment on (a hit or a stale copy)', () => {
    const { cache, clock } = newCache();
    read(cache, 'k', loaded('v'), 1000);
    clock.advance(999);
    expect(cache.get('k')).toBeDefined();
    clock.advance(1);
    expect(cache.get('k')).toBeUndefined();
    expect(cache.getStale('k')).toBeUndefined();
  });

  test("an entry is never served past the notAfter sealed into its value, whatever TTL Redis gave (PERSIST)", () => {
    const { cache, clock } = newCache();
    const notAfter = Math.floor(clock.now / 1000) + 10; // 10 s from now, in epoch seconds
    read(cache, 'k', { ...loaded('v'), notAfter }, 3_600_000);
    clock.now = notAfter * 1000 - 1;
    expect(cache.get('k')).toBeDefined();
    clock.now = notAfter * 1000;
    expect(cache.get('k')).toBeUndefined();
    expect(cache.getStale('k')).toBeUndefined();
  });

  test('a read that never got a TTL (a key without expiry, or gone: ttl <= 0) is not cached', () => {
    const { cache } = newCache();
    read(cache, 'no-ttl', loaded('v'), -1);
    read(cache, 'gone', loaded(null), 0);
    expect(cache.entries.size).toBe(0);
  });

  test('fixed: the TTL counts from when the read began, not from when its reply was handled', () => {
    // Redis measured the TTL (PTTL) at some moment between beginRead and endRead: the key may expire as early as
    // beginRead + ttlMs. js/local-cache/local-cache.js counts from endRead, so a reply that waited in a busy event loop (here
    // 50 ms) is served up to that long after Redis dropped the key, when the expiry invalidation is lost or late.
    // Fix: remember the clock in beginRead ({ key, flight, epoch, startedAt }) and store expiresAt =
    // startedAt + ttlMs.
    const { cache, clock } = newCache();
    const flight = cache.beginRead('k'); // Redis answers at once: PTTL 1000, the key expires 1000 ms from now
    clock.advance(50); // the reply waits for the event loop
    cache.endRead(flight, loaded('v'), 1000);
    clock.advance(950); // 1000 ms after Redis answered: the key is gone from Redis
    expect(cache.get('k')).toBeUndefined();
  });

  test('a stale copy (for when Redis fails) is kept at most staleIfErrorSeconds after it was read, and never past its TTL', () => {
    const { cache, clock } = newCache({ staleIfErrorSeconds: 2 });
    read(cache, 'k', loaded('v'), 60000);
    cache.suspend(); // the invalidation connection is down: no hits, a stale copy only
    expect(cache.get('k')).toBeUndefined();
    clock.advance(2000);
    expect(cache.getStale('k')).toBeDefined();
    clock.advance(1);
    expect(cache.getStale('k')).toBeUndefined();

    const other = newCache({ staleIfErrorSeconds: 300 });
    read(other.cache, 'k', loaded('v'), 1000);
    other.cache.suspend();
    other.clock.advance(1000);
    expect(other.cache.getStale('k')).toBeUndefined();
  });
});

describe('LocalCache coherence', () => {
  test('a read overtaken by an invalidation of its key is not cached', () => {
    const { cache } = newCache();
    const flight = cache.beginRead('k');
    cache.invalidate('k'); // the key changed while the read was in flight: its reply may be the old value
    cache.endRead(flight, loaded('old'), 60000);
    expect(cache.get('k')).toBeUndefined();
    expect(cache.entries.size).toBe(0);
    // The next read, begun after the invalidation, is cached.
    read(cache, 'k', loaded('new'));
    expect(cache.get('k').loaded.body).toBe('new');
  });

  test('overlapping reads of one key: none begun before the invalidation is cached', () => {
    const { cache } = newCache();
    const first = cache.beginRead('k');
    cache.invalidate('k');
    const second = cache.beginRead('k'); // begun after the invalidation, while the first is still in flight
    cache.endRead(second, loaded('new'), 60000);
    cache.endRead(first, loaded('old'), 60000);
    expect(cache.get('k')).toBeUndefined(); // "new" is not cached either: conservative, never stale
    expect(cache.inflight.size).toBe(0);
  });

  test('an invalidation of another key does not stop a read from being cached', () => {
    const { cache } = newCache();
    const flight = cache.beginRead('k');
    cache.invalidate('other');
    cache.endRead(flight, loaded('v'), 60000);
    expect(cache.get('k')).toBeDefined();
  });

  test('a read overtaken by a flush (FLUSHALL), a loss of coherence or a reconnect is not cached', () => {
    for (const overtake of [(c) => c.flush(), (c) => c.suspend(), (c) => { c.suspend(); c.resume(); }]) {
      const { cache } = newCache();
      read(cache, 'cached', loaded('v'));
      const flight = cache.beginRead('k');
      overtake(cache);
      cache.endRead(flight, loaded('old'), 60000);
      expect(cache.get('k')).toBeUndefined();
      expect(cache.get('cached')).toBeUndefined();
    }
  });

  test('nothing is cached or served before tracking starts, nor while it is down; entries from before are dropped when it resumes and Redis answered', () => {
    const clock = fakeClock();
    const cache = new LocalCache({ maxBytes: 1 << 20, maxEntries: 100, staleIfErrorSeconds: 300, clock });
    read(cache, 'early', loaded('v'));
    expect(cache.entries.size).toBe(0);
    cache.resume();
    read(cache, 'k', loaded('v'));
    cache.suspend();
    expect(cache.get('k')).toBeUndefined();
    read(cache, 'during', loaded('v'));
    cache.resume();
    expect(cache.get('k')).toBeUndefined(); // an invalidation may have been missed meanwhile
    expect(cache.get('during')).toBeUndefined();
    // Not even as the last copy for when Redis fails: a sign-out missed meanwhile must not come back.
    expect(cache.getStale('k')).toBeUndefined();
    expect(cache.getStale('during')).toBeUndefined();
  });

  test('tracking back while this server\'s client is failing: the copies from before serve failing reads until an answer, superseded by a newer read, gone with an invalidation', () => {
    const { cache } = newCache();
    cache.clientFailing = () => true; // after a restart the tracking connection is often back first
    read(cache, 'x', loaded('X'));
    cache.suspend();
    cache.resume();
    expect(cache.getStale('x')).toBeDefined();
    cache.answered(); // the client answered: a later outage must not bring them back
    expect(cache.getStale('x')).toBeUndefined();

    const v1 = loaded('V1');
    read(cache, 'k', v1);
    read(cache, 'gone', loaded('G'));
    read(cache, 'newer', loaded('N1'));
    cache.suspend();
    cache.resume();
    expect(cache.get('k')).toBeUndefined(); // never a hit
    expect(cache.getStale('k')).toBe(v1);
    cache.invalidate('gone');
    expect(cache.getStale('gone')).toBeUndefined();
    const n2 = loaded('N2');
    read(cache, 'newer', n2);
    expect(cache.get('newer')).toBe(cache.entries.get('newer'));
    expect(cache.getStale('newer')).toBe(n2);
    cache.forget('k'); // a sign-out here
    expect(cache.getStale('k')).toBeUndefined();
    read(cache, 'k', v1);
    cache.suspend();
    cache.resume();
    cache.flush();
    expect(cache.getStale('k')).toBeUndefined();
  });

  test('fixed: a newer version read while tracking is down does not replace the older copy kept for outages', () => {
    // V1 is cached; tracking goes down; another server signs the user out (V2: a tombstone) and this server reads
    // V2 (from Redis, correctly). V2 is not cached (not coherent), but V1 stays as the "last known copy": when Redis
    // then fails, getStale serves V1, the signed-out session's tokens, though this server has seen the tombstone.
    // The same happens when the newer read is not cached for any other reason (overtaken read, ttl <= 0 for a
    // deleted key, an entry over maxBytes). Fix: in endRead, when a successful read (loaded !== null) is not
    // stored, remove the older entry of that key (or store the new one as a stale-only copy).
    const { cache } = newCache();
    read(cache, 'k', loaded('V1 with tokens'));
    cache.suspend();
    read(cache, 'k', { etag: 'tomb', body: null, removed: true }, 600000);
    const fallback = cache.getStale('k');
    expect(fallback === undefined || fallback.removed).toBe(true);
  });

  test('a read that succeeds while tracking is down replaces its key\'s outage copy (never a hit), and a failing read then falls back to it', () => {
    // Redis came back before the invalidation connection did: a read succeeds; the breaker then opens (queued calls
    // timing out). The copy of a session read meanwhile must not be gone (a CacheStoreError for a signed-in user).
    const { cache } = newCache();
    const v1 = loaded('V1');
    const v2 = loaded('V2');
    read(cache, 'k', v1);
    cache.suspend();
    cache.clientFailing = () => true; // Redis answered this read, but the client is failing again by the resume
    read(cache, 'k', v2);
    expect(cache.get('k')).toBeUndefined(); // not a hit while down
    expect(cache.getStale('k')).toBe(v2);
    read(cache, 'new', loaded('first read while down'));
    expect(cache.get('new')).toBeUndefined();
    expect(cache.getStale('new')).toBeDefined();
    cache.resume();
    expect(cache.get('k')).toBeUndefined(); // no hit when tracking is back
    expect(cache.entries.size).toBe(0);
    expect(cache.getStale('k')).toBe(v2); // until this server's client has an answer
    cache.answered();
    expect(cache.getStale('k')).toBeUndefined();
  });

  test('a write that succeeds while tracking is down replaces its key\'s outage copy', () => {
    const { cache } = newCache();
    read(cache, 'k', loaded('V1'));
    cache.suspend();
    const written = loaded('V2');
    const flight = cache.beginRead('k');
    cache.endWrite(flight, written, 60000);
    expect(cache.get('k')).toBeUndefined();
    expect(cache.getStale('k')).toBe(written);
  });

  test('a read in flight while tracking came back and went down again is not kept, even as an outage copy', () => {
    const { cache } = newCache();
    cache.suspend();
    const flight = cache.beginRead('k'); // what it finds may change before tracking is on again, unheard
    cache.resume();
    cache.suspend();
    cache.endRead(flight, loaded('V?'), 60000);
    expect(cache.getStale('k')).toBeUndefined();
  });

  test('a read begun while tracking was down and failing after it came back falls back to the copy there was then', () => {
    const { cache } = newCache();
    const v1 = loaded('V1');
    read(cache, 'k', v1);
    cache.suspend();
    const failing = cache.beginRead('k');
    cache.resume(); // drops every entry (this server's client is not failing)
    expect(cache.getStale('k')).toBeUndefined();
    expect(cache.getStale('k', failing)).toBe(v1);
    cache.endRead(failing, null, 0);
    // Not when something reached the read in flight: an invalidation, a forget (sign-out here), a flush.
    for (const reach of [(c) => c.invalidate('k'), (c) => c.forget('k'), (c) => c.flush()]) {
      read(cache, 'k', v1);
      const flight = cache.beginRead('k');
      reach(cache);
      cache.suspend();
      cache.resume();
      cache.answered();
      expect(cache.getStale('k', flight)).toBeUndefined();
      cache.endRead(flight, null, 0);
    }
  });

  test('a newer version too large to keep still drops the older copy (no outage copy older than what Redis was seen to hold)', () => {
    const { cache } = newCache({ maxBytes: sizeOf('k', 'x'.repeat(100)) });
    read(cache, 'k', loaded('x'.repeat(100)));
    expect(cache.getStale('k')).toBeDefined();
    read(cache, 'k', loaded('y'.repeat(1000)));
    expect(cache.getStale('k')).toBeUndefined();
    expect(cache.bytes).toBe(0);
  });

  test('a read before tracking ever started keeps nothing, not even an outage copy', () => {
    const { cache } = newCache({ start: false });
    read(cache, 'k', loaded('V1'));
    cache.suspend();
    read(cache, 'k', loaded('V1'));
    expect(cache.entries.size).toBe(0);
  });
});

describe("LocalCache and this server's own writes", () => {
  /** A write of `key` that stores `value`, with `during` run while it is in flight (invalidations arriving). */
  function write(cache, key, value, during = () => {}) {
    const flight = cache.beginRead(key);
    during();
    cache.endWrite(flight, value, 60000);
  }

  /** The etag check of an unconfirmed entry (the partition reader's): Redis answers `etag` (null: the check failed). */
  function confirm(cache, key, etag, during = () => {}) {
    const entry = cache.get(key);
    expect(entry.unconfirmed).toBe(true);
    const check = cache.beginRead(key);
    during();
    return cache.endConfirm(check, entry, etag);
  }

  test('kept as what Redis holds, and served with no check until its own invalidation arrives', () => {
    const { cache } = newCache();
    write(cache, 'k', loaded('mine', 'e1'));
    expect(cache.get('k')).toMatchObject({ unconfirmed: false, loaded: { body: 'mine' } });
    expect(cache.get('k').unconfirmed).toBe(false);
  });

  test('fixed: its own invalidation (perhaps shared with another write of the same Redis cycle) is not simply ignored: the next lookup checks the etag', () => {
    // BCAST invalidations are batched per Redis event-loop cycle, one message per key: a sign-out on another server
    // run in the same cycle as this write arrives as the same single message.
    const { cache } = newCache();
    write(cache, 'k', loaded('mine', 'e1'));
    cache.invalidate('k'); // this write's own, and maybe another server's sign-out
    expect(confirm(cache, 'k', 'e1')).toBe(true); // Redis still holds it: served, and confirmed
    expect(cache.get('k')).toMatchObject({ unconfirmed: false, loaded: { body: 'mine' } });
    expect(cache.stats).toMatchObject({ confirmations: 1 });
    cache.invalidate('k'); // another server's later write: gone
    expect(cache.get('k')).toBeUndefined();

    write(cache, 'k', loaded('mine again', 'e2'));
    cache.invalidate('k');
    expect(confirm(cache, 'k', 'tombstone-etag')).toBe(false); // it was signed out: a miss, and dropped
    expect(cache.stats).toMatchObject({ confirmations: 1 }); // (the partition reader undoes get()'s hit: uncountHit)
    expect(cache.get('k')).toBeUndefined();
    expect(cache.getStale('k')).toBeUndefined();
  });

  test('a failed check (Redis down) serves nothing as a hit and keeps the entry unconfirmed, still an outage copy', () => {
    // Kept for outages: a partition refreshed just before Redis failed is still served while it is down.
    const { cache } = newCache();
    write(cache, 'k', loaded('mine', 'e1'));
    cache.invalidate('k');
    expect(confirm(cache, 'k', null)).toBe(false);
    expect(cache.getStale('k').body).toBe('mine');
    expect(cache.get('k').unconfirmed).toBe(true); // checked again on the next lookup
  });

  test('an invalidation reaching the etag check in flight: not served, and the entry goes', () => {
    const { cache } = newCache();
    write(cache, 'k', loaded('mine', 'e1'));
    cache.invalidate('k');
    expect(confirm(cache, 'k', 'e1', () => cache.invalidate('k'))).toBe(false);
    expect(cache.get('k')).toBeUndefined();
  });

  test('invalidations reaching the write in flight (its own, or another write of the same or a later cycle): kept unconfirmed', () => {
    for (const count of [1, 2]) {
      const { cache } = newCache();
      read(cache, 'k', loaded('older', 'e0'));
      write(cache, 'k', loaded('mine', 'e1'), () => { for (let i = 0; i < count; i += 1) cache.invalidate('k'); });
      expect(cache.getStale('k').body).toBe('mine'); // not the older copy
      expect(confirm(cache, 'k', 'e1')).toBe(true);
      cache.invalidate('k'); // the next one evicts
      expect(cache.get('k')).toBeUndefined();
    }
  });

  test('an invalidation that arrived before the write was sent counts for nothing', () => {
    const { cache } = newCache();
    const reading = cache.beginRead('k'); // a read in flight shares the key's flight
    cache.invalidate('k');
    write(cache, 'k', loaded('mine'));
    cache.endRead(reading, loaded('old'), 60000); // overtaken: not cached, and it drops what the key held
    expect(cache.get('k')).toBeUndefined();
    write(cache, 'k', loaded('mine again'));
    expect(cache.get('k').unconfirmed).toBe(false);
  });

  test('forget() (a sign-out here, a conflict) removes an entry even while its own invalidation is awaited', () => {
    const { cache } = newCache();
    write(cache, 'k', loaded('mine'));
    cache.forget('k');
    expect(cache.get('k')).toBeUndefined();
    expect(cache.getStale('k')).toBeUndefined();
    // and a read or write in flight when it happens is not cached
    const flight = cache.beginRead('k');
    cache.forget('k');
    cache.endWrite(flight, loaded('mine'), 60000);
    expect(cache.get('k')).toBeUndefined();
  });

  test('a write landing while tracking is down, or across a reconnect, is not kept', () => {
    for (const overtake of [(c) => c.suspend(), (c) => { c.suspend(); c.resume(); }, (c) => c.flush()]) {
      const { cache } = newCache();
      write(cache, 'k', loaded('mine'), () => overtake(cache));
      expect(cache.get('k')).toBeUndefined();
    }
  });
});

// ---- through RedisTokenCache, on a real Redis ------------------------------------------------------------------

const CLIENT_ID = '00000000-0000-4000-8000-0000000b0d01';
const SCOPES = ['api://bounds/Read'];
const REDIRECT_URI = 'http://localhost/auth/redirect';

// Not on a Cluster: the token cache has no L1 there (one tracking connection per master would be needed; see
// supportsLocalCache in js/redis-token-cache.js). The test after this block checks that it has none.
(hasLocalCache ? describe : describe.skip)('RedisTokenCache L1 on a real Redis', () => {
  let redis;
  let admin;
  let idp;
  let prefix;
  let writer; // a server without an L1: stores the partitions
  const readers = [];

  beforeAll(() => {
    redis = newRedis();
    admin = newRedis();
    idp = createFakeIdentityProvider({ clientId: CLIENT_ID });
  });

  afterAll(async () => {
    for (const reader of readers) await reader.close();
    await redis.quit();
    await admin.quit();
  });

  beforeEach(() => {
    prefix = `l1:${crypto.randomBytes(4).toString('hex')}:`;
    writer = new RedisTokenCache({ redis, prefix, localCache: false, skewSeconds: 0, ...testSecrets() });
  });

  function newReader(options = {}) {
    const reader = new RedisTokenCache({ redis, prefix, skewSeconds: 0, ...testSecrets(), ...options });
    readers.push(reader);
    return reader;
  }

  async function untilTracking(reader) {
    await reader.exportPartition({ sessionId: 'start-the-listener' });
    for (let waited = 0; waited < 3000; waited += 5) {
      if (reader.stats().localCache.coherent) return;
      await sleep(5);
    }
    throw new Error('the L1 never started tracking');
  }

  async function signIn(sessionId) {
    const client = writer.createClientApplication(idp.msalConfig(), { sessionId });
    await client.acquireTokenByCode({ code: idp.issueCode(idp.addUser(), { scopes: SCOPES }), scopes: SCOPES, redirectUri: REDIRECT_URI });
  }

  const keyOf = (selector, clientId) => prefix + resolvePartition(selector, clientId, testKeyring).partitionKey;

  /** One read through the reader's L1; says whether it was an L1 hit and what it found. */
  async function readThrough(reader, selector, clientId) {
    const before = reader.stats().localCache.hits;
    const body = await reader.exportPartition(selector, clientId);
    return { hit: reader.stats().localCache.hits > before, body };
  }

  /** Reads until the read is an L1 hit (a write's invalidation may reach the L1 after the first read). */
  async function warm(reader, selector, clientId) {
    for (let attempt = 0; attempt < 20; attempt += 1) {
      if ((await readThrough(reader, selector, clientId)).hit) return;
      await sleep(5);
    }
    throw new Error('the L1 never served the partition');
  }

  test('many partitions read through a small L1: entries and bytes stay within bounds, the least recently used goes first', async () => {
    const PARTITIONS = 16;
    for (let i = 0; i < PARTITIONS; i += 1) await signIn(`s${i}`);
    const sid = (i) => ({ sessionId: `s${i}` });

    // The size of one entry, as the L1 counts it.
    const probe = newReader();
    await untilTracking(probe);
    await warm(probe, sid(0));
    const entryBytes = probe.stats().localCache.bytes;
    expect(entryBytes).toBeGreaterThan(1000);

    // Bounded by entries (4), then by bytes (room for 2.5 entries).
    for (const localCache of [{ maxEntries: 4, maxBytes: 100 * entryBytes }, { maxEntries: 100, maxBytes: Math.floor(2.5 * entryBytes) }]) {
      const reader = newReader({ localCache });
      const capacity = Math.min(localCache.maxEntries, Math.floor(localCache.maxBytes / entryBytes));
      await untilTracking(reader);
      let peakEntries = 0;
      let peakBytes = 0;
      const check = () => {
        const { entries, bytes } = reader.stats().localCache;
        peakEntries = Math.max(peakEntries, entries);
        peakBytes = Math.max(peakBytes, bytes);
        expect(entries).toBeLessThanOrEqual(localCache.maxEntries);
        expect(bytes).toBeLessThanOrEqual(localCache.maxBytes);
      };
      // Every partition, three times over, in a shuffled order: the bounds hold after every read.
      for (let round = 0; round < 3; round += 1) {
        for (const i of Array.from({ length: PARTITIONS }, (_, n) => (n * 7 + round) % PARTITIONS)) {
          expect((await readThrough(reader, sid(i))).body).not.toBeNull();
          check();
        }
      }
      expect(peakEntries).toBe(capacity);

      // LRU: fill with 0..capacity-1, touch 0, read one more: 1 (the least recently used) went, 0 stayed.
      for (let i = 0; i < capacity; i += 1) await warm(reader, sid(i));
      expect((await readThrough(reader, sid(0))).hit).toBe(true);
      expect((await readThrough(reader, sid(capacity))).hit).toBe(false); // stored, evicting 1
      check();
      expect((await readThrough(reader, sid(0))).hit).toBe(true);
      expect((await readThrough(reader, sid(1))).hit).toBe(false);
      check();
      expect(reader.stats().localCache.evictions).toBeGreaterThan(0);
    }
  }, 30000);

  /** Waits until `reader` has had the invalidation of its own write of `key` and that entry's background check ended. */
  async function ownWriteSettled(reader, key, before) {
    const { localCache } = reader.shared.context;
    for (let waited = 0; ; waited += 5) {
      const entry = localCache.entries.get(key);
      if (reader.stats().localCache.invalidations > before && !(entry && entry.confirming)) return;
      if (waited > 3000) throw new Error("the write's invalidation, or its check, never came");
      await sleep(5);
    }
  }

  test("its own write: served from memory; that write's invalidation starts an etag check in the background (one GETRANGE, through the breaker, counted as 'confirm'), and reads then ask Redis nothing", async () => {
    const events = [];
    const reader = newReader({ metrics: { meterProvider: false, onEvent: (event) => events.push(event) } });
    await untilTracking(reader);
    await signIn('own');
    const selector = { sessionId: 'own' };
    const body = await writer.exportPartition(selector);
    const before = reader.stats().localCache.invalidations;
    const { confirmations } = reader.stats().localCache;
    events.length = 0;
    await reader.importPartition(selector, body); // this server's own write: kept
    await ownWriteSettled(reader, keyOf(selector), before);
    // The partition's calls (the write's count update, index_count, is never awaited and may land here).
    const redisCalls = () => events.filter((e) => e.name === 'msal_redis_cache.redis.duration')
      .map((e) => e.attributes['db.operation.name']).filter((name) => !name.startsWith('index_'));
    expect(redisCalls()).toEqual(['read', 'compare_and_set', 'confirm']); // the import's read and write, then the check
    expect(reader.stats().localCache.confirmations).toBe(confirmations + 1);
    events.length = 0;
    expect(await readThrough(reader, selector)).toEqual({ hit: true, body });
    expect(await readThrough(reader, selector)).toEqual({ hit: true, body });
    expect(redisCalls()).toEqual([]);

    // A read while the check is under way joins it: one GETRANGE in all, and a hit.
    const joined = newReader();
    await untilTracking(joined);
    const { store } = joined.shared.context;
    const etag = store.etag.bind(store);
    let release;
    const gate = new Promise((resolve) => { release = resolve; });
    let etagCalls = 0;
    store.etag = async (...args) => {
      etagCalls += 1;
      await gate; // the check stays under way until the read has begun
      return etag(...args);
    };
    await joined.importPartition(selector, body);
    const entry = joined.shared.context.localCache.entries.get(keyOf(selector));
    for (let waited = 0; !entry.confirming; waited += 5) {
      if (waited > 3000) throw new Error("the write's invalidation never came");
      await sleep(5);
    }
    const read = readThrough(joined, selector);
    release();
    expect(await read).toEqual({ hit: true, body });
    expect(etagCalls).toBe(1);

    // Its write again, and this time another server signs the user out before the read (two messages here; one
    // when Redis runs both in one cycle: local-cache.same-cycle.test.js): nothing is served.
    await reader.importPartition(selector, body);
    await writer.removePartition(selector);
    await sleep(50);
    expect(await readThrough(reader, selector)).toEqual({ hit: false, body: null });
  });

  test('its own write, unconfirmed, when Redis fails the check: no second Redis call; served as the last copy (staleReads)', async () => {
    const reader = newReader();
    await untilTracking(reader);
    await signIn('own-outage');
    const selector = { sessionId: 'own-outage' };
    const body = await writer.exportPartition(selector);
    const before = reader.stats().localCache.invalidations;
    // Redis fails once the write is in, as the guard reports it (a timeout, a refused connection, the breaker open):
    // the background check too, which may start before the write's reply is handled.
    const { store } = reader.shared.context;
    const calls = [];
    store.etag = async (key) => { calls.push('etag'); throw new CacheStoreError(`Redis GETRANGE failed for "${key}"`); };
    await reader.importPartition(selector, body);
    store.read = async (key) => { calls.push('read'); throw new CacheStoreError(`Redis GET failed for "${key}"`); };
    await ownWriteSettled(reader, keyOf(selector), before);
    expect(calls).toEqual(['etag']); // the background check
    calls.length = 0;
    // As msal's load does (exportPartition refuses a copy served offline).
    const loaded = await loadPartition(reader.shared.context, { key: keyOf(selector), legacyKey: null });
    expect(loaded).toMatchObject({ offline: true, body: JSON.stringify(JSON.parse(body)) });
    expect(calls).toEqual(['etag']);
    expect(reader.stats().staleReads).toBe(1);
  });

  /** A new reader that tracks and holds `sessionId`'s freshly signed-in partition as an L1 hit. */
  async function warmReaderOf(sessionId) {
    const reader = newReader();
    await untilTracking(reader);
    await signIn(sessionId);
    const selector = { sessionId };
    const body = await writer.exportPartition(selector);
    await warm(reader, selector);
    return { reader, store: reader.shared.context.store, selector, body };
  }

  /** Closes the reader's tracking connections (every master's on a Cluster); reopen: false keeps them down. */
  async function closeTrackingOf(reader, { reopen }) {
    const { listener } = reader.shared.context;
    for (const one of listener.listeners ? [...listener.listeners.values()] : [listener]) {
      if (!reopen) one.open = () => { throw new Error('not now'); };
      one.connection.disconnect();
    }
    for (let waited = 0; reader.stats().localCache.coherent; waited += 5) {
      if (waited > 3000) throw new Error('the listener never noticed its connection close');
      await sleep(5);
    }
  }

  test('fixed: a read that succeeds while the invalidation connection is down keeps its copy for when Redis then fails', async () => {
    // Redis back before the reader's invalidation connection (the listener backs off): a read succeeds, not cached as
    // a hit. It used to drop the key's last copy too, so when Redis failed again (queued calls timing out, the
    // breaker open) a signed-in user's next request found no copy: a CacheStoreError (local-cache.faults.test.js).
    const { reader, store, selector, body } = await warmReaderOf('down-read');
    // Its connection closes, and every reconnect attempt fails: it stays down.
    await closeTrackingOf(reader, { reopen: false });
    expect(await readThrough(reader, selector)).toEqual({ hit: false, body }); // from Redis
    store.read = async (key) => { throw new CacheStoreError(`Redis GET failed for "${key}"`); };
    const loaded = await loadPartition(reader.shared.context, { key: keyOf(selector), legacyKey: null });
    expect(loaded).toMatchObject({ offline: true, body: JSON.stringify(JSON.parse(body)) });
    expect(reader.stats().staleReads).toBe(1);
  });

  test('fixed: tracking back before the app\'s client answers again: the copies from before still serve its failing reads, until an answer', async () => {
    // After a Redis restart the tracking connection is often back first (the app's client backs off, its breaker
    // waits for a probe). Tracking back used to drop every entry at once, so the reads failing meanwhile found no
    // copy: a CacheStoreError for every signed-in user for up to a second (local-cache.faults.test.js, SIGKILL).
    const { reader, store, selector, body } = await warmReaderOf('back-first');
    const read = store.read.bind(store);
    const { guard } = reader.shared.context;
    // The app's client fails, as its guard sees it (a lost connection, not yet back).
    store.read = (key) => guard.run('GET', key, () => Promise.reject(new Error('Connection is closed.')));
    await expect(store.read(keyOf(selector))).rejects.toThrow(CacheStoreError); // a call of the app's fails
    await closeTrackingOf(reader, { reopen: true });
    for (let waited = 0; !reader.stats().localCache.coherent; waited += 5) { // it reconnects by itself
      if (waited > 3000) throw new Error('the listener never tracked again');
      await sleep(5);
    }
    const fallback = await loadPartition(reader.shared.context, { key: keyOf(selector), legacyKey: null });
    expect(fallback).toMatchObject({ offline: true, body: JSON.stringify(JSON.parse(body)) });
    // The client answers again (any call): from then on that copy is gone, and a failing read has none.
    store.read = read;
    await reader.exportPartition({ sessionId: 'another' });
    store.read = async (key) => { throw new CacheStoreError(`Redis GET failed for "${key}"`); };
    expect(reader.stats().redis.breaker).toBe('closed');
    await expect(loadPartition(reader.shared.context, { key: keyOf(selector), legacyKey: null })).rejects.toThrow(/no recent copy/);
  });

  test('an entry is not served past the Redis TTL it was read with, even when no invalidation comes (fake clock)', async () => {
    // The reader's clock runs ahead of real time: the key is still in Redis (no expiry, so no invalidation), and
    // only the L1's own expiry can stop it from serving the entry.
    let offset = 0;
    const reader = newReader({ clock: () => Date.now() + offset });
    await untilTracking(reader);
    await signIn('ttl');
    const key = keyOf({ sessionId: 'ttl' });
    await admin.pexpire(key, 60000);
    await warm(reader, { sessionId: 'ttl' });
    offset = 55000;
    expect((await readThrough(reader, { sessionId: 'ttl' })).hit).toBe(true);
    offset = 60500; // past the TTL the entry was read with; Redis still holds the key (about 60 s real time left)
    const past = await readThrough(reader, { sessionId: 'ttl' });
    expect(past.hit).toBe(false);
    expect(past.body).not.toBeNull(); // read again from Redis, which still has it
    expect(await admin.pttl(key)).toBeGreaterThan(50000);
  });

  test('a partition PEXPIREd to 300 ms: after it expires the L1 serves nothing (real time)', async () => {
    const reader = newReader();
    await untilTracking(reader);
    await signIn('short');
    const key = keyOf({ sessionId: 'short' });
    await admin.pexpire(key, 300);
    const setAt = Date.now();
    await warm(reader, { sessionId: 'short' });
    await sleep(Math.max(0, setAt + 330 - Date.now()));
    const after = await readThrough(reader, { sessionId: 'short' });
    expect(after).toEqual({ hit: false, body: null });
  });

  test('an app partition whose access token expires in 2 s: cached until then, gone from the L1 with it', async () => {
    // Client-credential tokens: the partition's TTL is exactly the access token's expiry (skewSeconds 0 here).
    const tenantId = DEFAULT_TENANT_ID;
    const app = writer.createClientApplication(idp.msalConfig(), { tenantId });
    idp.setAccessTokenLifetime(2);
    try {
      await app.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    } finally {
      idp.setAccessTokenLifetime(3600);
    }
    const storedAt = Date.now();
    const key = keyOf({ tenantId }, CLIENT_ID);
    const ttl = await admin.pttl(key);
    expect(ttl).toBeGreaterThan(500);
    expect(ttl).toBeLessThanOrEqual(3000); // 2 s, rounded up to whole seconds on both sides

    const reader = newReader();
    await untilTracking(reader);
    await warm(reader, { tenantId }, CLIENT_ID);
    await sleep(Math.max(0, storedAt + ttl + 50 - Date.now()));
    const after = await readThrough(reader, { tenantId }, CLIENT_ID);
    expect(after).toEqual({ hit: false, body: null });
  }, 10000);
});

test(`on ${topology} the token cache has ${hasLocalCache ? 'an L1 that tracks' : 'no L1 (a Cluster): every read goes to Redis'}`, async () => {
  const redis = newRedis();
  const cache = new RedisTokenCache({ redis, prefix: `l1-topology:${crypto.randomBytes(4).toString('hex')}:`, ...testSecrets() });
  try {
    expect(await cache.exportPartition({ sessionId: 'none' })).toBeNull(); // a read: it starts the listener
    if (!hasLocalCache) {
      expect(cache.stats().localCache).toBeNull(); // every read goes to Redis, which stays correct
      return;
    }
    for (let waited = 0; !cache.stats().localCache.coherent; waited += 5) {
      if (waited > 3000) throw new Error('the L1 never started tracking');
      await sleep(5);
    }
  } finally {
    await cache.close();
    await redis.quit();
  }
});
