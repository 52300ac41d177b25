import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { and, eq, sql } from 'drizzle-orm';
import { bookings, events } from '../../src/db/schema';
import type { SeatChange } from '../../src/services/seat-feed';
import { usingPostgres } from '../support/database';
import { createTokens } from '../../src/lib/tokens';
import { expectError, login, registerUser, startTestServer, testConfig, type TestServer } from '../support/server';
import { readEventRow } from '../support/services';
import { waitFor } from '../support/ws';

/** SPEC §2 Bookings against the real server and database, including hundreds of racing requests. */

let server: TestServer;
let organizer: string;
/** Thirty buyers, registered once for the whole file. */
let buyers: { token: string; userId: number }[];
const seatChanges: SeatChange[] = [];
let stopWatching: () => void;
let sentinelEventId: number;
const driver = usingPostgres() ? 'PostgreSQL' : 'PGlite';

beforeAll(async () => {
  server = await startTestServer();
  stopWatching = server.seatFeed.subscribe((change) => {
    if ('availableSeats' in change) seatChanges.push(change);
  });
  const registered = await Promise.all(Array.from({ length: 30 }, (_, index) => registerUser(server, `buyer${index}`)));
  buyers = registered.map(({ token, userId }) => ({ token, userId }));
  organizer = await login(server);
  sentinelEventId = await createEvent(1_000_000);
}, 60_000);
afterAll(async () => {
  stopWatching();
  await server.stop();
});

async function createEvent(capacity: number, extra: Record<string, unknown> = {}): Promise<number> {
  const response = await server.request('POST', '/api/events', { token: organizer, body: { name: `Bookings ${capacity}`, startsAt: '2031-05-05T20:00:00Z', capacity, ...extra } });
  expect(response.status).toBe(201);
  return response.body.event.id;
}

async function bookingRows(eventId: number) {
  return server.database.db.select().from(bookings).where(eq(bookings.eventId, eventId));
}

/**
 * Waits until every seat change committed so far has reached `seatChanges`. The feed delivers in
 * commit order (through NOTIFY on PostgreSQL, so not synchronously), so once a fresh change of a
 * sentinel event arrives, everything committed before it has arrived too.
 */
async function feedSettled(): Promise<void> {
  const marker = await book(organizer, { eventId: sentinelEventId });
  expect(marker.status).toBe(201);
  const seatsAfter = marker.body.availableSeats;
  await waitFor(() => seatChanges.some((change) => change.eventId === sentinelEventId && change.availableSeats === seatsAfter), 10_000, 'the sentinel seat change');
}

/** Everything a failed request must leave untouched: the event, its bookings, the feed. */
async function snapshot(eventId: number) {
  await feedSettled();
  return { event: await readEventRow(server.database.db, eventId), bookings: await bookingRows(eventId), changes: seatChanges.filter((change) => change.eventId === eventId).length };
}

const changesOf = (eventId: number) => seatChanges.filter((change) => change.eventId === eventId);

const book = (token: string, body: unknown, headers?: Record<string, string>) => server.request('POST', '/api/bookings', { token, body, headers });

