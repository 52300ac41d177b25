import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import { bookings, heldByUser, holds } from '../../src/db/schema';
import type { FeedChange } from '../../src/services/seat-feed';
import { expectError, login, registerUser, startTestServer, type TestServer } from '../support/server';
import { readEventRow } from '../support/services';
import { connect, waitFor } from '../support/ws';

/** SPEC §8 Holds over HTTP against the real server and database, hundreds of racing requests included. */

/** Long enough that no hold of this file expires by itself, unless a test moves its expiresAt. */
const TTL_SECONDS = 600;
const MAX_EXTENSIONS = 2;

let server: TestServer;
let organizer: string;
let buyers: { token: string; userId: number }[];
const feed: FeedChange[] = [];
let stopWatching: () => void;

beforeAll(async () => {
  server = await startTestServer({ config: { holdTtlSeconds: TTL_SECONDS, holdMaxExtensions: MAX_EXTENSIONS, holdWarningSeconds: 1 } });
  stopWatching = server.seatFeed.subscribe((change) => void feed.push(change));
  const registered = await Promise.all(Array.from({ length: 30 }, (_, index) => registerUser(server, `holder${index}`)));
  buyers = registered.map(({ token, userId }) => ({ token, userId }));
  organizer = await login(server);
}, 60_000);
afterAll(async () => {
  stopWatching();
  await server.stop();
});

async function createEvent(capacity: number, extra: Record<string, unknown> = {}): Promise<number> {
  const response = await server.request('POST', '/api/events', { token: organizer, body: { name: `Holds ${capacity}`, startsAt: '2031-05-05T20:00:00Z', capacity, ...extra } });
  expect(response.status).toBe(201);
  return response.body.event.id;
}

const hold = (token: string, body: unknown, headers?: Record<string, string>) => server.request('POST', '/api/holds', { token, body, headers });
const confirm = (token: string, holdId: number | string) => server.request('POST', `/api/holds/${holdId}/confirm`, { token });
const extend = (token: string, holdId: number | string) => server.request('POST', `/api/holds/${holdId}/extend`, { token });
const release = (token: string, holdId: number | string) => server.request('DELETE', `/api/holds/${holdId}`, { token });

/** Moves a hold's expiry into the past, as the clock would; the sweeper then releases it. */
async function expireNow(holdId: number): Promise<void> {
  await server.database.db.update(holds).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(holds.id, holdId));
}

async function holdRow(holdId: number) {
  const [row] = await server.database.db.select().from(holds).where(eq(holds.id, holdId));
  return row!;
}

/** Every seat and hold of the event accounted for: available + held + booked = capacity, and held = the active holds' seats. */
async function expectSeatsAccountedFor(eventId: number): Promise<void> {
  const event = await readEventRow(server.database.db, eventId);
  const holdRows = await server.database.db.select().from(holds).where(eq(holds.eventId, eventId));
  const bookingRows = await server.database.db.select().from(bookings).where(eq(bookings.eventId, eventId));
  const booked = bookingRows.filter((row) => row.status === 'confirmed').reduce((sum, row) => sum + row.quantity, 0);
  const held = holdRows.filter((row) => row.status === 'active').reduce((sum, row) => sum + row.quantity, 0);
  expect(event.heldSeats).toBe(held);
  expect(event.availableSeats + event.heldSeats + booked).toBe(event.capacity);
  expect(event.availableSeats).toBeGreaterThanOrEqual(0);
  // Each user's count of held seats (the 10-seat limit's) matches their active holds.
  const heldByOwner = new Map<number, number>();
  for (const row of holdRows) if (row.status === 'active') heldByOwner.set(row.userId, (heldByOwner.get(row.userId) ?? 0) + row.quantity);
  const counts = await server.database.db.select().from(heldByUser).where(eq(heldByUser.eventId, eventId));
  expect(Object.fromEntries(counts.filter((count) => count.heldSeats > 0).map((count) => [count.userId, count.heldSeats]))).toEqual(Object.fromEntries(heldByOwner));
}

