'use strict';
// The core's four operations (core/include/msalcache/*.hpp) written in plain JavaScript with JSON.parse and
// JSON.stringify, as a baseline for the WebAssembly core. Same semantics, same results on valid caches: schema
// validation with the core's messages, restrict_to, expire, partition_ttl, split, merge. Same interface as
// js/core.js, except that planWrite returns `cache` as a string (what a JS implementation would store) and split
// returns objects that share entries with its input.
//
// What it does not do (so it is, if anything, flattered): it cannot see duplicate object keys (JSON.parse keeps the
// last one), it replaces invalid UTF-8 in Buffer input instead of refusing it, and it has no nesting-depth limit.

const {
  KNOWN_SECTIONS, APP_METADATA, isRoutedSection, isCredentialSection, stringField, epochField, parseValid,
} = require('./reference-schema');

const KIND_ORDER = { account: 0, app: 1, obo: 2 };

/** Which partition a credential belongs to: userAssertionHash, else home_account_id, else app tenant (realm). */
function partitionOfCredential(entry) {
  const hash = stringField(entry, 'userAssertionHash');
  if (hash !== '') return `obo:${hash}`;
  const home = stringField(entry, 'home_account_id');
  if (home !== '') return `account:${home}`;
  return `app:${stringField(entry, 'realm')}`;
}

/** partition_id order: kind (account < app < obo), then value, byte-wise. */
function compareIds(a, b) {
  const kindA = KIND_ORDER[a.slice(0, a.indexOf(':'))];
  const kindB = KIND_ORDER[b.slice(0, b.indexOf(':'))];
  if (kindA !== kindB) return kindA - kindB;
  const valueA = a.slice(a.indexOf(':') + 1);
  const valueB = b.slice(b.indexOf(':') + 1);
  if (valueA === valueB) return 0;
  return valueA < valueB ? -1 : 1;
}

const sortUnique = (ids) => [...new Set(ids)].sort(compareIds);
const sortedStrings = (set) => [...set].sort((a, b) => (a === b ? 0 : a < b ? -1 : 1));

/** The core's router: Account and IdToken entries also go to the obo partitions of their home account. */
function makeRouter(doc) {
  const assertionsByHome = new Map();
  for (const name of ['IdToken', 'AccessToken', 'RefreshToken']) {
    const entries = doc[name];
    if (!entries) continue;
    for (const key of Object.keys(entries)) {
      const id = partitionOfCredential(entries[key]);
      if (!id.startsWith('obo:')) continue;
      const home = stringField(entries[key], 'home_account_id');
      const list = assertionsByHome.get(home) ?? [];
      if (!list.includes(id)) list.push(id);
      assertionsByHome.set(home, list);
    }
  }
  return function targets(sectionName, entry) {
    const home = stringField(entry, 'home_account_id');
    let out;
    if (sectionName === 'Account') {
      out = [`account:${home}`];
    } else {
      out = [partitionOfCredential(entry)];
      if (sectionName !== 'IdToken') return out;
      if (home !== '') out.push(`account:${home}`);
    }
    const assertions = assertionsByHome.get(home);
    if (assertions) out.push(...assertions);
    return out.length > 1 ? sortUnique(out) : out;
  };
}

/** restrict_to: keeps what belongs to one of `allowed`; AppMetadata follows the kept credentials. */
function restrictTo(doc, allowed) {
  const allow = new Set(allowed);
  const targets = makeRouter(doc);
  const out = {};
  const droppedHomes = new Set();
  const keptClients = new Set();
  let droppedEntries = 0;
  for (const name of Object.keys(doc)) {
    if (!isRoutedSection(name)) {
      out[name] = name === APP_METADATA ? {} : doc[name];
      continue;
    }
    const kept = {};
    out[name] = kept;
    const entries = doc[name];
    for (const key of Object.keys(entries)) {
      const entry = entries[key];
      if (!targets(name, entry).some((id) => allow.has(id))) {
        droppedEntries += 1;
        droppedHomes.add(stringField(entry, 'home_account_id'));
        continue;
      }
      kept[key] = entry;
      if (isCredentialSection(name)) keptClients.add(stringField(entry, 'client_id'));
    }
  }
  if (doc[APP_METADATA] !== undefined) {
    const kept = out[APP_METADATA];
    for (const [key, entry] of Object.entries(doc[APP_METADATA])) {
      if (keptClients.has(stringField(entry, 'client_id'))) kept[key] = entry;
    }
  }
  return { doc: out, droppedHomeAccountIds: sortedStrings(droppedHomes), droppedEntries };
}

