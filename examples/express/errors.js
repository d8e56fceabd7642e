'use strict';
// Turns any error into a clear page (or JSON) with the right status, and never a stack trace: the details of an
// unexpected error go to the server's log only.

const { AuthError, InteractionRequiredAuthError, ServerError } = require('@azure/msal-node');
const { CacheStoreError } = require('../../js/errors');

/** An error the app raises on purpose: its message is for the user. */
class AppError extends Error {
  /** @param {{ signIn?: boolean }} [options] signIn: offer a sign-in link */
  constructor(status, title, message, { signIn = false } = {}) {
    super(message);
    this.status = status;
    this.title = title;
    this.signIn = signIn;
  }
}

/** Redis could not be reached: the app's own 503 page (the session store and token cache say so with CacheStoreError). */
function storeUnavailable() {
  return new AppError(503, 'Token cache unavailable', 'The token cache (Redis) cannot be reached. Please try again shortly.');
}

/**
 * A sign-out the token cache could not complete (Redis failed, or its replica did not confirm the sign-out in time:
 * signOutReplicas). The user is still signed in and can try again; never a "signed out" page.
 */
function signOutFailed() {
  return new AppError(503, 'Sign-out not completed', 'You are still signed in: the token cache (Redis) did not confirm '
    + 'the sign-out. Please try again.');
}

const RETRY_AFTER_SECONDS = 5; // a 503 tells clients when to try again

const MSAL_MESSAGES = {
  state_mismatch: [400, 'Sign-in failed', 'The sign-in response does not belong to this browser\'s sign-in request (state mismatch). Please sign in again.'],
  state_not_found: [400, 'Sign-in failed', 'The sign-in response carried no state. Please sign in again.'],
  nonce_mismatch: [400, 'Sign-in failed', 'The ID token does not belong to this sign-in request (nonce mismatch). Please sign in again.'],
};

/** The AppError for one of msal's sign-in errors above, when the app finds it first (state_mismatch in auth.js). */
function signInError(errorCode) {
  const [status, title, message] = MSAL_MESSAGES[errorCode];
  return new AppError(status, title, message, { signIn: true });
}

/** @returns {{ status: number, title: string, message: string, signIn: boolean }} */
function describeError(err) {
  if (err instanceof AppError) return { status: err.status, title: err.title, message: err.message, signIn: err.signIn };
  if (err instanceof InteractionRequiredAuthError) {
    return { status: 401, title: 'Please sign in again', message: `Your sign-in can no longer be renewed silently (${err.errorCode}).`, signIn: true };
  }
  if (err instanceof AuthError && MSAL_MESSAGES[err.errorCode]) return describeError(signInError(err.errorCode));
  if (err instanceof ServerError) {
    // The identity provider's own answer (AADSTS code and text) is what a developer needs, and holds no secret.
    const description = String(err.errorMessage || err.message).split(/\r?\n/)[0];
    return { status: 502, title: 'The identity provider refused the request', message: `${err.errorCode}: ${description}`, signIn: true };
  }
  if (err instanceof CacheStoreError) return describeError(storeUnavailable());
  // body-parser and friends set a 4xx status on errors caused by the request.
  const status = Number(err && (err.status || err.statusCode));
  if (status >= 400 && status < 500) return { status, title: 'Bad request', message: err.expose ? err.message : 'The request could not be processed.', signIn: false };
  if (status === 502) return { status, title: 'Downstream API error', message: err.message, signIn: false };
  return { status: 500, title: 'Something went wrong', message: 'An unexpected error occurred; it has been logged.', signIn: false };
}

/** The app's last middleware. `renderError(req, problem)` draws the error page. */
function errorHandler({ logger, renderError }) {
  // Express recognises an error handler by its four parameters.
  // eslint-disable-next-line no-unused-vars
  return (err, req, res, next) => {
    const problem = describeError(err);
    if (problem.status >= 500) logger.error(`${req.method} ${req.path} failed:`, err);
    if (res.headersSent) return res.end();
    res.status(problem.status);
    if (problem.status === 503) res.set('Retry-After', String(RETRY_AFTER_SECONDS));
    return res.format({
      html: () => res.send(String(renderError(req, problem))),
      json: () => res.json({ error: problem.title, message: problem.message }),
      default: () => res.type('text').send(`${problem.title}: ${problem.message}`),
    });
  };
}

module.exports = { AppError, storeUnavailable, signOutFailed, signInError, describeError, errorHandler };
