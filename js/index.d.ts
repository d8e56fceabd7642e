import type {
  ConfidentialClientApplication,
  Configuration,
  ICachePlugin,
  TokenCacheContext,
  OnBehalfOfRequest,
  AuthenticationResult,
} from '@azure/msal-node';
import type { Redis, Cluster } from 'ioredis';
import type { EventEmitter } from 'node:events';

export interface RedisTokenCacheOptions {
  /** An ioredis client (Redis or Cluster), shared by the whole app. */
  redis: Redis | Cluster;
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
}

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
  /** Deletes a partition (sign-out). True when a key was deleted. */
  removePartition(selector: PartitionSelector, clientId?: string): Promise<boolean>;
  /** A secret-free summary of a stored partition, or null. */
  describePartition(selector: PartitionSelector, clientId?: string): Promise<PartitionDescription | null>;
}

export declare class RedisCachePlugin implements ICachePlugin {
  readonly key: string;
  beforeCacheAccess(cacheContext: TokenCacheContext): Promise<void>;
  afterCacheAccess(cacheContext: TokenCacheContext): Promise<void>;
}

export declare const DEFAULTS: Readonly<Required<Pick<RedisTokenCacheOptions,
  'prefix' | 'slidingSeconds' | 'absoluteSeconds' | 'skewSeconds' | 'maxValueBytes'>>>;

/** msal-node's userAssertionHash of an OBO assertion: base64url(SHA-256(assertion)). */
export declare function userAssertionHash(assertion: string): string;

export declare class MsalRedisCacheError extends Error {}
/** A cache document the core refused: invalid JSON, wrong schema, over a limit. */
export declare class CacheFormatError extends MsalRedisCacheError {}
/** Redis failed while loading or storing a partition; `cause` holds the ioredis error. */
export declare class CacheStoreError extends MsalRedisCacheError {}
export declare class ConfigurationError extends MsalRedisCacheError {}

export declare const core: {
  planRead(stored: string | Uint8Array, allowed: string[], options?: { maxBytes?: number }): {
    rewritten: string | null; homeAccountIds: string[]; droppedHomeAccountIds: string[];
  };
  planWrite(serialized: string, request: {
    allowed: string[]; kind: 'account' | 'app' | 'obo'; now: number; skewSeconds: number;
    slidingSeconds: number; absoluteSeconds: number; createdAt: number; maxBytes?: number;
  }): {
    cache: Buffer; hasTokens: boolean; ttlSeconds: number; homeAccountIds: string[];
    droppedHomeAccountIds: string[]; droppedEntries: number;
    expired: { accessTokens: number; refreshTokens: number; idTokens: number; accounts: number };
  };
  split(serialized: string): Record<string, object>;
  merge(caches: string[]): string;
  describe(serialized: string | Uint8Array): Omit<PartitionDescription, 'key' | 'ttlSeconds' | 'createdAt' | 'storedBytes'>;
};

export interface RedisSessionStoreOptions {
  /** An ioredis client (Redis or Cluster); the same Redis as the token cache's. */
  redis: Redis | Cluster;
  /** Prepended to session keys, which are `<prefix>{<session id>}`. Default "sess:". */
  prefix?: string;
  /** Lifetime of a session whose cookie has no expiry (no maxAge). Default 86400. */
  ttlSeconds?: number;
  /** The app's token cache: each session's partition then gets the session's TTL and is deleted with it. */
  tokenCache?: RedisTokenCache;
  /** Receives warnings (unreadable sessions). Default console. */
  logger?: { warn(message: string): void };
  /** Milliseconds since the epoch; for tests. Default: the token cache's clock, else Date.now. */
  clock?: () => number;
}

type SessionCallback<T> = (err: any, value?: T) => void;

/**
 * An express-session store (`session({ store })`) over ioredis. Structurally an express-session `Store`, declared
 * here without importing express-session's types so that apps without it still type-check.
 */
export declare class RedisSessionStore extends EventEmitter {
  constructor(options: RedisSessionStoreOptions);
  readonly prefix: string;
  /** `<prefix>{<sid>}` */
  sessionKey(sid: string): string;
  /** The session's token-cache partition key, or null without `tokenCache`. */
  partitionKey(sid: string): string | null;
  get(sid: string, callback?: SessionCallback<any>): Promise<any | null>;
  set(sid: string, session: any, callback?: SessionCallback<void>): Promise<void>;
  touch(sid: string, session: any, callback?: SessionCallback<void>): Promise<void>;
  destroy(sid: string, callback?: SessionCallback<void>): Promise<void>;
  all(callback?: SessionCallback<any[]>): Promise<any[]>;
  length(callback?: SessionCallback<number>): Promise<number>;
  clear(callback?: SessionCallback<void>): Promise<void>;
  regenerate(req: any, callback: (err?: any) => any): void;
  load(sid: string, callback: (err: any, session?: any) => any): void;
  createSession(req: any, session: any): any;
}