/** Removes the entries `drop` selects from a section (when the section exists); returns how many. */
function removeEntries(doc, name, drop) {
  const entries = doc[name];
  if (entries === undefined) return 0;
  const kept = {};
  let removed = 0;
  for (const key of Object.keys(entries)) {
    if (drop(entries[key])) removed += 1;
    else kept[key] = entries[key];
  }
  if (removed !== 0) doc[name] = kept;
  return removed;
}

const countOf = (section) => (section ? Object.keys(section).length : 0);

/** expire: access tokens within the skew, refresh tokens past expires_on, then orphan IdTokens and Accounts. */
function expire(doc, now, skewSeconds) {
  const deadline = now + skewSeconds;
  const report = {
    accessTokens: removeEntries(doc, 'AccessToken', (e) => {
      const expiresOn = epochField(e, 'expires_on');
      return expiresOn === null || expiresOn <= deadline;
    }),
    refreshTokens: removeEntries(doc, 'RefreshToken', (e) => {
      const expiresOn = epochField(e, 'expires_on');
      return expiresOn !== null && expiresOn <= now;
    }),
    idTokens: 0,
    accounts: 0,
  };
  const homesWithTokens = new Set();
  for (const name of ['AccessToken', 'RefreshToken']) {
    for (const entry of Object.values(doc[name] ?? {})) homesWithTokens.add(stringField(entry, 'home_account_id'));
  }
  const orphan = (e) => !homesWithTokens.has(stringField(e, 'home_account_id'));
  report.idTokens = removeEntries(doc, 'IdToken', orphan);
  report.accounts = removeEntries(doc, 'Account', orphan);
  const hasTokens = countOf(doc.AccessToken) !== 0 || countOf(doc.RefreshToken) !== 0;
  return { report, hasTokens };
}

/** partition_ttl: app partitions live until their last access token expires; others slide, capped. */
function partitionTtl(doc, kind, { slidingSeconds, absoluteSeconds }, createdAt, now) {
  const accessTokens = Object.values(doc.AccessToken ?? {});
  const refreshTokens = Object.values(doc.RefreshToken ?? {});
  if (kind === 'app') {
    let latest = null;
    for (const entry of accessTokens) {
      const expiresOn = epochField(entry, 'expires_on');
      if (expiresOn !== null) latest = latest === null ? expiresOn : Math.max(latest, expiresOn);
    }
    return latest === null ? 0 : Math.max(0, latest - now);
  }
  if (accessTokens.length === 0 && refreshTokens.length === 0) return 0;
  let ttl = Math.min(slidingSeconds, createdAt + absoluteSeconds - now);
  let latestRefresh = null;
  let allExpire = refreshTokens.length !== 0;
  for (const entry of refreshTokens) {
    const expiresOn = epochField(entry, 'expires_on');
    if (expiresOn === null) {
      allExpire = false;
      break;
    }
    latestRefresh = latestRefresh === null ? expiresOn : Math.max(latestRefresh, expiresOn);
  }
  if (allExpire) ttl = Math.min(ttl, latestRefresh - now);
  return Math.max(0, ttl);
}

/** Distinct, sorted, non-empty home_account_ids of accounts and credentials. */
function homeAccountIds(doc) {
  const ids = new Set();
  for (const name of ['Account', 'IdToken', 'AccessToken', 'RefreshToken']) {
    for (const entry of Object.values(doc[name] ?? {})) {
      const home = stringField(entry, 'home_account_id');
      if (home !== '') ids.add(home);
    }
  }
  return sortedStrings(ids);
}

