import type {
  ConfidentialClientApplication,
  Configuration,
  ICachePlugin,
  TokenCacheContext,
  OnBehalfOfRequest,
  AuthenticationResult,
} from '@azure/msal-node';
/**
 * An ioredis client (new Redis(...), new Redis.Cluster(...), a Sentinel client; or iovalkey's), by shape, so that
 * neither client's package is needed to type-check an app that has the other.
 */
export interface IoredisClientLike {
  getBuffer(...args: any[]): unknown;
  getrangeBuffer(...args: any[]): unknown;
}
/** A connected node-redis client (createClient(), createCluster() or createSentinel() from "redis", 5 or 6), by shape. */
export interface NodeRedisClientLike {
  sendCommand(...args: any[]): unknown;
  readonly isOpen: boolean;
  withTypeMapping(...args: any[]): unknown;
}
/** A Redis client the package can drive (js/redis/driver.js). */
export type RedisClientLike = IoredisClientLike | NodeRedisClientLike;
import type { EventEmitter } from 'node:events';

/** 32 random bytes: a base64 (or base64url) string, or a Buffer/Uint8Array. */
export type SecretKey = string | Uint8Array;

/** How values are protected: encryption keys and a key-name secret, or (development only) no encryption. */
export type StorageSecrets =
  | {
      /** [current, ...previous]: the first encrypts, every one decrypts (rotation). AES-256-GCM. */
      encryptionKeys: SecretKey[];
      /** Names Redis keys without personal data (keyed HMAC of the ids). Never rotate it: keys would change. */
      keyNameSecret: SecretKey;
      insecurePlaintextStorage?: false;
    }
  | {
      /** Store tokens UNENCRYPTED (development only; one warning at start). */
      insecurePlaintextStorage: true;
      encryptionKeys?: undefined;
      /** Optional here: without it key names are unkeyed SHA-256 of the ids. */
      keyNameSecret?: SecretKey;
    };

export type RedisTokenCacheOptions = StorageSecrets & {
  /** An ioredis or node-redis client (standalone, Cluster or Sentinel), shared by the whole app. */
  redis: RedisClientLike;
  /** Prepended to every key. Default "msal:". */
  prefix?: string;
  /** Idle window of a user partition: every write restarts it. Default 86400 (24 h). */
  slidingSeconds?: number;
  /** A user partition never outlives its first write by more than this. Default 1209600 (14 days). */
  absoluteSeconds?: number;
  /** Access tokens expiring within this many seconds are swept before a write (msal refreshes them anyway). Default 300. */
  skewSeconds?: number;
  /** Largest value read or written; larger stored values are ignored as a miss, larger writes fail. Default 16 MiB. */
  maxValueBytes?: number;
  /** Receives warnings (unreadable values, refused foreign accounts). Default console. */
  logger?: { warn(message: string): void };
  /** Milliseconds since the epoch; for tests. Default Date.now. */
  clock?: () => number;
  /** The ConfidentialClientApplication class to instantiate; default: the one from your @azure/msal-node. */
  ConfidentialClientApplication?: typeof ConfidentialClientApplication;
  /** How long a removed partition (sign-out) stays a tombstone that refuses writes loaded before it. Default 600. */
  tombstoneSeconds?: number;
  /**
   * Read version 0.1 (mrc1, unencrypted) account, app and on-behalf-of partitions, and move them to the new format on
   * their next write. Never sessions or session partitions (RedisSessionStore.importLegacySessions, offline). Default false.
   */
  migrateLegacyValues?: boolean;
  /**
   * The in-process cache of partitions, kept coherent by Redis invalidation tracking (on a Cluster, a tracking
   * connection per master; suspended and flushed on any topology change). false turns it off. Defaults: maxBytes 64 MiB, maxEntries 10000, staleIfErrorSeconds 300 (how old a copy may be that a read
   * falls back to when Redis fails).
   */
  localCache?: false | { maxBytes?: number; maxEntries?: number; staleIfErrorSeconds?: number };
  /**
   * Every Redis call of the package gives up after this many milliseconds, and the calls of one msal call share it
   * (a slow read leaves the write only what is left). Default 1000.
   */
  commandTimeoutMs?: number;
  /**
   * Sign-outs (removePartition, removeAccount, the session store's destroy, signOutEverywhere) are acknowledged only
   * once WAIT says `replicas` replicas hold the tombstone, within `timeoutMs`; otherwise a CacheStoreError (the
   * tombstone is on the master; try again), so that a failover cannot bring a signed-out partition back.
   * replicas "auto" (default): 1 when the master has a replica (INFO replication), none when it has none; 0 or
   * false: never wait. timeoutMs: default 200 (a quarter of commandTimeoutMs when that is less), below half of
   * commandTimeoutMs.
   */
  signOutReplicas?: false | { replicas?: 'auto' | number; timeoutMs?: number };
  /** When Redis fails during a token write: "open" (not stored, counted; the caller keeps its token) or "closed" (CacheStoreError). Default "open". Sign-outs always fail closed. */
  writeFailure?: 'open' | 'closed';
  /**
   * When Redis cannot read a user's partition (session or account) and this server has no recent copy: "closed"
   * (a CacheStoreError from the msal call, so the app can answer "try again" instead of asking a signed-in user to
   * sign in) or "open" (a cache miss). App and on-behalf-of partitions always fall back to a miss. Default "closed".
   */
  readFailure?: 'open' | 'closed';
  /**
   * Metrics (README "Metrics"): OpenTelemetry instruments on the meter "msal-redis-cache" and/or a plain callback.
   * Default: the global MeterProvider of @opentelemetry/api when it is installed and an SDK registered one before
   * this cache was made; no callback. false: no metrics at all.
   */
  metrics?: false | MetricsOptions;
};