const seatChangesOf = (eventId: number) => feed.filter((change) => change.eventId === eventId && 'availableSeats' in change);

describe('POST /api/holds', () => {
  test('201 {hold, availableSeats}: the seats leave availableSeats at once, expiresAt = now + HOLD_TTL_SECONDS, one seats_held', async () => {
    const eventId = await createEvent(10);
    const [buyer] = buyers;
    const before = Date.now();
    const response = await hold(buyer!.token, { eventId, quantity: 3 });
    expect(response.status).toBe(201);
    expect(Object.keys(response.body).sort()).toEqual(['availableSeats', 'hold']);
    expect(Object.keys(response.body.hold).sort()).toEqual(['bookingId', 'createdAt', 'eventId', 'expiresAt', 'extensions', 'id', 'quantity', 'status', 'userId']);
    expect(response.body).toMatchObject({ availableSeats: 7, hold: { eventId, userId: buyer!.userId, quantity: 3, status: 'active', extensions: 0, bookingId: null } });
    const ttlMs = Date.parse(response.body.hold.expiresAt) - Date.parse(response.body.hold.createdAt);
    expect(ttlMs).toBe(TTL_SECONDS * 1000);
    expect(Math.abs(Date.parse(response.body.hold.createdAt) - before)).toBeLessThan(5_000);

    const event = await server.request('GET', `/api/events/${eventId}`);
    expect(event.body.event).toMatchObject({ capacity: 10, availableSeats: 7, heldSeats: 3, version: 2 });
    await waitFor(() => seatChangesOf(eventId).length === 1, 5_000, 'the seats_held change');
    expect(seatChangesOf(eventId)).toEqual([{ eventId, kind: 'seats_held', availableSeats: 7, heldSeats: 3, capacity: 10, version: 2 }]);

    const single = await hold(buyer!.token, { eventId });
    expect(single.status).toBe(201);
    expect(single.body).toMatchObject({ hold: { quantity: 1 }, availableSeats: 6 });
    await expectSeatsAccountedFor(eventId);
  });

  const invalid: [string, unknown][] = [
    ['quantity 0', { quantity: 0 }],
    ['quantity 11', { quantity: 11 }],
    ['quantity as a string', { quantity: '2' }],
    ['quantity 1.5', { quantity: 1.5 }],
    ['eventId as a string', { eventId: 'abc' }],
    ['eventId missing', { eventId: undefined }],
    ['eventId 0', { eventId: 0 }],
  ];
  for (const [name, patch] of invalid) {
    test(`${name}: 400 validation_error, nothing held`, async () => {
      const eventId = await createEvent(5);
      const response = await hold(buyers[1]!.token, { eventId, quantity: 1, ...(patch as object) });
      expectError(response, 400, 'validation_error');
      expect(response.text).not.toContain('Error:');
      expect(await readEventRow(server.database.db, eventId)).toMatchObject({ availableSeats: 5, heldSeats: 0, version: 1 });
    });
  }

  test('no token: 401; a draft or missing event: 404 event_not_found; malformed JSON: 400 bad_request', async () => {
    const eventId = await createEvent(5);
    expectError(await server.request('POST', '/api/holds', { body: { eventId } }), 401, 'unauthorized');
    const draft = await createEvent(5, { status: 'draft' });
    expectError(await hold(buyers[2]!.token, { eventId: draft }), 404, 'event_not_found');
    // Even its organizer holds nothing on a draft: it is not on sale.
    expectError(await hold(organizer, { eventId: draft }), 404, 'event_not_found');
    expectError(await hold(buyers[2]!.token, { eventId: 2_000_000_000 }), 404, 'event_not_found');
    expectError(await hold(buyers[2]!.token, '{"eventId":'), 400, 'bad_request');
    expect(await readEventRow(server.database.db, eventId)).toMatchObject({ availableSeats: 5, heldSeats: 0 });
  });

  test('too few free seats: 409 sold_out with availableSeats; held seats are not free', async () => {
    const eventId = await createEvent(4);
    expect((await hold(buyers[3]!.token, { eventId, quantity: 3 })).status).toBe(201);
    const refused = await hold(buyers[4]!.token, { eventId, quantity: 2 });
    expectError(refused, 409, 'sold_out');
    expect(refused.body.error.availableSeats).toBe(1);
    const booking = await server.request('POST', '/api/bookings', { token: buyers[4]!.token, body: { eventId, quantity: 2 } });
    expectError(booking, 409, 'sold_out');
    expect(booking.body.error.availableSeats).toBe(1);
    await expectSeatsAccountedFor(eventId);
  });

  test('at most 10 held seats per user per event: 409 hold_limit_reached; other users and other events are not counted', async () => {
    const eventId = await createEvent(100);
    const other = await createEvent(100);
    const [a, b] = [buyers[5]!, buyers[6]!];
    expect((await hold(a.token, { eventId, quantity: 6 })).status).toBe(201);
    const over = await hold(a.token, { eventId, quantity: 5 });
    expectError(over, 409, 'hold_limit_reached');
    expect(over.body.error.heldSeats).toBe(6);
    expect((await hold(a.token, { eventId, quantity: 4 })).status).toBe(201);
    expectError(await hold(a.token, { eventId, quantity: 1 }), 409, 'hold_limit_reached');
    expect((await hold(b.token, { eventId, quantity: 10 })).status).toBe(201);
    expect((await hold(a.token, { eventId: other, quantity: 10 })).status).toBe(201);
    // A confirmed hold no longer counts: its seats are booked, not held.
    const mine = await server.request('GET', '/api/holds', { token: a.token });
    const onEvent = mine.body.holds.filter((h: { eventId: number }) => h.eventId === eventId);
    expect((await confirm(a.token, onEvent[0].id)).status).toBe(201);
    expect((await hold(a.token, { eventId, quantity: onEvent[0].quantity })).status).toBe(201);
    expect(await readEventRow(server.database.db, eventId)).toMatchObject({ heldSeats: 20 });
    await expectSeatsAccountedFor(eventId);
  });

  test('200 racing holds of one seat by one user: exactly 10 succeed, the rest are hold_limit_reached', async () => {
    const eventId = await createEvent(1000);
    const racer = await registerUser(server, 'racer');
    const answers = await Promise.all(Array.from({ length: 200 }, () => hold(racer.token, { eventId })));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(10);
    expect(answers.filter((answer) => answer.status === 409 && answer.body.error.code === 'hold_limit_reached')).toHaveLength(190);
    expect(await readEventRow(server.database.db, eventId)).toMatchObject({ availableSeats: 990, heldSeats: 10, version: 11 });
    await expectSeatsAccountedFor(eventId);
  });

  test('400 racing holds and bookings by 30 users on 150 seats: never oversold, every seat accounted for', async () => {
    const eventId = await createEvent(150);
    const requests = Array.from({ length: 400 }, (_, index) => {
      const buyer = buyers[index % buyers.length]!;
      const quantity = (index % 3) + 1;
      return index % 2 === 0 ? hold(buyer.token, { eventId, quantity }) : server.request('POST', '/api/bookings', { token: buyer.token, body: { eventId, quantity } });
    });
    const answers = await Promise.all(requests);
    for (const answer of answers) expect([201, 409]).toContain(answer.status);
    const granted = answers.filter((answer) => answer.status === 201);
    const takenSeats = granted.reduce((sum, answer) => sum + (answer.body.hold ?? answer.body.booking).quantity, 0);
    const event = await readEventRow(server.database.db, eventId);
    expect(event.availableSeats).toBe(150 - takenSeats);
    expect(event.availableSeats).toBeGreaterThanOrEqual(0);
    const heldGranted = granted.filter((answer) => answer.body.hold).reduce((sum, answer) => sum + answer.body.hold.quantity, 0);
    expect(event.heldSeats).toBe(heldGranted);
    // One version per change, none lost.
    expect(event.version).toBe(1 + granted.length);
    await expectSeatsAccountedFor(eventId);
  });

  test('Idempotency-Key: a repeat returns 200 with the same hold and holds nothing; another body is 409; racing repeats make one hold', async () => {
    const eventId = await createEvent(50);
    const buyer = buyers[7]!;
    const first = await hold(buyer.token, { eventId, quantity: 2 }, { 'idempotency-key': 'cart-1' });
    expect(first.status).toBe(201);
    const repeat = await hold(buyer.token, { eventId, quantity: 2 }, { 'idempotency-key': 'cart-1' });
    expect(repeat.status).toBe(200);
    expect(repeat.body).toEqual(first.body);
    expectError(await hold(buyer.token, { eventId, quantity: 3 }, { 'idempotency-key': 'cart-1' }), 409, 'idempotency_conflict');
    expectError(await hold(buyer.token, { eventId }, { 'idempotency-key': 'x'.repeat(256) }), 400, 'validation_error');

    const racing = await Promise.all(Array.from({ length: 20 }, () => hold(buyer.token, { eventId, quantity: 1 }, { 'idempotency-key': 'cart-2' })));
    expect(racing.filter((answer) => answer.status === 201)).toHaveLength(1);
    expect(racing.filter((answer) => answer.status === 200)).toHaveLength(19);
    expect(new Set(racing.map((answer) => answer.body.hold.id)).size).toBe(1);
    expect(await readEventRow(server.database.db, eventId)).toMatchObject({ availableSeats: 47, heldSeats: 3 });
  });
});

