import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import { events } from '../../src/db/schema';
import type { SeatChange } from '../../src/services/seat-feed';
import { createTokens } from '../../src/lib/tokens';
import { expectError, login, registerUser, startTestServer, testConfig, type TestServer } from '../support/server';
import { readEventRow } from '../support/services';
import { waitFor } from '../support/ws';

/** SPEC §2 Events against the real server; the seed gives: events 1, 2, 4 published and 5 draft by the test user (id 1), event 3 by alice (id 2). */

let server: TestServer;
let organizer: string;
let alice: string;
let bob: string;
const seatChanges: SeatChange[] = [];
let stopWatching: () => void;
/** Created on first use, so the listing tests see only the seed. */
let sentinelEventId: number | undefined;

beforeAll(async () => {
  server = await startTestServer();
  [organizer, alice, bob] = await Promise.all([login(server), login(server, 'alice@example.com'), registerUser(server, 'bob').then((user) => user.token)]);
  stopWatching = server.seatFeed.subscribe((change) => {
    if ('availableSeats' in change) seatChanges.push(change);
  });
}, 60_000);
afterAll(async () => {
  stopWatching();
  await server.stop();
});
const changesOf = (eventId: number) => seatChanges.filter((change) => change.eventId === eventId);

/**
 * Waits until every seat change committed so far has reached `seatChanges`: the feed delivers in
 * commit order (through NOTIFY on PostgreSQL, so not synchronously), so once a fresh change of a
 * sentinel event arrives, everything committed before it has too.
 */
async function feedSettled(): Promise<void> {
  sentinelEventId ??= (await createEvent(organizer, { name: 'Sentinel', capacity: 1_000_000 })).id;
  const marker = await server.request('POST', '/api/bookings', { token: alice, body: { eventId: sentinelEventId } });
  expect(marker.status).toBe(201);
  const seatsAfter = marker.body.availableSeats;
  await waitFor(() => seatChanges.some((change) => change.eventId === sentinelEventId && change.availableSeats === seatsAfter), 10_000, 'the sentinel seat change');
}

const eventKeys = ['admissionSeconds', 'availableSeats', 'capacity', 'description', 'heldSeats', 'id', 'name', 'organizerId', 'queueRatePerMinute', 'salesStartAt', 'startsAt', 'status', 'venue', 'version'];

const eventCount = async () => (await server.database.db.select({ count: sql<number>`count(*)::int` }).from(events))[0]!.count;

async function createEvent(token: string, body: Record<string, unknown> = {}) {
  const response = await server.request('POST', '/api/events', { token, body: { name: 'Test event', startsAt: '2031-06-01T19:30:00.000Z', capacity: 10, ...body } });
  expect(response.status).toBe(201);
  return response.body.event;
}

describe('GET /api/events', () => {
  test('anyone sees the published events, ordered by id, each with exactly the SPEC fields', async () => {
    const response = await server.request('GET', '/api/events');
    expect(response.status).toBe(200);
    expect(Object.keys(response.body)).toEqual(['events']);
    expect(response.body.events.map((event: { id: number }) => event.id)).toEqual([1, 2, 3, 4]);
    for (const event of response.body.events) {
      expect(Object.keys(event).sort()).toEqual(eventKeys);
      expect(event.status).toBe('published');
      expect(new Date(event.startsAt).toISOString()).toBe(event.startsAt);
    }
    expect(response.body.events[0]).toMatchObject({ id: 1, name: 'Demo Concert', capacity: 50, availableSeats: 50, organizerId: 1, version: 1 });
  });

  test("the caller's own drafts are listed for them only", async () => {
    const mine = await server.request('GET', '/api/events', { token: organizer });
    expect(mine.body.events.map((event: { id: number }) => event.id)).toEqual([1, 2, 3, 4, 5]);
    expect(mine.body.events[4]).toMatchObject({ id: 5, status: 'draft', organizerId: 1 });
    const theirs = await server.request('GET', '/api/events', { token: alice });
    expect(theirs.body.events.map((event: { id: number }) => event.id)).toEqual([1, 2, 3, 4]);
  });

  test('limit and offset page through the list', async () => {
    const page = async (query: string) => (await server.request('GET', `/api/events?${query}`, { token: organizer })).body.events.map((event: { id: number }) => event.id);
    expect(await page('limit=2')).toEqual([1, 2]);
    expect(await page('limit=2&offset=2')).toEqual([3, 4]);
    expect(await page('offset=4')).toEqual([5]);
    expect(await page('offset=50')).toEqual([]);
    expect(await page('limit=500')).toEqual([1, 2, 3, 4, 5]);
  });

  for (const query of ['limit=0', 'limit=501', 'limit=-1', 'limit=abc', 'limit=1.5', 'offset=-1', 'offset=x']) {
    test(`?${query} → 400 validation_error`, async () => {
      const response = await server.request('GET', `/api/events?${query}`);
      expectError(response, 400, 'validation_error');
      expect(response.body.error.details.length).toBeGreaterThan(0);
    });
  }

  test('the default page is 100 events and the largest is 500', async () => {
    const before = await eventCount();
    const rows = Array.from({ length: 520 - before }, (_, index) => ({
      name: `Bulk ${index}`,
      startsAt: new Date('2032-01-01T00:00:00Z'),
      capacity: 5,
      availableSeats: 5,
      organizerId: 1,
    }));
    await server.database.db.insert(events).values(rows);
    const defaultPage = (await server.request('GET', '/api/events', { token: organizer })).body.events;
    expect(defaultPage).toHaveLength(100);
    expect(defaultPage[0].id).toBe(1);
    const largest = (await server.request('GET', '/api/events?limit=500', { token: organizer })).body.events;
    expect(largest).toHaveLength(500);
    const ids = largest.map((event: { id: number }) => event.id);
    expect(ids).toEqual([...ids].sort((a: number, b: number) => a - b));
    const rest = (await server.request('GET', '/api/events?limit=500&offset=500', { token: organizer })).body.events;
    expect(rest).toHaveLength(20);
  });
});

