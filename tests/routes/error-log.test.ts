import { afterAll, beforeAll, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { describeError } from '../../src/lib/error-description';
import { createLogger } from '../../src/lib/logger';
import { startTestServer, type TestServer } from '../support/server';

/**
 * A 500's log line says what failed (error class, SQLSTATE or system code, route, request id)
 * and nothing the request carried: no body, no SQL text, no parameters, no hash, no token.
 */

let server: TestServer;
const logLines: string[] = [];
const entries = () => logLines.map((line) => JSON.parse(line) as Record<string, unknown>);

beforeAll(async () => {
  server = await startTestServer({ seed: false, logger: createLogger('info', (line) => logLines.push(line)) });
}, 60_000);
afterAll(() => server.stop());

test('a registration that fails in the database: 500, and the log line names the cause but holds no email, name, hash or SQL', async () => {
  const before = await server.request('POST', '/api/auth/register', { body: { email: 'first@example.com', password: 'first-password' } });
  expect(before.status).toBe(201);
  // A real database failure: the column the insert writes is gone from this test's own database.
  await server.database.db.execute(sql`alter table users rename column name to display_name`);

  const email = 'Private.Person@example.com';
  const name = 'Private Person';
  const password = 'correct horse battery staple';
  const response = await server.request('POST', '/api/auth/register', { body: { email, password, name }, headers: { 'x-request-id': 'forced-500' } });
  expect(response.status).toBe(500);
  expect(response.body).toEqual({ error: { code: 'internal_error', message: 'Internal server error' } });

  const log = logLines.join('\n');
  for (const secret of [email, email.toLowerCase(), name, password, '$argon2id$', 'argon2', 'insert into', '"users"', 'params', 'password_hash', ' at ', '.ts:', '.js:']) {
    expect(log).not.toContain(secret);
  }
  const failure = entries().find((entry) => entry.msg === 'unexpected error' && entry.requestId === 'forced-500');
  expect(failure).toMatchObject({ level: 'error', method: 'POST', route: '/api/auth/register', sqlState: '42703' });
  expect(String(failure!.errorClass)).toMatch(/\w/);
  await server.database.db.execute(sql`alter table users rename column display_name to name`);
});

test('a login that fails in the database: the email it looked up stays out of the log', async () => {
  await server.database.db.execute(sql`alter table users rename to people`);
  try {
    const response = await server.request('POST', '/api/auth/login', { body: { email: 'Someone.Secret@example.com', password: 'whatever' }, headers: { 'x-request-id': 'forced-login-500' } });
    expect(response.status).toBe(500);
  } finally {
    await server.database.db.execute(sql`alter table people rename to users`);
  }
  expect(entries().find((entry) => entry.requestId === 'forced-login-500' && entry.msg === 'unexpected error')).toMatchObject({ route: '/api/auth/login', sqlState: '42P01' });
  expect(logLines.join('\n')).not.toMatch(/someone\.secret|select |lower\(/i);
});

test('describeError: an unreachable database is told by its system code, without its address', async () => {
  // Port 1 on the loopback: nothing listens, so the driver's connect is refused.
  const client = postgres('postgres://postgres@127.0.0.1:1/none', { max: 1, connect_timeout: 5, onnotice: () => {} });
  const error = await client`select 1`.then(() => null, (failure: unknown) => failure);
  await client.end({ timeout: 1 });
  const description = describeError(error);
  expect(description).toMatchObject({ code: 'ECONNREFUSED' });
  expect(typeof description.errno).toBe('number');
  expect(JSON.stringify(description)).not.toContain('127.0.0.1');
});