describe('GET /api/holds, GET /api/holds/:id', () => {
  test('the caller’s active holds, newest first; one hold in any status; someone else’s is 404 hold_not_found', async () => {
    const eventId = await createEvent(20);
    const me = await registerUser(server, 'lister');
    const them = await registerUser(server, 'other');
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push((await hold(me.token, { eventId })).body.hold.id);
    expect((await release(me.token, ids[0]!)).status).toBe(200);
    const list = await server.request('GET', '/api/holds', { token: me.token });
    expect(list.status).toBe(200);
    expect(list.body.holds.map((h: { id: number }) => h.id)).toEqual([ids[2], ids[1]]);
    const released = await server.request('GET', `/api/holds/${ids[0]}`, { token: me.token });
    expect(released.status).toBe(200);
    expect(released.body.hold).toMatchObject({ id: ids[0], status: 'released' });
    const notTheirs = await server.request('GET', `/api/holds/${ids[1]}`, { token: them.token });
    expectError(notTheirs, 404, 'hold_not_found');
    // Same answer as a hold that does not exist: no hint that it does.
    const missing = await server.request('GET', '/api/holds/2000000000', { token: them.token });
    expect(missing.body.error.message.replace(/\d+/g, 'N')).toBe(notTheirs.body.error.message.replace(/\d+/g, 'N'));
    expectError(await server.request('GET', '/api/holds/abc', { token: me.token }), 400, 'validation_error');
    expectError(await server.request('GET', '/api/holds', {}), 401, 'unauthorized');
  });
});

