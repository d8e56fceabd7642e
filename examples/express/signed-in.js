'use strict';
// Who is signed in to this session, for the pages that need someone: the user the session remembers, and their
// msal account as this session's token-cache partition holds it.

const { AppError } = require('./errors');

const notSignedIn = () => new AppError(401, 'You are not signed in', 'Sign in to see this page.', { signIn: true });

/**
 * The signed-in user's msal AccountInfo. Reading it makes msal load the session's partition from Redis (the
 * plugin's beforeCacheAccess).
 * @throws {AppError} 401 when no one is signed in, or when the partition holds no account any more (expired,
 *   deleted or unreadable): then the session forgets the user too
 */
async function signedInAccount(req, msal) {
  const signedIn = req.session.account;
  if (!signedIn) throw notSignedIn();
  const account = await msal.getTokenCache().getAccountByHomeId(signedIn.homeAccountId);
  if (!account) {
    delete req.session.account;
    throw new AppError(401, 'Please sign in again', 'This session\'s token cache is empty (it expired or could not be read).', { signIn: true });
  }
  return account;
}

module.exports = { notSignedIn, signedInAccount };