function planRead(stored, allowed, { maxBytes = 0 } = {}) {
  let doc = parseValid(stored, maxBytes);
  let rewritten = null;
  let droppedHomeAccountIds = [];
  if (allowed.length !== 0) {
    const restricted = restrictTo(doc, allowed);
    if (restricted.droppedEntries !== 0) {
      rewritten = JSON.stringify(restricted.doc);
      droppedHomeAccountIds = restricted.droppedHomeAccountIds;
      doc = restricted.doc;
    }
  }
  return { rewritten, homeAccountIds: homeAccountIds(doc), droppedHomeAccountIds };
}

function planWrite(serialized, request) {
  if (request.allowed.length === 0) throw new Error('plan_write: no allowed partition given');
  const restricted = restrictTo(parseValid(serialized, request.maxBytes || 0), request.allowed);
  const { doc } = restricted;
  const { report, hasTokens } = expire(doc, request.now, request.skewSeconds);
  const ttlSeconds = hasTokens ? partitionTtl(doc, request.kind, request, request.createdAt, request.now) : 0;
  return {
    hasTokens: ttlSeconds > 0,
    ttlSeconds,
    homeAccountIds: homeAccountIds(doc),
    droppedHomeAccountIds: restricted.droppedHomeAccountIds,
    droppedEntries: restricted.droppedEntries,
    expired: report,
    cache: ttlSeconds > 0 ? JSON.stringify(doc) : '',
  };
}

/** split: one pass, every entry copied into each partition the router names; AppMetadata follows credentials. */
function split(serialized, { maxBytes = 0 } = {}) {
  const doc = parseValid(serialized, maxBytes);
  const targets = makeRouter(doc);
  const names = Object.keys(doc);
  const routed = [];
  const ids = [];
  for (const name of names) {
    if (!isRoutedSection(name)) continue;
    for (const [key, entry] of Object.entries(doc[name])) {
      const to = targets(name, entry);
      routed.push([name, key, entry, to]);
      ids.push(...to);
    }
  }
  const parts = new Map();
  for (const id of sortUnique(ids)) {
    const part = {};
    for (const name of names) part[name] = KNOWN_SECTIONS.has(name) ? {} : doc[name];
    parts.set(id, { part, clients: new Set() });
  }
  for (const [name, key, entry, to] of routed) {
    for (const id of to) {
      const target = parts.get(id);
      target.part[name][key] = entry;
      if (isCredentialSection(name)) target.clients.add(stringField(entry, 'client_id'));
    }
  }
  const metadata = Object.entries(doc[APP_METADATA] ?? {});
  const out = {};
  for (const [id, { part, clients }] of parts) {
    for (const [key, entry] of metadata) {
      if (clients.has(stringField(entry, 'client_id'))) part[APP_METADATA][key] = entry;
    }
    out[id] = part;
  }
  return out;
}

/** Deep equality that, like ordered_json, also compares object key order. */
function sameValue(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key, i) => key === keysB[i] && sameValue(a[key], b[key]));
}

/** merge: union of the partitions' entries, known sections first in canonical order; conflicts are errors. */
function merge(caches, { maxBytes = 0 } = {}) {
  const docs = caches.map((text) => parseValid(text, maxBytes));
  const merged = {};
  for (const name of KNOWN_SECTIONS) {
    if (!docs.some((doc) => Object.prototype.hasOwnProperty.call(doc, name))) continue;
    const out = {};
    merged[name] = out;
    for (const doc of docs) {
      const entries = doc[name];
      if (entries === undefined) continue;
      for (const key of Object.keys(entries)) {
        if (!Object.prototype.hasOwnProperty.call(out, key)) out[key] = entries[key];
        else if (!sameValue(out[key], entries[key])) throw new Error(`${name}[${JSON.stringify(key)}]: partitions hold different values`);
      }
    }
  }
  for (const doc of docs) {
    for (const name of Object.keys(doc)) {
      if (!KNOWN_SECTIONS.has(name) && !Object.prototype.hasOwnProperty.call(merged, name)) merged[name] = doc[name];
    }
  }
  return JSON.stringify(merged);
}

module.exports = { planRead, planWrite, split, merge };