describe('GET /api/events/:id', () => {
  test('a published event for anyone', async () => {
    const response = await server.request('GET', '/api/events/3');
    expect(response.status).toBe(200);
    expect(Object.keys(response.body)).toEqual(['event']);
    expect(response.body.event).toMatchObject({ id: 3, organizerId: 2, status: 'published' });
  });

  test('a draft for its organizer only; event_not_found for everyone else', async () => {
    expect((await server.request('GET', '/api/events/5', { token: organizer })).body.event).toMatchObject({ id: 5, status: 'draft' });
    expectError(await server.request('GET', '/api/events/5', { token: alice }), 404, 'event_not_found');
    expectError(await server.request('GET', '/api/events/5'), 404, 'event_not_found');
  });

  test('a missing event → 404 event_not_found; a bad id → 400', async () => {
    expectError(await server.request('GET', '/api/events/999999'), 404, 'event_not_found');
    expectError(await server.request('GET', '/api/events/0'), 400, 'validation_error');
    expectError(await server.request('GET', '/api/events/abc'), 400, 'validation_error');
  });
});

describe('POST /api/events', () => {
  test('201 {event}: the caller organizes it, all seats free, version 1, defaults filled', async () => {
    const response = await server.request('POST', '/api/events', { token: bob, body: { name: '  Bob Live  ', startsAt: '2031-03-04T20:00:00+02:00', capacity: 1_000_000 } });
    expect(response.status).toBe(201);
    const me = await server.request('GET', '/api/auth/me', { token: bob });
    expect(response.body.event).toMatchObject({
      name: 'Bob Live',
      description: '',
      venue: '',
      startsAt: '2031-03-04T18:00:00.000Z',
      capacity: 1_000_000,
      availableSeats: 1_000_000,
      status: 'published',
      organizerId: me.body.user.id,
      version: 1,
    });
    expect((await server.request('GET', `/api/events/${response.body.event.id}`)).body.event).toEqual(response.body.event);
  });

  test('a draft with description and venue, capacity 1', async () => {
    const event = await createEvent(bob, { status: 'draft', description: 'Soon', venue: 'Garage', capacity: 1 });
    expect(event).toMatchObject({ status: 'draft', description: 'Soon', venue: 'Garage', capacity: 1, availableSeats: 1 });
    expectError(await server.request('GET', `/api/events/${event.id}`, { token: alice }), 404, 'event_not_found');
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ['capacity 0', { capacity: 0 }, 'capacity'],
    ['capacity 1,000,001', { capacity: 1_000_001 }, 'capacity'],
    ['a fractional capacity', { capacity: 2.5 }, 'capacity'],
    ['capacity as text', { capacity: '10' }, 'capacity'],
    ['startsAt that is not a date', { startsAt: 'next friday' }, 'startsAt'],
    ['startsAt with an impossible month', { startsAt: '2031-13-01T00:00:00Z' }, 'startsAt'],
    ['a missing startsAt', { startsAt: undefined }, 'startsAt'],
    ['a missing name', { name: undefined }, 'name'],
    ['a blank name', { name: '   ' }, 'name'],
    ['a 201-character name', { name: 'n'.repeat(201) }, 'name'],
    ['an unknown status', { status: 'cancelled' }, 'status'],
    // Values the schema once let through and PostgreSQL refused (500 before).
    ['a NUL byte in the name', { name: 'Nul\u0000' }, 'name'],
    ['a NUL byte in the description', { description: 'a\u0000b' }, 'description'],
    ['a NUL byte in the venue', { venue: '\u0000' }, 'venue'],
    ['a lone surrogate in the venue', { venue: 'Hall \udc00' }, 'venue'],
    ['startsAt in year 0', { startsAt: '0000-01-01T00:00:00Z' }, 'startsAt'],
    ['startsAt before year 1 in UTC', { startsAt: '0001-01-01T00:00:00+01:00' }, 'startsAt'],
    ['startsAt after year 9999 in UTC', { startsAt: '9999-12-31T23:59:59-01:00' }, 'startsAt'],
  ];
  for (const [label, overrides, field] of invalid) {
    test(`${label} → 400 validation_error on ${field}; nothing created`, async () => {
      const before = await eventCount();
      const body = { name: 'Invalid', startsAt: '2031-06-01T19:30:00Z', capacity: 10, ...overrides };
      const response = await server.request('POST', '/api/events', { token: bob, body });
      expectError(response, 400, 'validation_error');
      expect(response.body.error.details.map((problem: { field: string }) => problem.field)).toContain(field);
      expect(await eventCount()).toBe(before);
    });
  }

  test('a validly signed token whose account is gone → 401 unauthorized, not 500; nothing created', async () => {
    const before = await eventCount();
    const ghost = await createTokens(testConfig().jwtSecret, 60).sign({ id: 987_654, email: 'ghost@example.com', name: null });
    expectError(await server.request('POST', '/api/events', { token: ghost, body: { name: 'Ghost', startsAt: '2031-06-01T19:30:00Z', capacity: 10 } }), 401, 'unauthorized');
    expect(await eventCount()).toBe(before);
  });

  test('without a token → 401, nothing created', async () => {
    const before = await eventCount();
    expectError(await server.request('POST', '/api/events', { body: { name: 'Anon', startsAt: '2031-06-01T19:30:00Z', capacity: 10 } }), 401, 'unauthorized');
    expect(await eventCount()).toBe(before);
  });
});

describe('PATCH /api/events/:id', () => {
  test('the organizer edits details: 200 {event}, no seat change, version kept', async () => {
    const event = await createEvent(organizer);
    const response = await server.request('PATCH', `/api/events/${event.id}`, {
      token: organizer,
      body: { name: 'Renamed', description: 'New text', venue: 'Hall 9', startsAt: '2031-07-01T18:00:00Z' },
    });
    expect(response.status).toBe(200);
    expect(response.body.event).toEqual({ ...event, name: 'Renamed', description: 'New text', venue: 'Hall 9', startsAt: '2031-07-01T18:00:00.000Z' });
    await feedSettled();
    expect(changesOf(event.id)).toEqual([]);
  });

  test('capacity up and down moves availableSeats by the same amount and bumps version each time', async () => {
    const event = await createEvent(organizer, { capacity: 10 });
    const booked = await server.request('POST', '/api/bookings', { token: alice, body: { eventId: event.id, quantity: 3 } });
    expect(booked.body.availableSeats).toBe(7);

    const patchCapacity = async (capacity: number) => (await server.request('PATCH', `/api/events/${event.id}`, { token: organizer, body: { capacity } })).body.event;
    expect(await patchCapacity(15)).toMatchObject({ capacity: 15, availableSeats: 12, version: 3 });
    expect(await patchCapacity(5)).toMatchObject({ capacity: 5, availableSeats: 2, version: 4 });
    // Equal to the seats booked is fine: none left.
    expect(await patchCapacity(3)).toMatchObject({ capacity: 3, availableSeats: 0, version: 5 });
    // The same capacity again changes nothing, so no new version.
    expect(await patchCapacity(3)).toMatchObject({ capacity: 3, availableSeats: 0, version: 5 });

    await feedSettled();
    expect(changesOf(event.id).filter((change) => change.kind === 'seat_update')).toEqual([
      { eventId: event.id, kind: 'seat_update', capacity: 15, availableSeats: 12, heldSeats: 0, version: 3 },
      { eventId: event.id, kind: 'seat_update', capacity: 5, availableSeats: 2, heldSeats: 0, version: 4 },
      { eventId: event.id, kind: 'seat_update', capacity: 3, availableSeats: 0, heldSeats: 0, version: 5 },
    ]);
    const soldOut = await server.request('POST', '/api/bookings', { token: alice, body: { eventId: event.id } });
    expectError(soldOut, 409, 'sold_out');
    expect(soldOut.body.error.availableSeats).toBe(0);
  });

  test('below the seats booked → 409 capacity_below_booked; nothing changes, nothing is emitted', async () => {
    const event = await createEvent(organizer, { capacity: 10 });
    await server.request('POST', '/api/bookings', { token: alice, body: { eventId: event.id, quantity: 4 } });
    const before = await readEventRow(server.database.db, event.id);
    await feedSettled();
    const changesBefore = changesOf(event.id).length;
    const response = await server.request('PATCH', `/api/events/${event.id}`, { token: organizer, body: { capacity: 3, name: 'Smaller' } });
    expectError(response, 409, 'capacity_below_booked');
    expect(response.body.error.bookedSeats).toBe(4);
    expect(await readEventRow(server.database.db, event.id)).toEqual(before);
    await feedSettled();
    expect(changesOf(event.id)).toHaveLength(changesBefore);
  });

  test("someone else's published event → 403 forbidden; unchanged", async () => {
    const before = await readEventRow(server.database.db, 1);
    expectError(await server.request('PATCH', '/api/events/1', { token: alice, body: { capacity: 1000 } }), 403, 'forbidden');
    expectError(await server.request('PATCH', '/api/events/1', { token: bob, body: { name: 'Mine now' } }), 403, 'forbidden');
    expect(await readEventRow(server.database.db, 1)).toEqual(before);
    await feedSettled();
    expect(changesOf(1)).toEqual([]);
  });

  test("someone else's draft, or a missing event → 404 event_not_found; unchanged", async () => {
    const before = await readEventRow(server.database.db, 5);
    expectError(await server.request('PATCH', '/api/events/5', { token: alice, body: { status: 'published' } }), 404, 'event_not_found');
    expectError(await server.request('PATCH', '/api/events/5', { token: alice, body: { capacity: 1 } }), 404, 'event_not_found');
    expectError(await server.request('PATCH', '/api/events/999999', { token: organizer, body: { name: 'Ghost' } }), 404, 'event_not_found');
    expect(await readEventRow(server.database.db, 5)).toEqual(before);
  });

  test('without a token → 401; unchanged', async () => {
    const before = await readEventRow(server.database.db, 1);
    expectError(await server.request('PATCH', '/api/events/1', { body: { name: 'Anon' } }), 401, 'unauthorized');
    expect(await readEventRow(server.database.db, 1)).toEqual(before);
  });

  const invalidPatches: [string, unknown, string?][] = [
    ['an empty patch', {}],
    ['only unknown fields', { organizerId: 2 }],
    ['capacity 0', { capacity: 0 }],
    ['capacity 1,000,001', { capacity: 1_000_001 }],
    ['a bad startsAt', { startsAt: 'soon' }],
    ['a blank name', { name: '' }],
    ['an unknown status', { status: 'archived' }],
    ['a NUL byte in the name', { name: 'a\u0000' }, 'name'],
    ['a NUL byte in the description', { description: '\u0000' }, 'description'],
    ['a NUL byte in the venue', { venue: 'x\u0000y' }, 'venue'],
    ['startsAt in year 0', { startsAt: '0000-06-01T00:00:00Z' }, 'startsAt'],
  ];
  for (const [label, body, field] of invalidPatches) {
    test(`${label} → 400 validation_error; unchanged`, async () => {
      const before = await readEventRow(server.database.db, 2);
      const response = await server.request('PATCH', '/api/events/2', { token: organizer, body });
      expectError(response, 400, 'validation_error');
      if (field) expect(response.body.error.details.map((problem: { field: string }) => problem.field)).toContain(field);
      expect(await readEventRow(server.database.db, 2)).toEqual(before);
    });
  }

  test('unpublishing hides the event from others; publishing shows it again', async () => {
    const event = await createEvent(organizer);
    expect((await server.request('PATCH', `/api/events/${event.id}`, { token: organizer, body: { status: 'draft' } })).body.event.status).toBe('draft');
    expectError(await server.request('GET', `/api/events/${event.id}`, { token: alice }), 404, 'event_not_found');
    expectError(await server.request('POST', '/api/bookings', { token: alice, body: { eventId: event.id } }), 404, 'event_not_found');
    expect((await server.request('PATCH', `/api/events/${event.id}`, { token: organizer, body: { status: 'published' } })).status).toBe(200);
    expect((await server.request('GET', `/api/events/${event.id}`, { token: alice })).status).toBe(200);
  });
});
