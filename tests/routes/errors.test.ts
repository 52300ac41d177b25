import { afterAll, beforeAll, expect, test } from 'bun:test';
import { MAX_BODY_BYTES } from '../../src/app';
import type { DatabaseHandle } from '../../src/db/client';
import { createLogger } from '../../src/lib/logger';
import { login, openTestDatabase, startTestServer, type TestServer } from '../support/server';

/**
 * Every error code the HTTP API can produce leaves in SPEC's one shape:
 * `{error: {code, message, ...}}`, JSON content type, the fitting status, no internals.
 */

let database: DatabaseHandle;
let server: TestServer;
const logLines: Record<string, unknown>[] = [];
let testToken: string;
let aliceToken: string;

interface Answer {
  status: number;
  contentType: string | null;
  requestId: string | null;
  text: string;
  body: any;
}

async function call(method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const { status, headers, text, body } = await server.request(method, path, options);
  return { status, contentType: headers.get('content-type'), requestId: headers.get('x-request-id'), text, body: body === text ? undefined : body };
}

const allowedExtras: Record<string, string[]> = {
  validation_error: ['details'],
  sold_out: ['availableSeats'],
  capacity_below_booked: ['bookedSeats'],
};

/** The one error shape, and nothing a user should not see. */
function expectErrorShape(answer: Answer, status: number, code: string) {
  expect(answer.status).toBe(status);
  expect(answer.contentType).toMatch(/^application\/json/);
  expect(Object.keys(answer.body)).toEqual(['error']);
  expect(answer.body.error.code).toBe(code);
  expect(typeof answer.body.error.message).toBe('string');
  expect(answer.body.error.message.length).toBeGreaterThan(0);
  const extras = Object.keys(answer.body.error).filter((key) => key !== 'code' && key !== 'message');
  for (const key of extras) expect(allowedExtras[code] ?? []).toContain(key);
  // No stack frames, source paths, SQL or driver names.
  expect(answer.text).not.toMatch(/\bat \S+ \(|\.ts:\d+|node_modules|\b(select|insert|update|delete)\b.*\b(from|into|set)\b|postgres|pglite|drizzle|SQLSTATE/i);
  expect(answer.requestId).toBeTruthy();
}

beforeAll(async () => {
  database = await openTestDatabase();
  server = await startTestServer({
    database,
    config: { logLevel: 'info' },
    logger: createLogger('info', (line) => logLines.push(JSON.parse(line))),
  });
  [testToken, aliceToken] = await Promise.all([login(server), login(server, 'alice@example.com')]);
}, 60_000);
afterAll(async () => {
  await server.stop();
  await database.close();
});

test('validation_error: 400 with a details list of field problems', async () => {
  const answer = await call('POST', '/api/bookings', { token: testToken, body: { quantity: 'abc' } });
  expectErrorShape(answer, 400, 'validation_error');
  const fields = answer.body.error.details.map((problem: { field: string }) => problem.field).sort();
  expect(fields).toEqual(['eventId', 'quantity']);
  for (const problem of answer.body.error.details) expect(Object.keys(problem).sort()).toEqual(['field', 'message']);
});

test('validation_error also covers query, params and headers', async () => {
  expectErrorShape(await call('GET', '/api/events?limit=501'), 400, 'validation_error');
  expectErrorShape(await call('GET', '/api/events/abc'), 400, 'validation_error');
  expectErrorShape(await call('POST', '/api/bookings', { token: testToken, body: { eventId: 1 }, headers: { 'idempotency-key': 'k'.repeat(256) } }), 400, 'validation_error');
});

test('bad_request: malformed JSON', async () => {
  for (const body of ['{"eventId":', '{eventId: 1}', 'not json']) {
    const answer = await call('POST', '/api/bookings', { token: testToken, body });
    expectErrorShape(answer, 400, 'bad_request');
  }
  expectErrorShape(await call('POST', '/api/auth/login', { body: '{"email":"test@example.com",' }), 400, 'bad_request');
});

test('unauthorized: protected route without a token', async () => {
  expectErrorShape(await call('GET', '/api/bookings'), 401, 'unauthorized');
  expectErrorShape(await call('POST', '/api/events', { token: 'garbage', body: {} }), 401, 'unauthorized');
  // A bad token on a route where a token is optional is still refused, not ignored.
  expectErrorShape(await call('GET', '/api/events', { token: 'garbage' }), 401, 'unauthorized');
});

test('invalid_credentials', async () => {
  expectErrorShape(await call('POST', '/api/auth/login', { body: { email: 'test@example.com', password: 'wrong-password' } }), 401, 'invalid_credentials');
});

test('forbidden: patching someone else\'s published event', async () => {
  expectErrorShape(await call('PATCH', '/api/events/1', { token: aliceToken, body: { name: 'Taken over' } }), 403, 'forbidden');
});

test('not_found: unknown route or method', async () => {
  expectErrorShape(await call('GET', '/no/such/route'), 404, 'not_found');
  expectErrorShape(await call('DELETE', '/api/events/1', { token: testToken }), 404, 'not_found');
  expectErrorShape(await call('GET', '/api/nothing-here'), 404, 'not_found');
});

test('event_not_found: missing event, and someone else\'s draft', async () => {
  expectErrorShape(await call('GET', '/api/events/999999'), 404, 'event_not_found');
  expectErrorShape(await call('GET', '/api/events/5', { token: aliceToken }), 404, 'event_not_found');
  expectErrorShape(await call('POST', '/api/bookings', { token: aliceToken, body: { eventId: 999999 } }), 404, 'event_not_found');
});

test('booking_not_found', async () => {
  expectErrorShape(await call('GET', '/api/bookings/999999', { token: testToken }), 404, 'booking_not_found');
  expectErrorShape(await call('DELETE', '/api/bookings/999999', { token: testToken }), 404, 'booking_not_found');
});

test('email_taken', async () => {
  expectErrorShape(await call('POST', '/api/auth/register', { body: { email: 'ALICE@example.com', password: 'password123' } }), 409, 'email_taken');
});

test('sold_out carries availableSeats', async () => {
  // Event 4 of the demo data has 5 seats.
  const answer = await call('POST', '/api/bookings', { token: aliceToken, body: { eventId: 4, quantity: 6 } });
  expectErrorShape(answer, 409, 'sold_out');
  expect(answer.body.error.availableSeats).toBe(5);
  expect(answer.body.error.message).toBe('Only 5 seats left');
});

test('already_cancelled', async () => {
  const booked = await call('POST', '/api/bookings', { token: aliceToken, body: { eventId: 2 } });
  expect(booked.status).toBe(201);
  expect((await call('DELETE', `/api/bookings/${booked.body.booking.id}`, { token: aliceToken })).status).toBe(200);
  expectErrorShape(await call('DELETE', `/api/bookings/${booked.body.booking.id}`, { token: aliceToken }), 409, 'already_cancelled');
});

test('capacity_below_booked', async () => {
  const created = await call('POST', '/api/events', { token: testToken, body: { name: 'Small room', startsAt: '2030-01-01T20:00:00Z', capacity: 5 } });
  expect(created.status).toBe(201);
  const eventId = created.body.event.id;
  expect((await call('POST', '/api/bookings', { token: aliceToken, body: { eventId, quantity: 3 } })).status).toBe(201);
  const answer = await call('PATCH', `/api/events/${eventId}`, { token: testToken, body: { capacity: 2 } });
  expectErrorShape(answer, 409, 'capacity_below_booked');
});

test('idempotency_conflict', async () => {
  const headers = { 'idempotency-key': 'errors-test-key' };
  expect((await call('POST', '/api/bookings', { token: aliceToken, body: { eventId: 2, quantity: 1 }, headers })).status).toBe(201);
  expectErrorShape(await call('POST', '/api/bookings', { token: aliceToken, body: { eventId: 2, quantity: 2 }, headers }), 409, 'idempotency_conflict');
});

test('payload_too_large: a body over 64 KiB', async () => {
  const body = JSON.stringify({ email: 'x'.repeat(MAX_BODY_BYTES), password: 'password' });
  expect(body.length).toBeGreaterThan(64 * 1024);
  expectErrorShape(await call('POST', '/api/auth/login', { body }), 413, 'payload_too_large');
  expectErrorShape(await call('POST', '/api/bookings', { token: testToken, body: { eventId: 1, padding: 'p'.repeat(70_000) } }), 413, 'payload_too_large');
  // Just under the limit is parsed normally (and fails validation instead).
  const fits = JSON.stringify({ email: 'x'.repeat(60_000), password: 'password' });
  expectErrorShape(await call('POST', '/api/auth/register', { body: fits }), 400, 'validation_error');
});

test('payload_too_large: a chunked body (no Content-Length) over 64 KiB is refused while it streams', async () => {
  const bytes = new TextEncoder().encode(JSON.stringify({ eventId: 1, padding: 'p'.repeat(100_000) }));
  const chunked = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let offset = 0; offset < bytes.length; offset += 8192) controller.enqueue(bytes.slice(offset, offset + 8192));
      controller.close();
    },
  });
  const bookingsBefore = (await call('GET', '/api/bookings', { token: testToken })).body;
  const response = await fetch(`http://127.0.0.1:${server.port}/api/bookings`, {
    method: 'POST',
    headers: { authorization: `Bearer ${testToken}`, 'content-type': 'application/json' },
    body: chunked,
    duplex: 'half',
  } as RequestInit);
  const text = await response.text();
  expectErrorShape({ status: response.status, contentType: response.headers.get('content-type'), requestId: response.headers.get('x-request-id'), text, body: JSON.parse(text) }, 413, 'payload_too_large');
  expect((await call('GET', '/api/bookings', { token: testToken })).body).toEqual(bookingsBefore);
});

