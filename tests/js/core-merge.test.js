'use strict';
// planMergeWrite: the wasm three-way merge a compare-and-set retry uses, on caches shaped like msal-node's.

const core = require('../../js/core');
const { CacheFormatError } = require('../../js/errors');
const { emptyCache, addUser, typicalUserCache, guid } = require('../support/cache-fixtures');

const NOW = 1_800_000_000;
const CLIENT = guid(7);
const writeRequest = (allowed, overrides = {}) => ({
  allowed,
  kind: 'account',
  now: NOW,
  skewSeconds: 300,
  slidingSeconds: 3600,
  absoluteSeconds: 86400,
  createdAt: NOW,
  ...overrides,
});

const clone = (value) => JSON.parse(JSON.stringify(value));
const stored = (plan) => JSON.parse(plan.cache.toString('utf8'));

// One user's partition as this request loaded it, and the keys of its access tokens and refresh token.
function loaded() {
  const { cache, homeAccountId } = typicalUserCache({ clientId: CLIENT, now: NOW });
  const accessKeys = Object.keys(cache.AccessToken);
  const [refreshKey] = Object.keys(cache.RefreshToken);
  return { base: cache, homeAccountId, accessKeys, refreshKey, allowed: [`account:${homeAccountId}`] };
}

function refreshed(entry, secret, expiresOn, cachedAt = NOW + 60) {
  return { ...entry, secret, expires_on: String(expiresOn), cached_at: String(cachedAt) };
}

