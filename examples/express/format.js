'use strict';
// How the pages write times and durations: "3 minutes ago", "in 13 days", "23 hours 59 minutes". Server-side, so
// the pages need no script (the Content-Security-Policy allows none inline).

// numeric 'always': "in 1 day", not "tomorrow" (which reads as a calendar day).
const relative = new Intl.RelativeTimeFormat('en', { numeric: 'always' });

const UNITS = [
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

/** "3 minutes ago", "in 2 hours", "now": the nearest whole unit. */
function relativeTime(epochSeconds, nowSeconds) {
  const delta = epochSeconds - nowSeconds;
  const size = Math.abs(delta);
  if (size < 1) return 'now';
  // Switch to the next unit up a little before it is reached (45 s reads better as "1 minute ago").
  const [unit, seconds] = UNITS.find(([, length]) => size >= length * 0.75) || UNITS[UNITS.length - 1];
  return relative.format(Math.round(delta / seconds), unit);
}

/** "2025-11-24 10:02:11 UTC" */
function absoluteTime(epochSeconds) {
  return `${new Date(epochSeconds * 1000).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** "13 days 23 hours", "9 minutes 58 seconds": the two largest units. */
function duration(totalSeconds) {
  const parts = [];
  let rest = Math.round(totalSeconds);
  for (const [unit, seconds] of UNITS) {
    const count = Math.floor(rest / seconds);
    rest -= count * seconds;
    if (count > 0 || parts.length > 0) parts.push(count > 0 ? `${count} ${unit}${count === 1 ? '' : 's'}` : null);
    if (parts.length === 2) break;
  }
  const shown = parts.filter(Boolean);
  return shown.length ? shown.join(' ') : '0 seconds';
}

module.exports = { relativeTime, absoluteTime, duration };
