import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import fc from 'fast-check';
import { createLogger } from '../../src/lib/logger';
import { login, registerUser, startTestServer, type TestServer } from '../support/server';

/**
 * Property: whatever a request schema is sent — bodies it accepts, and near misses (NUL, lone
 * surrogates, odd unicode, extreme numbers, dates at and past the edges PostgreSQL and Date
 * allow) — a real server on a real database never answers 5xx, and every 400 is
 * `validation_error` naming a field of the request. Seeded, so a failure reproduces; each route
 * gets a bounded number of runs (a few hundred requests in all).
 */

const SEED = 20_261_203;
// A valid registration or login costs an argon2id hash, seconds in all on a busy machine.
setDefaultTimeout(120_000);

let server: TestServer;
let organizerToken: string;
let ownEventId: number;
const unexpectedErrors: string[] = [];

beforeAll(async () => {
  server = await startTestServer({
    logger: createLogger('error', (line) => unexpectedErrors.push(line)),
    config: { logLevel: 'error' },
  });
  organizerToken = await login(server);
  const created = await server.request('POST', '/api/events', { token: organizerToken, body: { name: 'Property target', startsAt: '2031-01-01T00:00:00Z', capacity: 1_000_000 } });
  ownEventId = created.body.event.id;
}, 60_000);
afterAll(() => server.stop());

// ---- values ----

/** Characters that have broken text handling somewhere: NUL, lone surrogates, controls, BOM, RTL override, astral. */
const awkwardChar = fc.constantFrom('\u0000', '\ud800', '\udfff', '\u0001', '\u001f', '\u007f', '\u200b', '\ufeff', '\u202e', '\uffff', '😀', 'é', 'e\u0301', "'", '"', '\\', '%', '\n', ' ');
const anyUnit = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: awkwardChar },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)) },
);
/** Text with awkward characters: anywhere at random, or one for certain between plain parts. */
const awkwardText = (maxLength: number) =>
  fc.oneof(
    fc.string({ unit: anyUnit, maxLength }),
    fc.tuple(fc.string({ unit: 'grapheme', maxLength: maxLength / 2 }), awkwardChar, fc.string({ unit: 'grapheme', maxLength: maxLength / 2 })).map((parts) => parts.join('')),
  );
/** Text a schema accepts: whole graphemes (astral and combining ones included), no NUL. */
const plainText = (minLength: number, maxLength: number) => fc.string({ unit: 'grapheme', minLength, maxLength });

