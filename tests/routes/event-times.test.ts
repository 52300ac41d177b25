import { afterAll, beforeAll, expect, test } from 'bun:test';
import postgres from 'postgres';
import { openDatabase } from '../../src/db/client';
import { EARLIEST_INSTANT, LATEST_INSTANT } from '../../src/lib/storable';
import { createTestDatabaseUrl, usingPostgres } from '../support/database';
import { expectError, login, startTestServer, type TestServer } from '../support/server';

/**
 * `startsAt` goes into PostgreSQL and comes back through Date: every time the API accepts must
 * come back as it was sent, including when the database's default time zone is not UTC.
 */

let server: TestServer;
let token: string;

beforeAll(async () => {
  const url = await createTestDatabaseUrl();
  if (usingPostgres()) {
    // Amsterdam kept local mean time (+00:19:32) until 1937: a session in that zone writes such
    // times with an offset Date cannot read.
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    await admin.unsafe(`alter database "${new URL(url).pathname.slice(1)}" set timezone = 'Europe/Amsterdam'`);
    await admin.end();
  }
  server = await startTestServer({ database: await openDatabase(url) });
  token = await login(server);
}, 60_000);
afterAll(async () => {
  await server.stop();
  await server.database.close();
});

test('times from the first to the last accepted instant come back exactly as sent', async () => {
  const times = [EARLIEST_INSTANT.toISOString(), '1920-06-15T12:00:00.000Z', '1999-12-31T23:59:59.999Z', LATEST_INSTANT.toISOString()];
  for (const startsAt of times) {
    const created = await server.request('POST', '/api/events', { token, body: { name: 'Time test', startsAt, capacity: 1 } });
    expect(created.status).toBe(201);
    expect(created.body.event.startsAt).toBe(startsAt);
    const read = await server.request('GET', `/api/events/${created.body.event.id}`);
    expect(read.status).toBe(200);
    expect(read.body.event.startsAt).toBe(startsAt);
  }
});

test('an offset is applied: the same instant written in another zone is stored as UTC', async () => {
  const created = await server.request('POST', '/api/events', { token, body: { name: 'Offset', startsAt: '2031-06-01T21:30:00+02:00', capacity: 1 } });
  expect(created.status).toBe(201);
  expect(created.body.event.startsAt).toBe('2031-06-01T19:30:00.000Z');
});

test('one millisecond outside the range either way → 400 validation_error naming startsAt', async () => {
  for (const startsAt of ['1899-12-31T23:59:59.999Z', '1900-01-01T00:59:59.999+01:00', '9999-12-31T23:59:59.999-00:01']) {
    const response = await server.request('POST', '/api/events', { token, body: { name: 'Out of range', startsAt, capacity: 1 } });
    expectError(response, 400, 'validation_error');
    expect(response.body.error.details.map((problem: { field: string }) => problem.field)).toEqual(['startsAt']);
  }
});