test('internal_error: no internals leak, the request id is logged, and the server keeps serving', async () => {
  expect((await call('GET', '/health')).status).toBe(200);
  // The database disappears under the running server: every route that needs it fails unexpectedly.
  await database.close();

  const health = await call('GET', '/health');
  expect(health.status).toBe(503);
  expect(health.contentType).toMatch(/^application\/json/);

  const list = await call('GET', '/api/events');
  expectErrorShape(list, 500, 'internal_error');
  const booking = await call('POST', '/api/bookings', { token: aliceToken, body: { eventId: 1 } });
  expectErrorShape(booking, 500, 'internal_error');

  // Logged server-side with the request id the client saw, and the detail stays in the log.
  const logged = logLines.filter((line) => line.msg === 'unexpected error');
  expect(logged.map((line) => line.requestId)).toEqual(expect.arrayContaining([list.requestId, booking.requestId]));
  expect(String(logged[0]!.errorClass).length).toBeGreaterThan(0);
  // Tokens never reach the logs.
  expect(JSON.stringify(logLines)).not.toContain(aliceToken);

  // Still serving: routes that need no database answer as before.
  expectErrorShape(await call('GET', '/no/such/route'), 404, 'not_found');
  expectErrorShape(await call('GET', '/api/bookings'), 401, 'unauthorized');
  expect((await call('GET', '/metrics')).status).toBe(200);
});
