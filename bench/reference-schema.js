'use strict';
// Parsing and schema validation of the MSAL cache document in plain JavaScript, mirroring token_cache::parse
// (core/include/msalcache/token_cache.hpp) and its error messages. Used by reference-core.js.

const ACCOUNT = 'Account';
const ID_TOKEN = 'IdToken';
const REFRESH_TOKEN = 'RefreshToken';
const APP_METADATA = 'AppMetadata';
// Canonical order: merge() writes the known sections in this order.
const KNOWN_SECTIONS = new Set([ACCOUNT, ID_TOKEN, 'AccessToken', REFRESH_TOKEN, APP_METADATA]);
const CREDENTIAL_SECTIONS = new Set([ID_TOKEN, 'AccessToken', REFRESH_TOKEN]);
const TIMESTAMP_FIELDS = new Set(['cached_at', 'expires_on', 'extended_expires_on', 'refresh_on', 'last_modification_time']);
const TIMESTAMP_EXPECTATION = 'expected a string of digits or an integer';
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
const INT64_MAX = 9223372036854775807n;
const DIGITS = /^[0-9]{1,19}$/;

const isRoutedSection = (name) => KNOWN_SECTIONS.has(name) && name !== APP_METADATA;
const isCredentialSection = (name) => CREDENTIAL_SECTIONS.has(name);
const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);

function typeName(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'object' ? 'object' : typeof value;
}

/** Epoch seconds from a string of 1-19 digits or a non-negative integer within int64; null for anything else. */
function parseEpoch(value) {
  if (typeof value === 'string') {
    if (!DIGITS.test(value)) return null;
    if (value.length > 15 && BigInt(value) > INT64_MAX) return null;
    return Number(value);
  }
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= Number(INT64_MAX)) return value;
  return null;
}

/** "" when absent or not a string. */
function stringField(entry, name) {
  const value = entry[name];
  return typeof value === 'string' ? value : '';
}

/** Epoch seconds, or null when absent; throws when present but not a timestamp. */
function epochField(entry, name) {
  const value = entry[name];
  if (value === undefined) return null;
  const seconds = parseEpoch(value);
  if (seconds === null) throw new Error(`${name}: ${TIMESTAMP_EXPECTATION}`);
  return seconds;
}

/** The core's json_literal: quotes, backslashes and control characters escaped. */
function jsonLiteral(text) {
  // eslint-disable-next-line no-control-regex
  return `"${text.replace(/["\\\u0000-\u001f]/g, (c) => (c === '"' || c === '\\' ? `\\${c}` : `\\u00${c.charCodeAt(0).toString(16).padStart(2, '0')}`))}"`;
}

function requireString(entry, where, field) {
  const value = entry[field];
  if (value === undefined) throw new Error(`${where}.${field}: missing (expected a string)`);
  if (typeof value !== 'string') throw new Error(`${where}.${field}: expected a string, got ${typeName(value)}`);
}

function requireTimestamp(entry, where, field) {
  if (entry[field] === undefined) throw new Error(`${where}.${field}: missing (${TIMESTAMP_EXPECTATION})`);
}

function validateEntry(section, where, entry) {
  if (!isObject(entry)) throw new Error(`${where}: expected an object, got ${typeName(entry)}`);
  for (const field of Object.keys(entry)) {
    if (TIMESTAMP_FIELDS.has(field) && parseEpoch(entry[field]) === null) {
      throw new Error(`${where}.${field}: ${TIMESTAMP_EXPECTATION}`);
    }
    if (field === 'userAssertionHash' && typeof entry[field] !== 'string') {
      throw new Error(`${where}.userAssertionHash: expected a string, got ${typeName(entry[field])}`);
    }
  }
  if (section === ACCOUNT) {
    for (const field of ['home_account_id', 'environment', 'realm']) requireString(entry, where, field);
    if (entry.home_account_id === '') throw new Error(`${where}.home_account_id: expected a non-empty string`);
    return;
  }
  if (section === APP_METADATA) {
    for (const field of ['client_id', 'environment']) requireString(entry, where, field);
    return;
  }
  for (const field of ['home_account_id', 'environment', 'credential_type', 'client_id', 'secret']) {
    requireString(entry, where, field);
  }
  if (section === REFRESH_TOKEN) return;
  requireString(entry, where, 'realm');
  if (section === ID_TOKEN) return;
  requireString(entry, where, 'target');
  requireTimestamp(entry, where, 'cached_at');
  requireTimestamp(entry, where, 'expires_on');
}

function validate(doc) {
  if (!isObject(doc)) throw new Error(`top level: expected an object, got ${typeName(doc)}`);
  for (const name of Object.keys(doc)) {
    if (!KNOWN_SECTIONS.has(name)) continue;
    const entries = doc[name];
    if (!isObject(entries)) throw new Error(`${name}: expected an object, got ${typeName(entries)}`);
    for (const key of Object.keys(entries)) validateEntry(name, `${name}[${jsonLiteral(key)}]`, entries[key]);
  }
}

/** UTF-8 length, computed only when the UTF-16 length cannot decide against the limit. */
function overLimit(text, maxBytes) {
  if (typeof text !== 'string') return text.length > maxBytes;
  if (text.length > maxBytes) return true;
  if (text.length * 3 <= maxBytes) return false;
  return Buffer.byteLength(text, 'utf8') > maxBytes;
}

/** JSON text (string or UTF-8 bytes) -> validated cache document. */
function parseValid(input, maxBytes = 0) {
  const limit = maxBytes > 0 ? maxBytes : DEFAULT_MAX_BYTES;
  if (overLimit(input, limit)) throw new Error(`input is over the limit of ${limit} bytes`);
  const text = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.length).toString('utf8');
  if (text.length === 0) throw new Error('invalid JSON: empty input');
  const doc = JSON.parse(text);
  validate(doc);
  return doc;
}

module.exports = {
  KNOWN_SECTIONS, APP_METADATA, isRoutedSection, isCredentialSection, stringField, epochField, parseEpoch, parseValid,
};
