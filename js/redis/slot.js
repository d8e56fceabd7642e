'use strict';
// The Redis Cluster hash slot of a key (CRC16/XMODEM of the key, or of its hash tag, mod 16384), as Redis and both
// clients compute it. The drivers need it to find the node that served a key's write (WAIT has no key to route by);
// computed here rather than borrowed from a client's dependency (cluster-key-slot), which an app's install need not
// expose to this package.

const TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let crc = i << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  TABLE[i] = crc;
}

/** The slot of `key` (a string, as the package names keys: UTF-8 bytes). */
function slotOf(key) {
  let bytes = Buffer.from(key, 'utf8');
  // A hash tag: the part between the first "{" and the first "}" after it, when not empty.
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff];
  return crc & 16383;
}

module.exports = { slotOf };
