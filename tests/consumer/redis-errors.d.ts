// ioredis 6.1's declarations import 'redis-errors', which ships no types: with skipLibCheck false (as here, so that
// msal-redis-cache's own declarations are checked) a strict TypeScript app needs this one line (TS7016 otherwise).
declare module 'redis-errors';
