'use strict';
// The least-privilege Redis user that README.md documents, for the tests that run the package as that user. The
// line is read from README.md (the fenced code block right after the `<!-- redis-acl -->` marker), never copied,
// so the tests check exactly what users are told to configure.

const fs = require('node:fs');
const path = require('node:path');

const MARKER = '<!-- redis-acl -->';
const README = path.join(__dirname, '../../README.md');

/** The ACL file line documented in README.md: `user <name> on >CHANGE-ME ~... -@all +...`. */
function documentedAclLine() {
  const source = README;
  const text = fs.readFileSync(README, 'utf8');
  const at = text.indexOf(MARKER);
  if (at < 0) throw new Error(`${source}: no ${MARKER} marker`);
  const block = /^\s*```[^\n]*\n([\s\S]*?)\n```/.exec(text.slice(at + MARKER.length));
  if (!block) throw new Error(`${source}: no fenced code block right after ${MARKER}`);
  const lines = block[1].split('\n').map((line) => line.trim()).filter(Boolean);
  if (lines.length !== 1 || !/^user \S+ /.test(lines[0])) {
    throw new Error(`${source}: the block after ${MARKER} must hold one ACL file line "user <name> <rules>"`);
  }
  return lines[0];
}

/**
 * The documented user with a real password in place of the placeholder.
 * @returns {{ documented: string, line: string, username: string, rules: string[], commands: string[] }}
 *   line: for startRedis({ aclUsers: [line] }); commands: the `+command` rules, lower case, without the `+`
 */
function documentedAclUser(password) {
  const documented = documentedAclLine();
  const rules = documented.split(/\s+/).slice(2);
  if (rules.filter((rule) => rule.startsWith('>')).length !== 1) {
    throw new Error(`the documented ACL line must set exactly one password (">..."): ${documented}`);
  }
  const withPassword = rules.map((rule) => (rule.startsWith('>') ? `>${password}` : rule));
  const username = documented.split(/\s+/)[1];
  return {
    documented,
    line: `user ${username} ${withPassword.join(' ')}`,
    username,
    rules,
    commands: rules.filter((rule) => rule.startsWith('+')).map((rule) => rule.slice(1).toLowerCase()),
  };
}

module.exports = { documentedAclLine, documentedAclUser, MARKER };