describe('POST /api/holds/:id/confirm', () => {
  test('201 {booking, availableSeats}: held seats become booked (available unchanged), one booking_created; a repeat is 200 with the same booking', async () => {
    const eventId = await createEvent(10);
    const buyer = buyers[8]!;
    const held = (await hold(buyer.token, { eventId, quantity: 4 })).body.hold;
    const confirmed = await confirm(buyer.token, held.id);
    expect(confirmed.status).toBe(201);
    expect(confirmed.body).toMatchObject({ availableSeats: 6, booking: { eventId, userId: buyer.userId, quantity: 4, status: 'confirmed' } });
    expect(await readEventRow(server.database.db, eventId)).toMatchObject({ availableSeats: 6, heldSeats: 0, version: 3 });
    expect(await holdRow(held.id)).toMatchObject({ status: 'confirmed', bookingId: confirmed.body.booking.id });
    await waitFor(() => seatChangesOf(eventId).length === 2, 5_000, 'the booking_created change');
    expect(seatChangesOf(eventId)[1]).toEqual({ eventId, kind: 'booking_created', availableSeats: 6, heldSeats: 0, capacity: 10, version: 3 });

    const repeat = await confirm(buyer.token, held.id);
    expect(repeat.status).toBe(200);
    expect(repeat.body).toEqual(confirmed.body);
    const booking = await server.request('GET', `/api/bookings/${confirmed.body.booking.id}`, { token: buyer.token });
    expect(booking.body.booking).toEqual(confirmed.body.booking);
    // The booking cancels like any other, and its seats come back free.
    const cancelled = await server.request('DELETE', `/api/bookings/${confirmed.body.booking.id}`, { token: buyer.token });
    expect(cancelled.body.availableSeats).toBe(10);
    await expectSeatsAccountedFor(eventId);
  });

  test('racing confirms of one hold: one 201, the rest 200 with the same booking; one booking made', async () => {
    const eventId = await createEvent(10);
    const buyer = buyers[9]!;
    const held = (await hold(buyer.token, { eventId, quantity: 2 })).body.hold;
    const answers = await Promise.all(Array.from({ length: 30 }, () => confirm(buyer.token, held.id)));
    expect(answers.filter((answer) => answer.status === 201)).toHaveLength(1);
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(29);
    expect(new Set(answers.map((answer) => answer.body.booking.id)).size).toBe(1);
    expect(await server.database.db.select().from(bookings).where(eq(bookings.eventId, eventId))).toHaveLength(1);
    await expectSeatsAccountedFor(eventId);
  });

  test('released: 409 hold_not_active; expired: 410 hold_expired; someone else’s: 404; nothing changes', async () => {
    const eventId = await createEvent(10);
    const buyer = buyers[10]!;
    const released = (await hold(buyer.token, { eventId })).body.hold;
    await release(buyer.token, released.id);
    expectError(await confirm(buyer.token, released.id), 409, 'hold_not_active');
    const expiring = (await hold(buyer.token, { eventId })).body.hold;
    await expireNow(expiring.id);
    // Expired by the clock, whether or not the sweeper has released it yet.
    expectError(await confirm(buyer.token, expiring.id), 410, 'hold_expired');
    const other = (await hold(buyer.token, { eventId })).body.hold;
    expectError(await confirm(buyers[11]!.token, other.id), 404, 'hold_not_found');
    expectError(await confirm(buyer.token, 'abc'), 400, 'validation_error');
    await waitForHoldStatus(expiring.id, 'expired');
    expect(await server.database.db.select().from(bookings).where(eq(bookings.eventId, eventId))).toHaveLength(0);
    expect(await readEventRow(server.database.db, eventId)).toMatchObject({ availableSeats: 9, heldSeats: 1 });
    await expectSeatsAccountedFor(eventId);
  });
});