const extremeNumber = fc.oneof(
  fc.constantFrom(0, -1, 1, 2_147_483_647, 2_147_483_648, -2_147_483_649, 1_000_000, 1_000_001, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, 1e21, 1e308, -1e308, 0.5, -0, 5e-324),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const anyJson = fc.oneof(extremeNumber, awkwardText(8), fc.boolean(), fc.constant(null), fc.constant([]), fc.constant({}));

const pad = (value: number, width: number) => String(Math.abs(value)).padStart(width, '0');
/** ISO-looking times, the edges included: year 0, 9999 with offsets that tip it past, day 31 of every month. */
const isoTime = fc
  .record({
    year: fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(0, 1, 99, 100, 1899, 1900, 9999)),
    month: fc.integer({ min: 0, max: 13 }),
    day: fc.integer({ min: 0, max: 32 }),
    hour: fc.integer({ min: 0, max: 24 }),
    minute: fc.integer({ min: 0, max: 60 }),
    second: fc.integer({ min: 0, max: 60 }),
    fraction: fc.option(fc.integer({ min: 0, max: 999_999_999 }).map(String), { nil: undefined }),
    offsetMinutes: fc.option(fc.integer({ min: -24 * 60, max: 24 * 60 }), { nil: undefined }),
  })
  .map(({ year, month, day, hour, minute, second, fraction, offsetMinutes }) => {
    const offset =
      offsetMinutes === undefined ? 'Z' : `${offsetMinutes < 0 ? '-' : '+'}${pad(Math.trunc(offsetMinutes / 60), 2)}:${pad(offsetMinutes % 60, 2)}`;
    return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}${fraction ? `.${fraction}` : ''}${offset}`;
  });
const validStartsAt = fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }).map((date) => date.toISOString());
const nearMissStartsAt = fc.oneof(
  isoTime,
  fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('1900-01-01T00:00:00Z'), noInvalidDate: true }).map((date) => date.toISOString()),
  fc.constantFrom('0000-01-01T00:00:00Z', '9999-12-31T23:59:59-01:00', '0001-01-01T00:00:00+01:00', '+010000-01-01T00:00:00Z', '2024-02-30T00:00:00Z', '1899-12-31T23:59:59.999Z'),
  awkwardText(30),
  anyJson,
);

/** Addresses zod's email rule accepts (fc.emailAddress's RFC forms mostly are not). */
const email = fc
  .tuple(fc.stringMatching(/^[a-z0-9][a-z0-9_+-]{0,15}(\.[a-z0-9]{1,8})?$/), fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?\.[a-z]{2,6}$/))
  .map(([local, domain]) => `${local}@${domain}`);

type Fields = Record<string, fc.Arbitrary<unknown>>;

/**
 * Bodies the schema accepts (`valid`, with the optional fields sometimes left out), then with
 * zero, one or two fields swapped for a near miss, and now and then an unknown key added.
 */
function bodies(valid: Fields, nearMiss: Fields, required: string[]) {
  const keys = Object.keys(nearMiss);
  return fc
    .tuple(
      fc.record(valid, { requiredKeys: required }),
      fc.subarray(keys, { maxLength: 2 }),
      fc.record(nearMiss),
      fc.option(fc.tuple(awkwardText(6), anyJson), { nil: undefined, freq: 8 }),
    )
    .map(([body, swapped, misses, extra]) => {
      const result: Record<string, unknown> = { ...body };
      for (const key of swapped) result[key] = misses[key];
      if (extra) result[extra[0]] = extra[1];
      return result;
    });
}

// ---- the property ----

interface Answer {
  status: number;
  body: any;
}

/** Never a 5xx; a 400 is validation_error and names only fields the request has (or its part). */
function expectWellFormed(answer: Answer, fields: readonly string[], sent: unknown): void {
  const context = JSON.stringify({ sent, status: answer.status, body: answer.body });
  expect(answer.status, context).toBeLessThan(500);
  if (answer.status !== 400) return;
  expect(answer.body?.error?.code, context).toBe('validation_error');
  const details: { field: string }[] = answer.body.error.details;
  expect(details.length, context).toBeGreaterThan(0);
  for (const { field } of details) expect(fields, context).toContain(field.split('.')[0]!);
}

/**
 * Runs the property; answers how many requests succeeded (2xx), so a route can show its valid
 * bodies reached the database. `stored` checks a success: what came back is what was sent.
 */
async function check<T>(
  arbitrary: fc.Arbitrary<T>,
  numRuns: number,
  send: (value: T) => Promise<Answer>,
  fields: readonly string[],
  stored?: (sent: T, answer: Answer) => void,
): Promise<number> {
  let succeeded = 0;
  await fc.assert(
    fc.asyncProperty(arbitrary, async (value) => {
      const answer = await send(value);
      expectWellFormed(answer, fields, value);
      if (answer.status >= 300) return;
      succeeded += 1;
      stored?.(value, answer);
    }),
    { seed: SEED, numRuns, endOnFailure: true },
  );
  return succeeded;
}

const validEvent: Fields = {
  name: plainText(1, 50).filter((name) => name.trim() !== ''),
  description: plainText(0, 300),
  venue: plainText(0, 60),
  startsAt: validStartsAt,
  capacity: fc.integer({ min: 1_000, max: 1_000_000 }),
  status: fc.constant('published'),
};
const nearMissEvent: Fields = {
  name: fc.oneof(awkwardText(20), fc.constantFrom('', ' ', 'n'.repeat(201)), anyJson),
  description: fc.oneof(awkwardText(40), anyJson),
  venue: fc.oneof(awkwardText(20), fc.constant('v'.repeat(201)), anyJson),
  startsAt: nearMissStartsAt,
  capacity: fc.oneof(extremeNumber, anyJson),
  status: fc.oneof(awkwardText(10), fc.constantFrom('draft', 'cancelled', 'PUBLISHED'), anyJson),
};
const eventFields = [...Object.keys(validEvent), 'body'];

test('POST /api/auth/register', async () => {
  const valid = { email, password: fc.string({ minLength: 8, maxLength: 20 }), name: fc.option(plainText(0, 40), { nil: null }) };
  const nearMiss = {
    email: fc.oneof(awkwardText(30), email.map((address) => `${address}\u0000`), email.map((address) => `\ud800${address}`), fc.emailAddress(), anyJson),
    password: fc.oneof(awkwardText(12), fc.string({ maxLength: 7 }), anyJson),
    name: fc.oneof(awkwardText(30), fc.constant('n'.repeat(201)), anyJson),
  };
  // A valid registration costs an argon2id hash: few runs.
  const created = await check(
    bodies(valid, nearMiss, ['email', 'password']),
    30,
    (sent) => server.request('POST', '/api/auth/register', { body: sent }),
    ['email', 'password', 'name', 'body'],
    (sent, answer) => expect(answer.body.user.name).toBe(typeof sent.name === 'string' ? sent.name.trim() || null : null),
  );
  expect(created).toBeGreaterThan(0);
});

test('POST /api/auth/login', async () => {
  const valid = { email: fc.oneof(email, fc.constant('test@example.com')), password: fc.string({ minLength: 1, maxLength: 20 }) };
  const nearMiss = { email: fc.oneof(awkwardText(30), fc.constant('test@example.com\u0000'), anyJson), password: fc.oneof(awkwardText(12), anyJson) };
  await check(bodies(valid, nearMiss, ['email', 'password']), 30, (sent) => server.request('POST', '/api/auth/login', { body: sent }), ['email', 'password', 'body']);
});

/** An accepted event holds exactly what was sent (the name trimmed, the time in UTC), as the database returned it. */
function expectStoredAsSent(sent: Record<string, unknown>, event: Record<string, unknown>): void {
  if (typeof sent.name === 'string') expect(event.name).toBe(sent.name.trim());
  if (typeof sent.description === 'string') expect(event.description).toBe(sent.description);
  if (typeof sent.venue === 'string') expect(event.venue).toBe(sent.venue);
  if (typeof sent.startsAt === 'string') expect(event.startsAt).toBe(new Date(sent.startsAt).toISOString());
}

test('POST /api/events', async () => {
  const created = await check(
    bodies(validEvent, nearMissEvent, ['name', 'startsAt', 'capacity']),
    80,
    (sent) => server.request('POST', '/api/events', { token: organizerToken, body: sent }),
    eventFields,
    (sent, answer) => expectStoredAsSent(sent, answer.body.event),
  );
  expect(created).toBeGreaterThan(0);
});

test("PATCH /api/events/:id (the caller's own event)", async () => {
  // Capacities stay far above the seats booked here, so a valid patch is a 200.
  const patched = await check(
    bodies(validEvent, nearMissEvent, []),
    80,
    (sent) => server.request('PATCH', `/api/events/${ownEventId}`, { token: organizerToken, body: sent }),
    eventFields,
    (sent, answer) => expectStoredAsSent(sent, answer.body.event),
  );
  expect(patched).toBeGreaterThan(0);
});

test('GET /api/events?limit&offset, and ids in paths', async () => {
  const queryValue = fc.oneof(fc.integer({ min: -5, max: 600 }).map(String), extremeNumber.map(String), awkwardText(8));
  const query = fc.record({ limit: fc.option(queryValue, { nil: undefined }), offset: fc.option(queryValue, { nil: undefined }) });
  await check(
    query,
    40,
    (sent) => {
      const search = new URLSearchParams(Object.entries(sent).filter((entry): entry is [string, string] => entry[1] !== undefined));
      return server.request('GET', `/api/events?${search}`, { token: organizerToken });
    },
    ['limit', 'offset', 'query'],
  );
  const pathId = fc.oneof(fc.integer({ min: -3, max: 2 ** 31 + 3 }).map(String), extremeNumber.map(String), awkwardText(8).map(encodeURIComponent), fc.constantFrom('1e3', '0x10', ' 1', '2147483648', '00001'));
  await check(pathId, 40, (id) => server.request('GET', `/api/events/${id}`, { token: organizerToken }), ['id', 'params']);
  await check(pathId, 20, (id) => server.request('DELETE', `/api/bookings/${id}`, { token: organizerToken }), ['id', 'params']);
});

test('POST /api/bookings with Idempotency-Key', async () => {
  const { token } = await registerUser(server, 'property-booker');
  const body = bodies(
    { eventId: fc.constantFrom(1, 2, 5, ownEventId, 999_999), quantity: fc.integer({ min: 1, max: 10 }) },
    { eventId: fc.oneof(extremeNumber, anyJson), quantity: fc.oneof(extremeNumber, anyJson) },
    ['eventId'],
  );
  // Header values are bytes: printable Latin-1, empty, and longer than 255.
  const key = fc.option(fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((code) => code !== 0x7f).map((code) => String.fromCharCode(code)), maxLength: 300 }), { nil: undefined });
  const booked = await check(
    fc.tuple(body, key),
    60,
    ([sent, idempotencyKey]) =>
      server.request('POST', '/api/bookings', { token, body: sent, headers: idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey } }),
    ['eventId', 'quantity', 'body', 'idempotency-key', 'headers'],
  );
  expect(booked).toBeGreaterThan(0);
});

test('no unexpected error was logged along the way', () => {
  expect(unexpectedErrors.filter((line) => line.includes('unexpected error'))).toEqual([]);
});