/** Deterministic pseudo-random numbers, so a failing run can be replayed. */
function seededRandom(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('POST /api/bookings', () => {
  test('201 {booking, availableSeats}; quantity defaults to 1; the change is emitted once', async () => {
    const eventId = await createEvent(10);
    const [buyer] = buyers;
    const response = await book(buyer!.token, { eventId });
    expect(response.status).toBe(201);
    expect(Object.keys(response.body).sort()).toEqual(['availableSeats', 'booking']);
    expect(Object.keys(response.body.booking).sort()).toEqual(['cancelledAt', 'createdAt', 'eventId', 'id', 'quantity', 'status', 'userId']);
    expect(response.body.booking).toMatchObject({ eventId, userId: buyer!.userId, quantity: 1, status: 'confirmed', cancelledAt: null });
    expect(new Date(response.body.booking.createdAt).toISOString()).toBe(response.body.booking.createdAt);
    expect(response.body.availableSeats).toBe(9);
    expect(await readEventRow(server.database.db, eventId)).toMatchObject({ availableSeats: 9, heldSeats: 0, capacity: 10, version: 2 });
    await feedSettled();
    expect(changesOf(eventId)).toEqual([{ eventId, kind: 'booking_created', availableSeats: 9, heldSeats: 0, capacity: 10, version: 2 }]);

    const three = await book(buyer!.token, { eventId, quantity: 3 });
    expect(three.body).toMatchObject({ booking: { quantity: 3 }, availableSeats: 6 });
    expect((await readEventRow(server.database.db, eventId)).version).toBe(3);
  });

  const invalid: [string, unknown][] = [
    ['quantity 0', { quantity: 0 }],
    ['quantity 11', { quantity: 11 }],
    ['quantity "abc"', { quantity: 'abc' }],
    ['quantity 1.5', { quantity: 1.5 }],
    ['quantity -1', { quantity: -1 }],
    ['eventId as text', { eventId: '1' }],
    ['eventId 0', { eventId: 0 }],
  ];
  for (const [label, overrides] of invalid) {
    test(`${label} → 400 validation_error; nothing changes`, async () => {
      const eventId = await createEvent(5);
      const before = await snapshot(eventId);
      const response = await book(buyers[1]!.token, { eventId, ...(overrides as object) });
      expectError(response, 400, 'validation_error');
      expect(response.body.error.details.length).toBeGreaterThan(0);
      expect(await snapshot(eventId)).toEqual(before);
    });
  }

  test('a missing eventId → 400 validation_error naming eventId', async () => {
    const response = await book(buyers[1]!.token, { quantity: 2 });
    expectError(response, 400, 'validation_error');
    expect(response.body.error.details.map((problem: { field: string }) => problem.field)).toEqual(['eventId']);
  });

  test('a draft event → 404 event_not_found, even for its organizer; nothing changes', async () => {
    const eventId = await createEvent(5, { status: 'draft' });
    const before = await snapshot(eventId);
    expectError(await book(buyers[2]!.token, { eventId }), 404, 'event_not_found');
    expectError(await book(organizer, { eventId }), 404, 'event_not_found');
    expect(await snapshot(eventId)).toEqual(before);
  });

  test('a missing event → 404 event_not_found', async () => {
    expectError(await book(buyers[2]!.token, { eventId: 987_654 }), 404, 'event_not_found');
  });

  test('more than is left → 409 sold_out with availableSeats; nothing changes', async () => {
    const eventId = await createEvent(4);
    expect((await book(buyers[3]!.token, { eventId, quantity: 3 })).status).toBe(201);
    const before = await snapshot(eventId);
    const response = await book(buyers[4]!.token, { eventId, quantity: 2 });
    expectError(response, 409, 'sold_out');
    expect(response.body.error).toEqual({ code: 'sold_out', message: 'Only 1 seat left', availableSeats: 1 });
    expect(await snapshot(eventId)).toEqual(before);
    expect((await book(buyers[4]!.token, { eventId, quantity: 1 })).body.availableSeats).toBe(0);
    expect((await book(buyers[4]!.token, { eventId })).body.error).toEqual({ code: 'sold_out', message: 'Sold out', availableSeats: 0 });
  });

  test('without a token → 401 unauthorized; nothing changes', async () => {
    const eventId = await createEvent(5);
    const before = await snapshot(eventId);
    expectError(await server.request('POST', '/api/bookings', { body: { eventId } }), 401, 'unauthorized');
    // The token is checked before the body: no input rules are explained to a stranger.
    expectError(await server.request('POST', '/api/bookings', { body: { quantity: 'abc' } }), 401, 'unauthorized');
    expect(await snapshot(eventId)).toEqual(before);
  });
});

test("a validly signed token whose account is gone (data reset) → 401 unauthorized, not 500; nothing changes", async () => {
  const eventId = await createEvent(5);
  const before = await snapshot(eventId);
  const ghost = await createTokens(testConfig().jwtSecret, 60).sign({ id: 987_654, email: 'ghost@example.com', name: null });
  const response = await book(ghost, { eventId });
  expectError(response, 401, 'unauthorized');
  expect(await snapshot(eventId)).toEqual(before);
});

describe('GET /api/bookings and /api/bookings/:id', () => {
  test("the caller's bookings only, newest first", async () => {
    const eventId = await createEvent(20);
    const [me, other] = [buyers[5]!, buyers[6]!];
    const mine: number[] = [];
    for (const quantity of [1, 2, 3]) mine.push((await book(me.token, { eventId, quantity })).body.booking.id);
    await book(other.token, { eventId });
    const response = await server.request('GET', '/api/bookings', { token: me.token });
    expect(response.status).toBe(200);
    expect(Object.keys(response.body)).toEqual(['bookings']);
    expect(response.body.bookings.map((booking: { id: number }) => booking.id)).toEqual([...mine].reverse());
    for (const booking of response.body.bookings) expect(booking.userId).toBe(me.userId);
    const cancelled = await server.request('DELETE', `/api/bookings/${mine[0]}`, { token: me.token });
    // Cancelled bookings stay in the list, marked as such.
    const after = await server.request('GET', '/api/bookings', { token: me.token });
    expect(after.body.bookings.at(-1)).toEqual(cancelled.body.booking);
  });

  test('own booking → 200 {booking}; someone else\'s or a missing one → 404 booking_not_found', async () => {
    const eventId = await createEvent(5);
    const booked = await book(buyers[7]!.token, { eventId, quantity: 2 });
    const own = await server.request('GET', `/api/bookings/${booked.body.booking.id}`, { token: buyers[7]!.token });
    expect(own.status).toBe(200);
    expect(own.body).toEqual({ booking: booked.body.booking });
    expectError(await server.request('GET', `/api/bookings/${booked.body.booking.id}`, { token: buyers[8]!.token }), 404, 'booking_not_found');
    expectError(await server.request('GET', '/api/bookings/999999', { token: buyers[7]!.token }), 404, 'booking_not_found');
    expectError(await server.request('GET', '/api/bookings/abc', { token: buyers[7]!.token }), 400, 'validation_error');
    expectError(await server.request('GET', `/api/bookings/${booked.body.booking.id}`), 401, 'unauthorized');
  });
});

describe('DELETE /api/bookings/:id', () => {
  test('cancels: 200 {booking, availableSeats}, seats back, version bumped; again → 409 already_cancelled', async () => {
    const eventId = await createEvent(10);
    const buyer = buyers[9]!;
    const booked = await book(buyer.token, { eventId, quantity: 4 });
    const response = await server.request('DELETE', `/api/bookings/${booked.body.booking.id}`, { token: buyer.token });
    expect(response.status).toBe(200);
    expect(Object.keys(response.body).sort()).toEqual(['availableSeats', 'booking']);
    expect(response.body.availableSeats).toBe(10);
    expect(response.body.booking).toMatchObject({ id: booked.body.booking.id, status: 'cancelled', quantity: 4 });
    expect(new Date(response.body.booking.cancelledAt).toISOString()).toBe(response.body.booking.cancelledAt);
    expect(await readEventRow(server.database.db, eventId)).toMatchObject({ availableSeats: 10, version: 3 });
    await feedSettled();
    expect(changesOf(eventId).at(-1)).toEqual({ eventId, kind: 'booking_cancelled', availableSeats: 10, heldSeats: 0, capacity: 10, version: 3 });

    const before = await snapshot(eventId);
    expectError(await server.request('DELETE', `/api/bookings/${booked.body.booking.id}`, { token: buyer.token }), 409, 'already_cancelled');
    expect(await snapshot(eventId)).toEqual(before);
  });

  test("someone else's booking → 404 booking_not_found; nothing changes", async () => {
    const eventId = await createEvent(10);
    const booked = await book(buyers[10]!.token, { eventId, quantity: 2 });
    const before = await snapshot(eventId);
    expectError(await server.request('DELETE', `/api/bookings/${booked.body.booking.id}`, { token: buyers[11]!.token }), 404, 'booking_not_found');
    expectError(await server.request('DELETE', `/api/bookings/${booked.body.booking.id}`, { token: organizer }), 404, 'booking_not_found');
    expectError(await server.request('DELETE', '/api/bookings/999999', { token: buyers[11]!.token }), 404, 'booking_not_found');
    expect(await snapshot(eventId)).toEqual(before);
  });
});

describe('Idempotency-Key', () => {
  test('a repeat answers 200 with the original {booking, availableSeats} and books nothing', async () => {
    const eventId = await createEvent(10);
    const buyer = buyers[12]!;
    const headers = { 'Idempotency-Key': 'order-123' };
    const first = await book(buyer.token, { eventId, quantity: 2 }, headers);
    expect(first.status).toBe(201);
    // Someone else books in between: the replay still answers what the original answered.
    await book(buyers[13]!.token, { eventId, quantity: 1 });
    const before = await snapshot(eventId);
    const repeat = await book(buyer.token, { eventId, quantity: 2 }, headers);
    expect(repeat.status).toBe(200);
    expect(repeat.body).toEqual(first.body);
    expect(await snapshot(eventId)).toEqual(before);
    // Omitting quantity means quantity 1, which is another request than the original.
    expectError(await book(buyer.token, { eventId }, headers), 409, 'idempotency_conflict');
  });

  test('the same key with a different body → 409 idempotency_conflict; nothing changes', async () => {
    const eventId = await createEvent(10);
    const otherEventId = await createEvent(10);
    const buyer = buyers[14]!;
    const headers = { 'idempotency-key': 'conflicting-key' };
    expect((await book(buyer.token, { eventId, quantity: 1 }, headers)).status).toBe(201);
    const before = [await snapshot(eventId), await snapshot(otherEventId)];
    expectError(await book(buyer.token, { eventId, quantity: 3 }, headers), 409, 'idempotency_conflict');
    expectError(await book(buyer.token, { eventId: otherEventId, quantity: 1 }, headers), 409, 'idempotency_conflict');
    expect([await snapshot(eventId), await snapshot(otherEventId)]).toEqual(before);
  });

  test('keys belong to one user: another user with the same key books for themselves', async () => {
    const eventId = await createEvent(10);
    const headers = { 'idempotency-key': 'shared-looking-key' };
    const first = await book(buyers[15]!.token, { eventId }, headers);
    const second = await book(buyers[16]!.token, { eventId }, headers);
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body.booking.id).not.toBe(first.body.booking.id);
    expect(second.body.availableSeats).toBe(8);
  });

  test('a key of 1 and 255 characters is accepted; empty or 256 characters → 400 validation_error', async () => {
    const eventId = await createEvent(10);
    const buyer = buyers[17]!;
    expect((await book(buyer.token, { eventId }, { 'idempotency-key': 'k' })).status).toBe(201);
    expect((await book(buyer.token, { eventId }, { 'idempotency-key': 'k'.repeat(255) })).status).toBe(201);
    const before = await snapshot(eventId);
    expectError(await book(buyer.token, { eventId }, { 'idempotency-key': 'x'.repeat(256) }), 400, 'validation_error');
    expectError(await book(buyer.token, { eventId }, { 'idempotency-key': '' }), 400, 'validation_error');
    expect(await snapshot(eventId)).toEqual(before);
  });

  test('a request refused as sold out reserves nothing: the key can be retried once seats free up', async () => {
    const eventId = await createEvent(1);
    const holder = await book(buyers[18]!.token, { eventId });
    const headers = { 'idempotency-key': 'retry-after-sellout' };
    expectError(await book(buyers[19]!.token, { eventId }, headers), 409, 'sold_out');
    await server.request('DELETE', `/api/bookings/${holder.body.booking.id}`, { token: buyers[18]!.token });
    const retried = await book(buyers[19]!.token, { eventId }, headers);
    expect(retried.status).toBe(201);
    expect(retried.body.availableSeats).toBe(0);
  });
});

