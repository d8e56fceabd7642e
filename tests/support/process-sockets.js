'use strict';
// The TCP sockets a process holds, read from Linux's /proc (its socket inodes matched against /proc/net/tcp{,6}):
// for tests that check which ports a server listens on, or which connections a child process opened.

const fs = require('node:fs');

const LISTEN = '0A';

/** @returns {Array<{ port: number, listening: boolean }>} the local port and state of each TCP socket of `pid` */
function tcpSocketsOf(pid) {
  const inodes = new Set();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]);
    } catch {
      // closed meanwhile
    }
  }
  const sockets = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(table)) continue;
    for (const row of fs.readFileSync(table, 'utf8').trim().split('\n').slice(1)) {
      const [, local, , state, , , , , , inode] = row.trim().split(/\s+/);
      if (inodes.has(inode)) sockets.push({ port: parseInt(local.split(':').pop(), 16), listening: state === LISTEN });
    }
  }
  return sockets;
}

module.exports = { tcpSocketsOf };