async function waitForHoldStatus(holdId: number, status: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await holdRow(holdId)).status !== status) {
    if (Date.now() > deadline) throw new Error(`hold ${holdId} never became ${status}`);
    await Bun.sleep(25);
  }
}

describe('POST /api/holds/:id/extend', () => {
  test('200 {hold}: expiresAt = now + HOLD_TTL_SECONDS, extensions counted; beyond HOLD_MAX_EXTENSIONS 409 hold_extension_limit; no seat change', async () => {
    const eventId = await createEvent(10);
    const buyer = buyers[12]!;
    const held = (await hold(buyer.token, { eventId })).body.hold;
    // Brought nearer, so the extension visibly moves it forward.
    await server.database.db.update(holds).set({ expiresAt: new Date(Date.now() + 60_000) }).where(eq(holds.id, held.id));
    const versionBefore = (await readEventRow(server.database.db, eventId)).version;
    for (let i = 1; i <= MAX_EXTENSIONS; i++) {
      const before = Date.now();
      const extended = await extend(buyer.token, held.id);
      expect(extended.status).toBe(200);
      expect(extended.body.hold).toMatchObject({ id: held.id, status: 'active', extensions: i });
      const ttlLeftMs = Date.parse(extended.body.hold.expiresAt) - before;
      expect(ttlLeftMs).toBeGreaterThan(TTL_SECONDS * 1000 - 5_000);
      expect(ttlLeftMs).toBeLessThan(TTL_SECONDS * 1000 + 5_000);
    }
    expectError(await extend(buyer.token, held.id), 409, 'hold_extension_limit');
    expect((await holdRow(held.id)).extensions).toBe(MAX_EXTENSIONS);
    expect((await readEventRow(server.database.db, eventId)).version).toBe(versionBefore);
  });

  test('released: 409 hold_not_active; expired: 410 hold_expired; someone else’s: 404 hold_not_found', async () => {
    const eventId = await createEvent(10);
    const buyer = buyers[13]!;
    const released = (await hold(buyer.token, { eventId })).body.hold;
    await release(buyer.token, released.id);
    expectError(await extend(buyer.token, released.id), 409, 'hold_not_active');
    const expired = (await hold(buyer.token, { eventId })).body.hold;
    await expireNow(expired.id);
    expectError(await extend(buyer.token, expired.id), 410, 'hold_expired');
    expectError(await extend(buyers[14]!.token, expired.id), 404, 'hold_not_found');
  });
});

