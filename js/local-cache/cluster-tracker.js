'use strict';
// The in-process cache on a Redis Cluster: one invalidation listener (invalidation-listener.js) per master, each
// tracking (BCAST, the package's prefixes) on its own connection to that master, following the client's view of the
// Cluster. A master sends invalidations only for the writes it runs itself, so the cache is coherent only while every
// master that holds slots is tracked; the rule here is simple on purpose, correctness before hit rate:
//
//   - the cache serves hits only while every master of the client's current slot map has a listener that is tracking,
//     and the last role check found each of them still a master;
//   - on any change (a listener down, a master added or removed, any slot moved, a tracked node no longer a master)
//     the whole cache is suspended at once, and once every master tracks again it is resumed, which drops every entry
//     (LocalCache.resume): not only the affected node's, since a key whose slot moved may have been written on its new
//     master before that master's listener tracked;
//   - the client's view is checked on every lookup (a cheap comparison; see the driver's clusterView), so a read served
//     by a master the client just learnt of (a MOVED) is not cached before its listener tracks;
//   - a master demoted to a replica (a manual failover, CLUSTER FAILOVER) keeps its connections; it reports the writes
//     of its successor only as it replicates them (a replication lag later; checked on Redis 7.0), and none while its
//     link to the successor is down: every ROLE_CHECK_MS each tracked master is asked for its role (INFO replication,
//     through the app's client); a node that is no longer a master, or does not answer, suspends the cache and makes
//     the client read the slot map again. A master killed outright closes its listener's connection, which suspends
//     the cache at once.
//
// So between a manual failover and the next role check (at most ROLE_CHECK_MS, plus the answer) another server's write
// on the new master reaches this cache only through the old master's replication, or not at all if that link is down:
// the README says so. Slot migrations between masters that are tracked lose nothing (BCAST tracks every key of the
// prefixes on the node, whichever slot it came from); the cache is flushed all the same.

const { InvalidationListener } = require('./invalidation-listener');

const ROLE_CHECK_MS = 1000;
const ROLE_TIMEOUT_MS = 1000;

class ClusterTracker {
  /**
   * @param {object} driver a Cluster client's driver (js/redis/driver.js: clusterView, trackingConnection(handlers,
   *   node), nodeRole, refreshTopology, onTopologyChange)
   * @param {{ prefix: string, localCache: import('./local-cache').LocalCache, logger: { warn(m: string): void },
   *   onTracking?: () => void }} options
   */
  constructor(driver, { prefix, localCache, logger, onTracking = () => {} }) {
    this.driver = driver;
    this.prefix = prefix;
    this.localCache = localCache;
    this.logger = logger;
    this.onTracking = onTracking;
    this.listeners = new Map(); // master id (host:port) -> InvalidationListener
    this.version = null; // the client's view the listeners follow
    this.rolesOk = false; // the last role check found every tracked node a master
    this.started = false;
    this.closed = false;
    this.timer = null;
    this.checking = false;
    this.pendingRoles = new Map(); // id -> the role question still unanswered
    this.unsubscribe = () => {};
    // The cache asks before each lookup and each store whether the view it relies on is still the client's.
    localCache.isCurrent = () => this.#current();
  }

  start() {
    if (this.started || this.closed) return;
    this.started = true;
    this.unsubscribe = this.driver.onTopologyChange(() => this.#current());
    this.#follow();
    this.#checkRoles();
  }

  async close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.unsubscribe();
    this.localCache.suspend();
    await Promise.all([...this.listeners.values()].map((listener) => listener.close()));
    this.listeners.clear();
  }

  /** Whether the client's view is the one tracked; when it is not, suspends the cache and follows the new one. */
  #current() {
    if (!this.started || this.closed) return false;
    if (this.driver.clusterView().version === this.version) return true;
    this.#follow();
    return false;
  }

  /** Suspends, then opens listeners for the masters of the client's current view and closes the others'. */
  #follow() {
    const view = this.driver.clusterView();
    this.localCache.suspend();
    this.version = view.version;
    this.rolesOk = false; // a new master is checked by its listener (requireMaster) and by the next role check
    const wanted = new Set(view.masters);
    for (const [id, listener] of this.listeners) {
      if (wanted.has(id)) continue;
      this.listeners.delete(id);
      listener.close();
    }
    for (const id of wanted) {
      if (this.listeners.has(id)) continue;
      const listener = new InvalidationListener((handlers) => this.driver.trackingConnection(handlers, id), {
        prefix: this.prefix,
        logger: this.logger,
        requireMaster: true,
        name: ` to ${id}`,
        sink: {
          down: () => this.localCache.suspend(),
          tracking: () => this.#resumeIfComplete(),
          invalidate: (key) => this.localCache.invalidate(key),
          flush: () => this.localCache.flush(),
        },
      });
      this.listeners.set(id, listener);
      listener.start();
    }
    this.#scheduleRoleCheck(0);
  }

  #resumeIfComplete() {
    if (this.closed || this.localCache.coherent || !this.rolesOk) return;
    if (!this.#current()) return; // the view changed while suspended: followed now, resumed once that one tracks
    // Never on a view without masters, or with slots nobody owns (a client that has not read the slot map yet).
    if (this.listeners.size === 0 || !this.driver.clusterView().covered) return;
    for (const listener of this.listeners.values()) if (!listener.tracking) return;
    this.localCache.resume(); // drops every entry: see the top of this file
    this.onTracking();
  }

  /**
   * The node's role; while an earlier question to it is still unanswered (a node down: the client may queue commands
   * until it is back), that one is awaited instead of sending another, so that an outage does not pile them up.
   */
  #askRole(id) {
    let asked = this.pendingRoles.get(id);
    if (!asked) {
      asked = Promise.resolve().then(() => this.driver.nodeRole(id));
      this.pendingRoles.set(id, asked);
      const settled = () => { if (this.pendingRoles.get(id) === asked) this.pendingRoles.delete(id); };
      asked.then(settled, settled);
    }
    return asked;
  }

  #scheduleRoleCheck(delay) {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.#checkRoles(), delay);
    this.timer.unref();
  }

  async #checkRoles() {
    if (this.closed || this.checking) return;
    this.checking = true;
    const { version } = this;
    try {
      const ids = [...this.listeners.keys()];
      const roles = await Promise.all(ids.map((id) => withTimeout(this.#askRole(id), ROLE_TIMEOUT_MS).catch(() => null)));
      if (this.closed || version !== this.version) return; // the view changed meanwhile: #follow checks again
      const demoted = ids.filter((id, i) => roles[i] !== 'master');
      if (demoted.length === 0) {
        this.rolesOk = true;
        this.#resumeIfComplete();
        return;
      }
      // A node the client takes for a master is not one (or did not answer): nothing is served until the client's
      // view is right again, and every master of it tracks.
      this.rolesOk = false;
      this.localCache.suspend();
      this.driver.refreshTopology();
    } finally {
      this.checking = false;
      // Read afresh: ioredis moves a slot in place on a MOVED, with no event when the new owner is a node it knew.
      if (!this.closed) this.driver.clusterView({ fresh: true });
      if (!this.closed) this.#current();
      this.#scheduleRoleCheck(this.rolesOk ? ROLE_CHECK_MS : Math.min(ROLE_CHECK_MS, 200));
    }
  }
}

function withTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

module.exports = { ClusterTracker, ROLE_CHECK_MS };