/** Structurally an OpenTelemetry MeterProvider (declared here so that apps without @opentelemetry/api type-check). */
export interface MeterProviderLike {
  getMeter(name: string, version?: string, options?: object): any;
}

export interface MetricsOptions {
  /** Where the instruments go. Default: @opentelemetry/api's global provider (when installed). false: no OpenTelemetry. */
  meterProvider?: MeterProviderLike | false;
  /** Called synchronously with every measurement (keep it cheap; an exception is logged once and ignored). */
  onEvent?: (event: MetricEvent) => void;
}

/** One measurement: an instrument's full name, the value added or recorded, and its attributes (frozen, shared). */
export interface MetricEvent {
  /** e.g. "msal_redis_cache.cache.hits", "msal_redis_cache.redis.duration" */
  name: string;
  /** 1 for a count, seconds for a duration, bytes for redis.io */
  value: number;
  /** e.g. { CacheLevel: 'L1Cache' }, { 'db.operation.name': 'read', 'error.type': 'timeout' }, { outcome: 'stored' } */
  attributes: Readonly<Record<string, string>>;
}

export interface RedisTokenCacheStats {
  /** null when the in-process cache is off. */
  localCache: null | {
    hits: number; misses: number; staleServed: number; invalidations: number; evictions: number; flushes: number;
    /** Entries kept from this server's own writes, served after checking that Redis still holds their version. */
    confirmations: number;
    entries: number; bytes: number; coherent: boolean;
  };
  /** Reads that failed and fell back to the last copy this server saw. */
  staleReads: number;
  /** Reads that failed with no copy to fall back to: a cache miss (app and on-behalf-of partitions, readFailure "open"). */
  missedReads: number;
  /** User-partition reads that failed with no copy to fall back to: a CacheStoreError (readFailure "closed"). */
  failedReads: number;
  /** Writes not stored because Redis failed (writeFailure "open"). */
  failedWrites: number;
  redis: {
    calls: number; failures: number; timeouts: number; rejectedWhileOpen: number; breakerOpened: number;
    breaker: 'closed' | 'open' | 'half-open';
  };
  /**
   * Sign-outs that waited for replicas (null when signOutReplicas is off): WAITs sent (shared by concurrent
   * sign-outs), sign-outs confirmed, sign-outs refused for want of a replica's ack (shortfalls), sign-outs that did
   * not wait ("auto" on a master without replicas).
   */
  signOutReplicas: null | { waits: number; confirmed: number; shortfalls: number; skipped: number };
}

/** countPartitions: stored partitions by kind. */
export interface PartitionCounts {
  session: number;
  account: number;
  app: number;
  obo: number;
}

/** What importPartition did. */
export type ImportOutcome = 'stored' | 'removed' | 'dropped' | 'unchanged' | 'deleted' | 'failed';