describe('DELETE /api/holds/:id', () => {
  test('200 {hold, availableSeats}: the seats are free again, one seats_released (reason released); again: 409 hold_not_active', async () => {
    const eventId = await createEvent(10);
    const buyer = buyers[15]!;
    const held = (await hold(buyer.token, { eventId, quantity: 3 })).body.hold;
    const released = await release(buyer.token, held.id);
    expect(released.status).toBe(200);
    expect(released.body).toMatchObject({ availableSeats: 10, hold: { id: held.id, status: 'released' } });
    expect(await readEventRow(server.database.db, eventId)).toMatchObject({ availableSeats: 10, heldSeats: 0, version: 3 });
    await waitFor(() => seatChangesOf(eventId).length === 2, 5_000, 'the seats_released change');
    expect(seatChangesOf(eventId)[1]).toEqual({ eventId, kind: 'seats_released', reason: 'released', availableSeats: 10, heldSeats: 0, capacity: 10, version: 3 });
    expectError(await release(buyer.token, held.id), 409, 'hold_not_active');
    expectError(await confirm(buyer.token, held.id), 409, 'hold_not_active');
    expect((await readEventRow(server.database.db, eventId)).version).toBe(3);
  });

  test('expired: 410 hold_expired; confirmed: 409 hold_not_active; someone else’s: 404', async () => {
    const eventId = await createEvent(10);
    const buyer = buyers[16]!;
    const expired = (await hold(buyer.token, { eventId })).body.hold;
    await expireNow(expired.id);
    expectError(await release(buyer.token, expired.id), 410, 'hold_expired');
    const confirmed = (await hold(buyer.token, { eventId })).body.hold;
    await confirm(buyer.token, confirmed.id);
    expectError(await release(buyer.token, confirmed.id), 409, 'hold_not_active');
    expectError(await release(buyers[17]!.token, confirmed.id), 404, 'hold_not_found');
    await waitForHoldStatus(expired.id, 'expired');
    await expectSeatsAccountedFor(eventId);
  });
});

