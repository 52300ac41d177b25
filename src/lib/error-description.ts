/**
 * What may be logged about an unexpected error: its class and the driver's or system's own code,
 * read down the `cause` chain. Never its message or stack: Drizzle's message is the SQL text and
 * every parameter (a registration's email, name and argon2id hash), and a driver's may quote
 * the row it refused.
 */
export interface ErrorDescription {
  /** Class names from the outermost error down its causes, e.g. `DrizzleQueryError < PostgresError`. */
  errorClass: string;
  /** PostgreSQL's SQLSTATE, e.g. `23505`. */
  sqlState?: string;
  /** A system or driver code such as `ECONNREFUSED`. */
  code?: string;
  errno?: number;
}

/** SQLSTATE classes are two digits or one of PostgreSQL's lettered ones; `EPIPE` is not one. */
const SQLSTATE = /^(?:[0-9]{2}|F0|HV|P0|XX)[0-9A-Z]{3}$/;

const MAX_CAUSE_DEPTH = 5;

function classOf(error: object): string {
  const constructorName = error.constructor?.name;
  if (constructorName && constructorName !== 'Error' && constructorName !== 'Object') return constructorName;
  return error instanceof Error ? error.name : typeof error;
}

export function describeError(error: unknown): ErrorDescription {
  if (typeof error !== 'object' || error === null) return { errorClass: typeof error };
  const classes: string[] = [];
  const description: Omit<ErrorDescription, 'errorClass'> = {};
  let current: unknown = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && typeof current === 'object' && current !== null; depth++) {
    classes.push(classOf(current));
    const { code, errno } = current as { code?: unknown; errno?: unknown };
    if (typeof code === 'string') {
      if (SQLSTATE.test(code)) description.sqlState ??= code;
      else if (/^[A-Z][A-Z0-9_]{1,63}$/.test(code)) description.code ??= code;
    }
    if (typeof errno === 'number') description.errno ??= errno;
    current = 'cause' in current ? current.cause : undefined;
  }
  return { errorClass: classes.join(' < '), ...description };
}
