import { expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { DatabaseUnavailableError, isDatabaseUnreachable } from '../../src/db/unreachable';
import { openTestDatabase } from '../support/server';

/** Which failures are "the database cannot be reached" (503 database_unavailable) and which are not (src/db/unreachable.ts). */

test('a refused connection, as postgres.js and as Drizzle report it, is unreachable', async () => {
  // A port nobody listens on: bound, then released.
  const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  const client = postgres(`postgres://postgres@127.0.0.1:${port}/none`, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    const raw = await client`select 1`.then(() => null, (error: unknown) => error);
    expect(raw).toMatchObject({ code: 'ECONNREFUSED' });
    expect(isDatabaseUnreachable(raw)).toBe(true);
    const wrapped = await drizzle({ client }).execute(sql`select 1`).then(() => null, (error: unknown) => error);
    expect((wrapped as Error).message).toStartWith('Failed query');
    expect(isDatabaseUnreachable(wrapped)).toBe(true);
  } finally {
    await client.end({ timeout: 0 });
  }
});

test('connection codes and SQLSTATEs of a server going away are unreachable; query errors are not', async () => {
  for (const code of ['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT', 'ECONNRESET', 'EPIPE', '57P01', '57P02', '57P03', '08006', '08001'])
    expect({ code, unreachable: isDatabaseUnreachable(Object.assign(new Error('x'), { code })) }).toEqual({ code, unreachable: true });
  for (const code of ['23505', '23503', '57014', '40001', '53300', '55P03', undefined])
    expect({ code, unreachable: isDatabaseUnreachable(Object.assign(new Error('x'), { code })) }).toEqual({ code, unreachable: false });
  expect(isDatabaseUnreachable(new DatabaseUnavailableError())).toBe(true);
  expect(isDatabaseUnreachable(new Error('the database is closed'))).toBe(false);
  expect(isDatabaseUnreachable('ECONNREFUSED')).toBe(false);
  expect(isDatabaseUnreachable(null)).toBe(false);
});

test('a real query error (division by zero) from the test database is not an outage', async () => {
  const database = await openTestDatabase();
  try {
    const failure = await database.db.execute(sql`select 1 / 0`).then(() => null, (error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(isDatabaseUnreachable(failure)).toBe(false);
  } finally {
    await database.close();
  }
}, 30_000); // opening a fresh test database takes seconds on a busy machine