/** Exactly one: which partition a client application reads and writes. */
export type PartitionSelector =
  | { sessionId: string }
  | { homeAccountId: string }
  | { tenantId: string }
  | { userAssertion: string };

export interface PartitionDescription {
  key: string;
  ttlSeconds: number;
  createdAt: number;
  storedBytes: number;
  bytes: number;
  accounts: Array<{ home_account_id: string; username: string; environment: string; realm: string }>;
  tokens: Array<{
    kind: 'AccessToken' | 'RefreshToken' | 'IdToken';
    home_account_id: string;
    realm: string;
    client_id: string;
    target: string;
    expires_on: number | null;
    cached_at: number | null;
    secret_bytes: number;
  }>;
}

export declare class RedisTokenCache {
  constructor(options: RedisTokenCacheOptions);
  /** A ConfidentialClientApplication bound to one partition. Create one per request. */
  createClientApplication(msalConfig: Configuration, selector: PartitionSelector): ConfidentialClientApplication;
  /** The raw ICachePlugin for one partition. `clientId` is required for tenantId and userAssertion selectors. */
  cachePlugin(selector: PartitionSelector, clientId?: string): RedisCachePlugin;
  /** acquireTokenOnBehalfOf with its partition loaded first (msal-node does not load it for OBO). */
  acquireTokenOnBehalfOf(msalConfig: Configuration, request: OnBehalfOfRequest): Promise<AuthenticationResult | null>;
  /** Sign-out: the partition becomes a tombstone (tombstoneSeconds). True when a partition was there. */
  removePartition(selector: PartitionSelector, clientId?: string): Promise<boolean>;
  /**
   * Signs a user out of every session, their account partition and the on-behalf-of partitions made from their
   * tokens (tombstones, as removePartition), found through the user's index (read 500 members per call, and pruned
   * of what it removed), never by scanning Redis. A user has at most 1,000 of them: past that, each sign-in signs the
   * oldest out. With
   * sessionStore (made with this token cache), the express sessions of the removed session partitions are deleted
   * too. Resolves to the number of partitions that held tokens; rejects with CacheStoreError when Redis fails (call
   * again: removing twice is harmless).
   */
  signOutEverywhere(user: { homeAccountId: string }, options?: { sessionStore?: RedisSessionStore }): Promise<number>;
  /**
   * Removes the app (client-credential) partition of every tenant of a client, and with includeOnBehalfOf its
   * on-behalf-of partitions. Resolves to the number that held tokens; CacheStoreError when Redis fails.
   */
  clearAppTokens(clientId: string, options?: { includeOnBehalfOf?: boolean }): Promise<number>;
  /** Removes one tenant's app (client-credential) partition of a client. True when there was one. */
  removeTenant(tenant: { tenantId: string }, clientId: string): Promise<boolean>;
  /**
   * Partitions of each kind, from counts kept at every write (a partition whose TTL something else changed, such as
   * RedisSessionStore's touch, is counted by its last write's TTL). A few Redis calls, whatever the number of keys.
   */
  countPartitions(): Promise<PartitionCounts>;
  /** A secret-free summary of a stored partition, or null. Rejects with CacheFormatError when it is unreadable. */
  describePartition(selector: PartitionSelector, clientId?: string): Promise<PartitionDescription | null>;
  /** The partition's MSAL cache JSON, decrypted, or null when there is none. */
  exportPartition(selector: PartitionSelector, clientId?: string): Promise<string | null>;
  /**
   * Stores an MSAL cache JSON as the partition, through the same checks and compare-and-set as every write. Rejects
   * with CacheFormatError, before any other work, when it is over maxValueBytes (in UTF-8 bytes).
   */
  importPartition(selector: PartitionSelector, cacheJson: string, clientId?: string): Promise<ImportOutcome>;
  /** Counters and state: the in-process cache, reads and writes that failed open, the circuit breaker. */
  stats(): RedisTokenCacheStats;
  /** Waits for the partition counts being updated, then closes the invalidation connection (the app's Redis client is left alone). */
  close(): Promise<void>;
}

