/**
 * What PostgreSQL will store and give back unchanged, for checking input before it reaches a
 * query: a value the request schemas or the token check let through but the database refuses
 * would otherwise surface as a 500.
 */

/** Ids are `serial`/`integer` columns: 1 up to PostgreSQL's largest integer. */
export const MAX_ROW_ID = 2_147_483_647;

export function isRowId(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= MAX_ROW_ID;
}

/**
 * PostgreSQL's text cannot hold NUL (it refuses the statement), and a lone UTF-16 surrogate
 * has no UTF-8 form (it would be stored as U+FFFD, not as sent).
 */
export function isStorableText(text: string): boolean {
  return !text.includes('\u0000') && text.isWellFormed();
}

export const STORABLE_TEXT_RULE = 'must not contain NUL characters or unpaired surrogates';

/**
 * Instants from 1900 to the end of 9999, UTC. PostgreSQL refuses year 0 and JavaScript writes
 * years past 9999 with a sign PostgreSQL does not read; before 1900 the database's text for a
 * time may carry a local-mean-time offset or a year below 100, which Date parses wrongly
 * (`0050-…` comes back as 1950).
 */
export const EARLIEST_INSTANT = new Date('1900-01-01T00:00:00.000Z');
export const LATEST_INSTANT = new Date('9999-12-31T23:59:59.999Z');

export function isStorableInstant(instant: Date): boolean {
  const time = instant.getTime();
  return time >= EARLIEST_INSTANT.getTime() && time <= LATEST_INSTANT.getTime();
}

export const STORABLE_INSTANT_RULE = 'must be between 1900-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z';