describe('expiry', () => {
  test('an expired hold’s seats come back within 1 s: one seats_released (reason expired) to watchers, hold_expiring then hold_expired once on every connection of the owner', async () => {
    const eventId = await createEvent(10);
    const owner = await registerUser(server, 'owner');
    const watcher = connect(`${server.wsUrl}/ws/events/${eventId}?token=${organizer}`);
    const ownerTabs = [connect(`${server.wsUrl}/ws?token=${owner.token}`), connect(`${server.wsUrl}/ws/events/${eventId}?token=${owner.token}`)];
    await watcher.nextOfType('subscribed');
    await ownerTabs[0]!.nextOfType('connection_established');
    await ownerTabs[1]!.nextOfType('subscribed');
    const held = (await hold(owner.token, { eventId, quantity: 2 })).body.hold;
    await watcher.next((message) => message.type === 'seats_held');
    // Due in 1.5 s: inside HOLD_WARNING_SECONDS (1 s) half a second from now.
    const expiresAt = Date.now() + 1_500;
    await server.database.db.update(holds).set({ expiresAt: new Date(expiresAt) }).where(eq(holds.id, held.id));
    for (const tab of ownerTabs) {
      const warning = await tab.nextOfType('hold_expiring', 5_000);
      expect(warning).toEqual({ type: 'hold_expiring', holdId: held.id, eventId, expiresAt: new Date(expiresAt).toISOString() });
    }
    const releasedMessage = await watcher.next((message) => message.type === 'seats_released', 5_000);
    const releasedAt = Date.now();
    expect(releasedMessage).toMatchObject({ eventId, reason: 'expired', availableSeats: 10, heldSeats: 0, capacity: 10 });
    expect(releasedAt - expiresAt).toBeLessThan(1_000);
    for (const tab of ownerTabs) expect(await tab.nextOfType('hold_expired', 5_000)).toEqual({ type: 'hold_expired', holdId: held.id, eventId });
    // Once: two more sweeps pass and nothing repeats.
    await Bun.sleep(600);
    for (const tab of ownerTabs) {
      expect(tab.messages.filter((message) => message.type === 'hold_expired')).toHaveLength(1);
      expect(tab.messages.filter((message) => message.type === 'hold_expiring')).toHaveLength(1);
    }
    expect(watcher.messages.filter((message) => message.type === 'seats_released')).toHaveLength(1);
    // Nobody else hears of the hold.
    expect(watcher.messages.some((message) => message.type === 'hold_expired' || message.type === 'hold_expiring')).toBe(false);
    expect(await holdRow(held.id)).toMatchObject({ status: 'expired' });
    const metrics = await server.request('GET', '/metrics');
    expect(metrics.text).toMatch(/seatwatch_holds_total\{result="expired"\} [1-9]/);
    for (const socket of [watcher, ...ownerTabs]) socket.close();
  });

  test('an extension sends a new hold_expiring before the new expiry', async () => {
    const eventId = await createEvent(10);
    const owner = await registerUser(server, 'extender');
    const tab = connect(`${server.wsUrl}/ws?token=${owner.token}`);
    await tab.nextOfType('connection_established');
    const held = (await hold(owner.token, { eventId })).body.hold;
    await server.database.db.update(holds).set({ expiresAt: new Date(Date.now() + 800) }).where(eq(holds.id, held.id));
    await tab.nextOfType('hold_expiring', 5_000);
    const extended = await extend(owner.token, held.id);
    expect(extended.status).toBe(200);
    const newExpiry = Date.now() + 900;
    await server.database.db.update(holds).set({ expiresAt: new Date(newExpiry) }).where(eq(holds.id, held.id));
    const second = await tab.nextOfType('hold_expiring', 5_000);
    expect(second.expiresAt).toBe(new Date(newExpiry).toISOString());
    await tab.nextOfType('hold_expired', 5_000);
    tab.close();
  });
});

describe('events and metrics', () => {
  test('capacity cannot go below booked + held seats: 409 capacity_below_booked; the event shows heldSeats', async () => {
    const eventId = await createEvent(10);
    await hold(buyers[18]!.token, { eventId, quantity: 4 });
    await server.request('POST', '/api/bookings', { token: buyers[19]!.token, body: { eventId, quantity: 3 } });
    expectError(await server.request('PATCH', `/api/events/${eventId}`, { token: organizer, body: { capacity: 6 } }), 409, 'capacity_below_booked');
    const patched = await server.request('PATCH', `/api/events/${eventId}`, { token: organizer, body: { capacity: 7 } });
    expect(patched.status).toBe(200);
    expect(patched.body.event).toMatchObject({ capacity: 7, availableSeats: 0, heldSeats: 4 });
    await expectSeatsAccountedFor(eventId);
  });

  test('/metrics counts holds by result', async () => {
    const text = (await server.request('GET', '/metrics')).text;
    for (const result of ['created', 'confirmed', 'released', 'sold_out', 'hold_limit_reached', 'hold_expired', 'hold_not_active']) {
      expect(text).toMatch(new RegExp(`seatwatch_holds_total\\{result="${result}"\\} [1-9]`));
    }
  });
});