describe('planMergeWrite', () => {
  test('two servers refreshing one session concurrently: both contributions survive, the later token wins', () => {
    const { base, accessKeys: [first, second], refreshKey, allowed } = loaded();
    // The other server refreshed the first token (valid longer) and acquired a token for a new scope.
    const theirs = clone(base);
    theirs.AccessToken[first] = refreshed(base.AccessToken[first], 'theirs-first', NOW + 7200);
    const newScopeKey = first.replace('user.read', 'files.readwrite');
    theirs.AccessToken[newScopeKey] = {
      ...refreshed(base.AccessToken[first], 'theirs-new', NOW + 7200),
      target: 'files.readwrite openid profile',
    };
    // This request refreshed the first token too (expiring earlier), the second one, and rotated the refresh token.
    const mine = clone(base);
    mine.AccessToken[first] = refreshed(base.AccessToken[first], 'mine-first', NOW + 5000);
    mine.AccessToken[second] = refreshed(base.AccessToken[second], 'mine-second', NOW + 5000);
    mine.RefreshToken[refreshKey] = { ...base.RefreshToken[refreshKey], secret: 'mine-rotated-refresh-token' };

    const plan = core.planMergeWrite(
      JSON.stringify(base),
      JSON.stringify(mine),
      JSON.stringify(theirs),
      writeRequest(allowed),
    );
    const cache = stored(plan);
    expect(cache.AccessToken[first].secret).toBe('theirs-first');
    expect(cache.AccessToken[second].secret).toBe('mine-second');
    expect(cache.AccessToken[newScopeKey].secret).toBe('theirs-new');
    expect(cache.RefreshToken[refreshKey].secret).toBe('mine-rotated-refresh-token');
    expect(Object.keys(cache.AccessToken)).toHaveLength(4);
    expect(plan.merge).toEqual({ takenMine: 2, takenTheirs: 2, conflicts: 1, removed: 0 });
    expect(plan.hasTokens).toBe(true);
    expect(plan.ttlSeconds).toBe(3600);
    // Everything else is the stored entry unchanged, fields in msal's order.
    expect(cache.Account).toEqual(base.Account);
    expect(JSON.stringify(cache.IdToken)).toBe(JSON.stringify(base.IdToken));
  });

  test('applies the partition rules to the merged cache: foreign account dropped, expired token swept', () => {
    const { base, accessKeys: [first, second], allowed, homeAccountId } = loaded();
    const theirs = clone(base);
    const intruder = addUser(theirs, { oid: guid(66), tid: guid(2), clientId: CLIENT, now: NOW });
    theirs.AccessToken[second] = refreshed(base.AccessToken[second], 'lapsed', NOW - 10, NOW - 3610);
    const mine = clone(base);
    mine.AccessToken[first] = refreshed(base.AccessToken[first], 'mine-first', NOW + 5000);

    const [b, m, t] = [base, mine, theirs].map((cache) => Buffer.from(JSON.stringify(cache)));
    const plan = core.planMergeWrite(b, m, t, writeRequest(allowed));
    const cache = stored(plan);
    expect(plan.droppedHomeAccountIds).toEqual([intruder]);
    expect(plan.homeAccountIds).toEqual([homeAccountId]);
    expect(JSON.stringify(cache)).not.toContain(intruder);
    expect(plan.expired.accessTokens).toBe(1);
    expect(cache.AccessToken[second]).toBeUndefined();
    expect(cache.AccessToken[first].secret).toBe('mine-first');
  });

  test.each([null, undefined, '', Buffer.alloc(0)])('an absent base and theirs (%p) is planWrite', (absent) => {
    const { base: mine, allowed } = loaded();
    const request = writeRequest(allowed);
    const plan = core.planMergeWrite(absent, JSON.stringify(mine), absent, request);
    const single = core.planWrite(JSON.stringify(mine), request);
    expect(plan.cache.equals(single.cache)).toBe(true);
    const { merge, ...head } = plan;
    expect({ ...head, cache: null }).toEqual({ ...single, cache: null });
    expect(merge.takenTheirs + merge.conflicts + merge.removed).toBe(0);
  });

  test('a session removed meanwhile by the other server stays removed unless this request changed it', () => {
    const { base, accessKeys: [first], allowed } = loaded();
    const mine = clone(base);
    mine.AccessToken[first] = refreshed(base.AccessToken[first], 'mine-first', NOW + 5000);
    const gone = JSON.stringify(emptyCache());
    const plan = core.planMergeWrite(JSON.stringify(base), JSON.stringify(mine), gone, writeRequest(allowed));
    // Only the token this request changed comes back (a change beats a removal); the rest was removed by theirs.
    expect(Object.keys(stored(plan).AccessToken)).toEqual([first]);
    expect(plan.merge.conflicts).toBe(1);
  });

  test('multi-byte text in all three inputs crosses the boundary intact', () => {
    const { base, accessKeys: [first], allowed } = loaded();
    const name = '日本語のユーザー名'.repeat(400); // many 3-byte characters: the tight first buffer cannot hold them
    const theirs = clone(base);
    Object.values(theirs.Account)[0].name = name;
    const mine = clone(base);
    mine.AccessToken[first] = refreshed(base.AccessToken[first], 'ü-mine', NOW + 5000);
    const [b, m, t] = [base, mine, theirs].map((cache) => JSON.stringify(cache));
    const plan = core.planMergeWrite(b, m, t, writeRequest(allowed));
    const cache = stored(plan);
    expect(Object.values(cache.Account)[0].name).toBe(name);
    expect(cache.AccessToken[first].secret).toBe('ü-mine');
  });

  test('an invalid input is a CacheFormatError naming it', () => {
    const { base, allowed } = loaded();
    const good = JSON.stringify(base);
    const request = writeRequest(allowed);
    expect(() => core.planMergeWrite('{"x":', good, good, request)).toThrow(CacheFormatError);
    expect(() => core.planMergeWrite('{"x":', good, good, request)).toThrow(/base: invalid JSON/);
    expect(() => core.planMergeWrite(good, '[]', good, request)).toThrow(/mine: top level/);
    expect(() => core.planMergeWrite(good, '', good, request)).toThrow(/mine: invalid JSON: empty input/);
    const duplicate = '{"Account":{},"Account":{}}';
    expect(() => core.planMergeWrite(good, good, duplicate, request)).toThrow(/theirs: duplicate key/);
    const small = { ...request, maxBytes: good.length - 1 };
    expect(() => core.planMergeWrite(good, good, good, small)).toThrow(/base: input is/);
    expect(() => core.planMergeWrite(good, null, good, request)).toThrow(TypeError);
  });

  test('repeated merges do not grow the wasm heap', () => {
    const { base, accessKeys: [first], allowed } = loaded();
    const mine = clone(base);
    mine.AccessToken[first] = refreshed(base.AccessToken[first], 'mine', NOW + 5000);
    const [b, m] = [JSON.stringify(base), JSON.stringify(mine)];
    const request = writeRequest(allowed);
    for (let i = 0; i < 200; i += 1) core.planMergeWrite(b, m, b, request);
    const before = core.allocatedBytes();
    for (let i = 0; i < 2000; i += 1) {
      core.planMergeWrite(b, m, b, request);
      if (i % 10 === 0) expect(() => core.planMergeWrite(b, m, '{', request)).toThrow(CacheFormatError);
    }
    expect(core.allocatedBytes()).toBeLessThanOrEqual(before + 64 * 1024);
  });
});
