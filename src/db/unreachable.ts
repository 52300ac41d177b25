/**
 * "The database cannot be reached" as one question, asked by the app's onError (→ 503
 * `database_unavailable`) and by the pool's availability gate. Everything else a query can throw
 * (a constraint, a bad statement, a statement timeout) is not an outage.
 */

/** Thrown without asking the database while it is known to be unreachable. */
export class DatabaseUnavailableError extends Error {
  readonly code = 'DATABASE_UNAVAILABLE';
  constructor(message = 'the database is unreachable') {
    super(message);
    this.name = 'DatabaseUnavailableError';
  }
}

/** Socket errors and postgres.js's own connection codes: no answer from the server at all. */
const connectionCodes = new Set([
  'DATABASE_UNAVAILABLE',
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
]);

/**
 * SQLSTATEs of a server that is going away or not taking sessions: 57P01 admin_shutdown (also a
 * terminated backend), 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up, shutting
 * down); and class 08, connection exceptions. Not 53300 (too many connections): that server is
 * up and busy, and the gate must not take it for an outage.
 */
const unavailableStates = new Set(['57P01', '57P02', '57P03']);

function codeOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** Looks through wrappers (Drizzle's "Failed query" keeps the driver's error as `cause`). */
export function isDatabaseUnreachable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    if (current instanceof DatabaseUnavailableError) return true;
    const code = codeOf(current);
    if (code !== undefined && (connectionCodes.has(code) || unavailableStates.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
    current = 'cause' in current ? current.cause : undefined;
  }
  return false;
}