export declare class RedisCachePlugin implements ICachePlugin {
  readonly key: string;
  /**
   * Resolves once the partition's version, read when the plugin was made, is in: await it before acquireTokenByCode
   * (and other calls that ask the identity provider before reading the cache) on a client application you built
   * yourself, so that a sign-out that Redis orders after that read wins. createClientApplication does this for you.
   */
  ready(): Promise<void>;
  beforeCacheAccess(cacheContext: TokenCacheContext): Promise<void>;
  afterCacheAccess(cacheContext: TokenCacheContext): Promise<void>;
}

export declare const DEFAULTS: Readonly<Required<Pick<RedisTokenCacheOptions,
  'prefix' | 'slidingSeconds' | 'absoluteSeconds' | 'skewSeconds' | 'maxValueBytes' | 'tombstoneSeconds' | 'migrateLegacyValues' |
  'commandTimeoutMs' | 'writeFailure' | 'readFailure' | 'localCache' | 'signOutReplicas'>>>;

/** msal-node's userAssertionHash of an OBO assertion: base64url(SHA-256(assertion)). */
export declare function userAssertionHash(assertion: string): string;

export declare class MsalRedisCacheError extends Error {}
/** A cache document the core refused: invalid JSON, wrong schema, over a limit. */
export declare class CacheFormatError extends MsalRedisCacheError {}
/** Redis failed while loading or storing a partition; `cause` holds the client's error. */
export declare class CacheStoreError extends MsalRedisCacheError {}
export declare class ConfigurationError extends MsalRedisCacheError {}

export interface WriteRequest {
  allowed: string[]; kind: 'account' | 'app' | 'obo'; now: number; skewSeconds: number;
  slidingSeconds: number; absoluteSeconds: number; createdAt: number; maxBytes?: number;
}

export interface WritePlan {
  cache: Buffer; hasTokens: boolean; ttlSeconds: number; homeAccountIds: string[];
  droppedHomeAccountIds: string[]; droppedEntries: number;
  expired: { accessTokens: number; refreshTokens: number; idTokens: number; accounts: number };
}

export declare const core: {
  planRead(stored: string | Uint8Array, allowed: string[], options?: { maxBytes?: number }): {
    rewritten: string | null; homeAccountIds: string[]; droppedHomeAccountIds: string[];
  };
  planWrite(serialized: string | Uint8Array, request: WriteRequest): WritePlan;
  /** Three-way merge (base = what was loaded, mine = what msal holds, theirs = what is stored now), then planWrite's rules. */
  planMergeWrite(base: string | Uint8Array | null, mine: string | Uint8Array, theirs: string | Uint8Array | null, request: WriteRequest):
    WritePlan & { merge: { takenMine: number; takenTheirs: number; conflicts: number; removed: number } };
  split(serialized: string): Record<string, object>;
  merge(caches: string[]): string;
  describe(serialized: string | Uint8Array): Omit<PartitionDescription, 'key' | 'ttlSeconds' | 'createdAt' | 'storedBytes'>;
};

/** A connect-redis serializer: the session to the text that RedisSessionStore encrypts, and back. Default JSON. */
export interface SessionSerializer {
  parse(text: string): any | Promise<any>;
  stringify(session: any): string;
}