describe(`concurrency (${driver})`, () => {
  test('400 concurrent bookings on 50 seats: exactly 50 sold, 350 sold_out, never oversold', async () => {
    const eventId = await createEvent(50);
    const before = await readEventRow(server.database.db, eventId);
    const startedAt = performance.now();
    const responses = await Promise.all(Array.from({ length: 400 }, (_, index) => book(buyers[index % buyers.length]!.token, { eventId, quantity: 1 })));
    const wallMs = performance.now() - startedAt;
    console.log(
      `[${driver}] 400 concurrent booking requests on 50 seats: ${wallMs.toFixed(0)} ms wall, ${((400 / wallMs) * 1000).toFixed(0)} requests/s, ${((50 / wallMs) * 1000).toFixed(0)} bookings/s`,
    );

    const created = responses.filter((response) => response.status === 201);
    const refused = responses.filter((response) => response.status === 409);
    expect(created).toHaveLength(50);
    expect(refused).toHaveLength(350);
    for (const response of refused) expect(response.body.error).toEqual({ code: 'sold_out', message: 'Sold out', availableSeats: 0 });
    // Each success saw a distinct seat count: 49 … 0.
    expect(created.map((response) => response.body.availableSeats).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, index) => index));

    const after = await readEventRow(server.database.db, eventId);
    expect(after.availableSeats).toBe(0);
    expect(after.version).toBe(before.version + 50);
    const confirmed = (await bookingRows(eventId)).filter((booking) => booking.status === 'confirmed');
    expect(confirmed).toHaveLength(50);
    expect(confirmed.reduce((sum, booking) => sum + booking.quantity, 0)).toBe(50);

    await feedSettled();
    const changes = changesOf(eventId);
    expect(changes).toHaveLength(50);
    for (const change of changes) {
      expect(change.kind).toBe('booking_created');
      expect(change.availableSeats).toBe(50 - (change.version - before.version));
    }
  }, 120_000);

  test('300 racing bookings (1–3 seats) and cancellations: seats add up, no change ever out of range', async () => {
    const capacity = 120;
    const eventId = await createEvent(capacity);
    const random = seededRandom(20_240_601);
    const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)]!;

    // Bookings to cancel during the race; some get cancelled twice.
    const existing: { id: number; token: string }[] = [];
    for (let index = 0; index < 30; index++) {
      const buyer = buyers[index]!;
      const response = await book(buyer.token, { eventId, quantity: 1 + (index % 3) });
      existing.push({ id: response.body.booking.id, token: buyer.token });
    }
    const before = await readEventRow(server.database.db, eventId);
    await feedSettled();
    const changesBefore = changesOf(eventId).length;

    const operations = Array.from({ length: 300 }, () => {
      if (random() < 0.25) {
        const target = pick(existing);
        return { kind: 'cancel' as const, run: () => server.request('DELETE', `/api/bookings/${target.id}`, { token: target.token }) };
      }
      const quantity = 1 + Math.floor(random() * 3);
      const buyer = pick(buyers);
      return { kind: 'book' as const, quantity, run: () => book(buyer.token, { eventId, quantity }) };
    });
    const responses = await Promise.all(operations.map((operation) => operation.run()));

    let seatChangesExpected = 0;
    responses.forEach((response, index) => {
      const operation = operations[index]!;
      if (operation.kind === 'book') {
        if (response.status === 201) seatChangesExpected++;
        else {
          expectError(response, 409, 'sold_out');
          expect(response.body.error.availableSeats).toBeLessThan(operation.quantity);
        }
      } else if (response.status === 200) seatChangesExpected++;
      else expectError(response, 409, 'already_cancelled');
    });

    const after = await readEventRow(server.database.db, eventId);
    const confirmed = (await bookingRows(eventId)).filter((booking) => booking.status === 'confirmed');
    const bookedSeats = confirmed.reduce((sum, booking) => sum + booking.quantity, 0);
    expect(after.availableSeats).toBe(capacity - bookedSeats);
    expect(after.availableSeats).toBeGreaterThanOrEqual(0);
    expect(after.version).toBe(before.version + seatChangesExpected);

    await feedSettled();
    const changes = changesOf(eventId).slice(changesBefore);
    expect(changes).toHaveLength(seatChangesExpected);
    for (const change of changes) {
      expect(change.availableSeats).toBeGreaterThanOrEqual(0);
      expect(change.availableSeats).toBeLessThanOrEqual(capacity);
      expect(change.capacity).toBe(capacity);
    }
    const versions = changes.map((change) => change.version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: seatChangesExpected }, (_, index) => before.version + 1 + index));
    // The newest change is the database's final state.
    expect(changes.find((change) => change.version === after.version)!.availableSeats).toBe(after.availableSeats);
  }, 120_000);

  test('20 concurrent cancels of one booking return its seats exactly once', async () => {
    const eventId = await createEvent(10);
    const buyer = buyers[20]!;
    const booked = await book(buyer.token, { eventId, quantity: 3 });
    const before = await readEventRow(server.database.db, eventId);
    await feedSettled();
    const changesBefore = changesOf(eventId).length;
    const responses = await Promise.all(Array.from({ length: 20 }, () => server.request('DELETE', `/api/bookings/${booked.body.booking.id}`, { token: buyer.token })));
    expect(responses.filter((response) => response.status === 200)).toHaveLength(1);
    for (const response of responses.filter((response) => response.status !== 200)) expectError(response, 409, 'already_cancelled');
    expect(await readEventRow(server.database.db, eventId)).toMatchObject({ availableSeats: 10, version: before.version + 1 });
    await feedSettled();
    expect(changesOf(eventId).slice(changesBefore)).toEqual([{ eventId, kind: 'booking_cancelled', availableSeats: 10, heldSeats: 0, capacity: 10, version: before.version + 1 }]);
  }, 60_000);

  test('20 concurrent requests with one Idempotency-Key make one booking, and all answer with it', async () => {
    const eventId = await createEvent(10);
    const buyer = buyers[21]!;
    const before = await readEventRow(server.database.db, eventId);
    const responses = await Promise.all(Array.from({ length: 20 }, () => book(buyer.token, { eventId, quantity: 2 }, { 'idempotency-key': 'same-key-race' })));
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    expect(statuses.filter((status) => status === 200)).toHaveLength(19);
    const bookingIds = new Set(responses.map((response) => response.body.booking.id));
    expect(bookingIds.size).toBe(1);
    for (const response of responses) expect(response.body.availableSeats).toBe(8);
    const rows = await server.database.db
      .select()
      .from(bookings)
      .where(and(eq(bookings.userId, buyer.userId), eq(bookings.idempotencyKey, 'same-key-race')));
    expect(rows).toHaveLength(1);
    expect(await readEventRow(server.database.db, eventId)).toMatchObject({ availableSeats: 8, version: before.version + 1 });
    await feedSettled();
    expect(changesOf(eventId)).toHaveLength(1);
  }, 60_000);

  test('20 concurrent requests with one key but two different bodies: one booking, the rest replay or conflict', async () => {
    const eventId = await createEvent(10);
    const buyer = buyers[22]!;
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, index) => book(buyer.token, { eventId, quantity: 1 + (index % 2) }, { 'idempotency-key': 'mixed-body-race' })),
    );
    const winner = responses.find((response) => response.status === 201)!;
    expect(responses.filter((response) => response.status === 201)).toHaveLength(1);
    responses.forEach((response, index) => {
      if (response.status === 201) return;
      if (1 + (index % 2) === winner.body.booking.quantity) {
        expect(response.status).toBe(200);
        expect(response.body).toEqual(winner.body);
      } else expectError(response, 409, 'idempotency_conflict');
    });
    const confirmed = await bookingRows(eventId);
    expect(confirmed).toHaveLength(1);
    expect((await readEventRow(server.database.db, eventId)).availableSeats).toBe(10 - winner.body.booking.quantity);
  }, 60_000);

  test('capacity edits racing with bookings keep 0 ≤ availableSeats ≤ capacity and the arithmetic exact', async () => {
    const eventId = await createEvent(60);
    const random = seededRandom(7);
    const before = await readEventRow(server.database.db, eventId);
    await feedSettled();
    const changesBefore = changesOf(eventId).length;

    const operations = Array.from({ length: 240 }, (_, index) => {
      if (index % 6 === 0) {
        const capacity = 20 + Math.floor(random() * 100);
        return { kind: 'patch' as const, capacity, run: () => server.request('PATCH', `/api/events/${eventId}`, { token: organizer, body: { capacity } }) };
      }
      const quantity = 1 + Math.floor(random() * 2);
      return { kind: 'book' as const, capacity: undefined, run: () => book(buyers[index % buyers.length]!.token, { eventId, quantity }) };
    });
    const responses = await Promise.all(operations.map((operation) => operation.run()));
    let booked = 0;
    responses.forEach((response, index) => {
      if (operations[index]!.kind === 'book') {
        if (response.status === 201) booked++;
        else expectError(response, 409, 'sold_out');
      } else if (response.status !== 200) {
        expectError(response, 409, 'capacity_below_booked');
        // The refusal is explained by the state it was refused on.
        expect(response.body.error.bookedSeats).toBeGreaterThan(operations[index]!.capacity!);
      } else {
        expect(response.body.event.availableSeats).toBeGreaterThanOrEqual(0);
        expect(response.body.event.availableSeats).toBeLessThanOrEqual(response.body.event.capacity);
      }
    });

    const after = await readEventRow(server.database.db, eventId);
    const confirmed = (await bookingRows(eventId)).filter((booking) => booking.status === 'confirmed');
    const bookedSeats = confirmed.reduce((sum, booking) => sum + booking.quantity, 0);
    expect(confirmed).toHaveLength(booked);
    expect(after.availableSeats).toBe(after.capacity - bookedSeats);
    expect(after.availableSeats).toBeGreaterThanOrEqual(0);

    await feedSettled();
    const changes = changesOf(eventId).slice(changesBefore);
    expect(changes.filter((change) => change.kind === 'booking_created')).toHaveLength(booked);
    for (const change of changes) {
      expect(change.availableSeats).toBeGreaterThanOrEqual(0);
      expect(change.availableSeats).toBeLessThanOrEqual(change.capacity);
    }
    const versions = changes.map((change) => change.version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: changes.length }, (_, index) => before.version + 1 + index));
    expect(after.version).toBe(before.version + changes.length);
    expect(changes.find((change) => change.version === after.version)).toMatchObject({ availableSeats: after.availableSeats, heldSeats: 0, capacity: after.capacity });

    // The database itself never holds an impossible row.
    const [impossible] = await server.database.db
      .select({ count: sql<number>`count(*)::int` })
      .from(events)
      .where(sql`${events.availableSeats} < 0 or ${events.availableSeats} > ${events.capacity}`);
    expect(impossible!.count).toBe(0);
  }, 120_000);
});