export type RedisSessionStoreOptions = (
  | {
      /**
       * The app's token cache: sessions are encrypted with its keys, each session's partition gets the session's TTL
       * and is removed (tombstoned) with it. Without it, give encryptionKeys and keyNameSecret here.
       */
      tokenCache: RedisTokenCache;
      /** Refused with a tokenCache: its sessions expire with their tokens. */
      disableTTL?: false;
      /** Refused with a tokenCache: sessions use the token cache's maxValueBytes. */
      maxValueBytes?: undefined;
    }
  | ({
      tokenCache?: undefined;
      /** Sessions never expire in Redis; touch does nothing (connect-redis). Default false. */
      disableTTL?: boolean;
      /**
       * Bytes: a larger stored session is no session (a warning; read no further than maxValueBytes + 1 bytes); saving a larger
       * one rejects with CacheFormatError. Default 16777216 (16 MiB). With tokenCache: the token cache's.
       */
      maxValueBytes?: number;
    } & StorageSecrets)
) &
  (
    | {
        /** An ioredis or node-redis client; the same Redis as the token cache's. */
        redis: RedisClientLike;
        client?: undefined;
      }
    | {
        /** connect-redis's name for `redis`. */
        client: RedisClientLike;
        redis?: undefined;
      }
  ) & {
    /**
     * Prepended to session keys, which are `<prefix>{<keyed HMAC of the session id>}` ("{", "}" and "%" of the prefix
     * percent-encoded). Default "sess:". With `tokenCache`, a prefix that starts with the token cache's prefix followed
     * by "session:", "account:", "app:", "obo:" or "index:" is refused (a session key could be a token-cache key).
     */
    prefix?: string;
    /**
     * Seconds: the lifetime of a session whose cookie has no expiry; or a function of the session that decides every
     * session's lifetime (its cookie ignored; 0 or less ends the session). As connect-redis. Default 86400.
     */
    ttl?: number | ((session: any) => number);
    /** The earlier name of a number `ttl`. */
    ttlSeconds?: number;
    /** touch() does nothing: sessions expire `ttl` after their last save (connect-redis). Default false. */
    disableTouch?: boolean;
    /** The session to the text that is encrypted, and back. Default JSON. */
    serializer?: SessionSerializer;
    /** SCAN's COUNT in all, ids, length and clear. Default 100. */
    scanCount?: number;
    /** Receives warnings (unreadable sessions). Default: the token cache's logger, else console. */
    logger?: { warn(message: string): void };
    /** Milliseconds since the epoch; for tests. Default: the token cache's clock, else Date.now. */
    clock?: () => number;
  };

/** What importConnectRedisSessions did: sessions saved, sessions the store already had, values left unread. */
export interface ConnectRedisImport {
  imported: number;
  existing: number;
  unreadable: number;
}

type SessionCallback<T> = (err: any, value?: T) => void;

/**
 * An express-session store (`session({ store })`) over the app's Redis client (ioredis or node-redis). Structurally an express-session `Store`, declared
 * here without importing express-session's types so that apps without it still type-check.
 */
export declare class RedisSessionStore extends EventEmitter {
  constructor(options: RedisSessionStoreOptions);
  readonly prefix: string;
  /** `<prefix>{<keyed HMAC of sid>}` */
  sessionKey(sid: string): string;
  /** The session's token-cache partition key, or null without `tokenCache`. */
  partitionKey(sid: string): string | null;
  get(sid: string, callback?: SessionCallback<any>): Promise<any | null>;
  set(sid: string, session: any, callback?: SessionCallback<void>): Promise<void>;
  touch(sid: string, session: any, callback?: SessionCallback<void>): Promise<void>;
  destroy(sid: string, callback?: SessionCallback<void>): Promise<void>;
  /** Every readable session, with its `id`. SCANs every master of a Cluster; for tools, not requests. */
  all(callback?: SessionCallback<any[]>): Promise<any[]>;
  /** The id of every readable session (connect-redis's ids()). Reads every session: ids are only in the encrypted values. */
  ids(callback?: SessionCallback<string[]>): Promise<string[]>;
  /** How many session keys there are (SCAN only). */
  length(callback?: SessionCallback<number>): Promise<number>;
  /** Deletes every session and tombstones their token partitions. */
  clear(callback?: SessionCallback<void>): Promise<void>;
  /**
   * Saves the sessions a connect-redis store keeps (`<prefix><id>`, serializer text) into this store under the same
   * ids, skipping those it already has. deleteImported: delete each connect-redis key once its session is here.
   */
  importConnectRedisSessions(
    options?: { prefix?: string; serializer?: Pick<SessionSerializer, 'parse'>; deleteImported?: boolean },
    callback?: SessionCallback<ConnectRedisImport>,
  ): Promise<ConnectRedisImport>;
  /**
   * Moves version 0.1's clear-text sessions (`<prefix>{<id>}`) and their token-cache partitions into this store, once,
   * offline (never done on a request: a clear-text value can be forged). deleteImported: delete the clear copies of
   * the sessions this store has.
   */
  importLegacySessions(
    options?: { deleteImported?: boolean },
    callback?: SessionCallback<ConnectRedisImport>,
  ): Promise<ConnectRedisImport>;
  regenerate(req: any, callback: (err?: any) => any): void;
  load(sid: string, callback: (err: any, session?: any) => any): void;
  createSession(req: any, session: any): any;
}
