import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import type { DatabaseHandle } from '../../src/db/client';
import { createLogger } from '../../src/lib/logger';
import { bookSeats, cancelBooking } from '../../src/services/booking';
import { createEvent, updateEvent } from '../../src/services/event';
import type { EventHidden, FeedChange, HoldNotice, SeatChange, SeatFeed } from '../../src/services/seat-feed';
import { createPostgresSeatFeed, decodeSeatChange, encodeSeatChange, SEAT_CHANNEL } from '../../src/services/seat-feed-postgres';
import { openTestDatabase } from '../support/server';
import { insertUsers, refusal } from '../support/services';
import { createWaiter } from '../support/waiter';

/**
 * The PostgreSQL seat feed's payload and notifications, on the test database (PGlite has
 * LISTEN/NOTIFY too, so this runs on both): what the SQL encoder builds is what the decoder
 * reads, and a booking statement notifies exactly once, a refused one never.
 */

let database: DatabaseHandle;
let seatFeed: SeatFeed;
const payloads: string[] = [];
const waiter = createWaiter();
let stopRawListen: () => Promise<void>;
let organizerId: number;
let buyerId: number;

beforeAll(async () => {
  database = await openTestDatabase();
  [organizerId, buyerId] = (await insertUsers(database.db, 'feed', 2)) as [number, number];
  seatFeed = await createPostgresSeatFeed(database, { logger: createLogger('silent'), onReconnect: async () => {} });
  // The raw payloads, beside the feed's own listener, so a malformed one would show too.
  stopRawListen = await database.listen(SEAT_CHANNEL, (payload) => {
    payloads.push(payload);
    waiter.wake();
  });
}, 60_000);
afterAll(async () => {
  await stopRawListen?.();
  await seatFeed?.close();
  await database?.close();
});

const changesOf = (eventId: number) => payloads.map(decodeSeatChange).filter((change): change is FeedChange => change?.eventId === eventId);

const notified = (eventId: number, count: number) =>
  waiter.until(
    () => (changesOf(eventId).length >= count ? changesOf(eventId) : undefined),
    10_000,
    () => `${count} notifications for event ${eventId}; got ${JSON.stringify(changesOf(eventId))}`,
  );

test('the payload PostgreSQL builds is what decodeSeatChange reads, from values and from columns alike', async () => {
  const change: SeatChange = { eventId: 2_147_483_647, kind: 'booking_cancelled', availableSeats: 0, heldSeats: 3, capacity: 1_000_000, version: 12 };
  const row = sql`(values (${change.eventId}::integer, ${change.availableSeats}::integer, ${change.heldSeats}::integer, ${change.capacity}::integer, ${change.version}::integer)) as t (e, a, h, c, v)`;
  const released: SeatChange = { ...change, kind: 'seats_released', reason: 'expired' };
  const [payloads] = await database.db
    .select({
      fromValues: sql<string>`${encodeSeatChange(change)}`,
      fromColumns: sql<string>`${encodeSeatChange({ eventId: sql`t.e`, kind: 'booking_cancelled', availableSeats: sql`t.a`, heldSeats: sql`t.h`, capacity: sql`t.c`, version: sql`t.v` })}`,
      released: sql<string>`${encodeSeatChange({ eventId: sql`t.e`, kind: 'seats_released', availableSeats: sql`t.a`, heldSeats: sql`t.h`, capacity: sql`t.c`, version: sql`t.v`, reason: 'expired' })}`,
    })
    .from(row);
  expect(payloads!.fromValues).toBe('2147483647,booking_cancelled,0,3,1000000,12,');
  expect(decodeSeatChange(payloads!.fromValues)).toEqual(change);
  expect(decodeSeatChange(payloads!.fromColumns)).toEqual(change);
  expect(payloads!.released).toBe('2147483647,seats_released,0,3,1000000,12,expired');
  expect(decodeSeatChange(payloads!.released)).toEqual(released);
  // Only a release says why; a reason on another kind, or an unknown one, is malformed.
  expect(decodeSeatChange('1,booking_created,0,3,10,2,expired')).toBeNull();
  expect(decodeSeatChange('1,seats_released,0,3,10,2,stolen')).toBeNull();
});

test('a hold notice travels as eventId,kind,userId,holdId,expiresAtMs, from values and from columns alike', async () => {
  const notice: HoldNotice = { eventId: 7, kind: 'hold_expired', userId: 42, holdId: 2_147_483_647, expiresAtMs: Date.parse('2026-12-03T19:10:00.123Z') };
  const [payloads] = await database.db
    .select({
      fromValues: sql<string>`${encodeSeatChange(notice)}`,
      fromColumns: sql<string>`${encodeSeatChange({ ...notice, kind: 'hold_expiring', expiresAtMs: sql`floor(extract(epoch from '2026-12-03T19:10:00.1239Z'::timestamptz) * 1000)::bigint` })}`,
    })
    .from(sql`(values (1)) as t (x)`);
  expect(payloads!.fromValues).toBe(`7,hold_expired,42,2147483647,${notice.expiresAtMs}`);
  expect(decodeSeatChange(payloads!.fromValues)).toEqual(notice);
  expect(decodeSeatChange(payloads!.fromColumns)).toEqual({ ...notice, kind: 'hold_expiring' });
  expect(decodeSeatChange('7,hold_expired,42,x,1')).toBeNull();
});

test('a move to draft travels as eventId,event_hidden,organizerId,version, from values and from columns alike', async () => {
  const hidden: EventHidden = { eventId: 2_147_483_647, kind: 'event_hidden', organizerId: 42, version: 7 };
  const row = sql`(values (${hidden.eventId}::integer, ${hidden.organizerId}::integer, ${hidden.version}::integer)) as t (e, o, v)`;
  const [payloads] = await database.db
    .select({
      fromValues: sql<string>`${encodeSeatChange(hidden)}`,
      fromColumns: sql<string>`${encodeSeatChange({ eventId: sql`t.e`, kind: 'event_hidden', organizerId: sql`t.o`, version: sql`t.v` })}`,
    })
    .from(row);
  expect(payloads!.fromValues).toBe('2147483647,event_hidden,42,7');
  expect(decodeSeatChange(payloads!.fromValues)).toEqual(hidden);
  expect(decodeSeatChange(payloads!.fromColumns)).toEqual(hidden);
  for (const malformed of ['1,event_hidden,42', '1,event_hidden,42,7,0', '1,event_hidden,x,7', '1,event_hidden,,7']) expect(decodeSeatChange(malformed)).toBeNull();
});

test('a move to draft notifies event_hidden once, ahead of the capacity change of the same edit; other edits and refusals notify nothing', async () => {
  const event = await createEvent(database.db, organizerId, { name: 'Feed hidden', startsAt: new Date('2031-01-01T20:00:00Z'), capacity: 3 });
  await updateEvent(database.db, seatFeed, organizerId, event.id, { status: 'draft', capacity: 4 });
  await refusal(updateEvent(database.db, seatFeed, buyerId, event.id, { status: 'published' }), 'event_not_found');
  await updateEvent(database.db, seatFeed, organizerId, event.id, { status: 'draft', name: 'Still a draft' });
  await updateEvent(database.db, seatFeed, organizerId, event.id, { status: 'published' });
  // In commit order: once this capacity change is here, anything the edits before had sent is too.
  await updateEvent(database.db, seatFeed, organizerId, event.id, { capacity: 5 });
  expect(await notified(event.id, 3)).toEqual([
    { eventId: event.id, kind: 'event_hidden', organizerId, version: 2 },
    { eventId: event.id, kind: 'seat_update', availableSeats: 4, heldSeats: 0, capacity: 4, version: 2 },
    { eventId: event.id, kind: 'seat_update', availableSeats: 5, heldSeats: 0, capacity: 5, version: 3 },
  ]);
});

describe('bookings on the PostgreSQL feed', () => {
  test('each booking and cancellation notifies exactly once, with the committed state; refusals notify nothing', async () => {
    const event = await createEvent(database.db, organizerId, { name: 'Feed event', startsAt: new Date('2031-01-01T20:00:00Z'), capacity: 3 });
    const draft = await createEvent(database.db, organizerId, { name: 'Feed draft', startsAt: new Date('2031-01-01T20:00:00Z'), capacity: 3, status: 'draft' });
    const booked = await bookSeats(database.db, seatFeed, { userId: buyerId, eventId: event.id, quantity: 2 });
    await refusal(bookSeats(database.db, seatFeed, { userId: buyerId, eventId: event.id, quantity: 2 }), 'sold_out');
    await refusal(bookSeats(database.db, seatFeed, { userId: buyerId, eventId: draft.id, quantity: 1 }), 'event_not_found');
    await bookSeats(database.db, seatFeed, { userId: buyerId, eventId: event.id, quantity: 1 });
    await cancelBooking(database.db, seatFeed, buyerId, booked.booking.id);
    await refusal(cancelBooking(database.db, seatFeed, buyerId, booked.booking.id), 'already_cancelled');
    // Notifications arrive in commit order, so once this last booking's is here, anything the
    // refusals had sent would be here too.
    await bookSeats(database.db, seatFeed, { userId: buyerId, eventId: event.id, quantity: 1 });

    expect(await notified(event.id, 4)).toEqual([
      { eventId: event.id, kind: 'booking_created', availableSeats: 1, heldSeats: 0, capacity: 3, version: 2 },
      { eventId: event.id, kind: 'booking_created', availableSeats: 0, heldSeats: 0, capacity: 3, version: 3 },
      { eventId: event.id, kind: 'booking_cancelled', availableSeats: 2, heldSeats: 0, capacity: 3, version: 4 },
      { eventId: event.id, kind: 'booking_created', availableSeats: 1, heldSeats: 0, capacity: 3, version: 5 },
    ]);
    expect(changesOf(draft.id)).toEqual([]);
  });

  test('a transaction that notifies on the seat channel and then rolls back publishes nothing (SPEC §4)', async () => {
    const event = await createEvent(database.db, organizerId, { name: 'Feed rollback', startsAt: new Date('2031-01-01T20:00:00Z'), capacity: 5 });
    const rolledBack: SeatChange = { eventId: event.id, kind: 'booking_created', availableSeats: 2, heldSeats: 0, capacity: 5, version: 2 };
    const failure = await database.db
      .transaction(async (tx) => {
        await tx.execute(sql`update events set available_seats = 2, version = 2 where id = ${event.id}`);
        // The very notification a booking's statement queues (pg_notify on the seat channel).
        await tx.execute(sql`select ${seatFeed.recordInStatement(rolledBack)}`);
        throw new Error('changed my mind');
      })
      .catch((error: unknown) => error);
    expect((failure as Error).message).toBe('changed my mind');
    // The fence: notifications arrive in commit order, so once this later booking's is here, the
    // rolled-back one would be here too, had PostgreSQL sent it.
    await bookSeats(database.db, seatFeed, { userId: buyerId, eventId: event.id, quantity: 1 });
    const fence: SeatChange = { eventId: event.id, kind: 'booking_created', availableSeats: 4, heldSeats: 0, capacity: 5, version: 2 };
    expect(await notified(event.id, 1)).toEqual([fence]);
    expect(changesOf(event.id)).toEqual([fence]);
  });

  test('an idempotent replay notifies nothing', async () => {
    const event = await createEvent(database.db, organizerId, { name: 'Feed replay', startsAt: new Date('2031-01-01T20:00:00Z'), capacity: 5 });
    const request = { userId: buyerId, eventId: event.id, quantity: 1, idempotencyKey: 'feed-key' };
    await bookSeats(database.db, seatFeed, request);
    expect((await bookSeats(database.db, seatFeed, request)).replayed).toBe(true);
    await bookSeats(database.db, seatFeed, { ...request, idempotencyKey: undefined });
    expect((await notified(event.id, 2)).map((change) => ('version' in change ? change.version : null))).toEqual([2, 3]);
  });
});

describe('deliverOwnCommitsAtOnce', () => {
  /** Books one seat on a fresh event; what the feed's subscriber had heard when bookSeats returned, and once `expected` changes came. */
  async function bookWatching(deliverOwnCommitsAtOnce: boolean, expected: number) {
    const feed = await createPostgresSeatFeed(database, { logger: createLogger('silent'), onReconnect: async () => {}, deliverOwnCommitsAtOnce });
    try {
      const event = await createEvent(database.db, organizerId, { name: 'Feed at once', startsAt: new Date('2031-01-01T20:00:00Z'), capacity: 5 });
      const heard: number[] = [];
      feed.subscribe((change) => {
        if (change.eventId === event.id && 'version' in change) heard.push(change.version);
      });
      await bookSeats(database.db, feed, { userId: buyerId, eventId: event.id, quantity: 1 });
      const heardWhenBooked = [...heard];
      await notified(event.id, 1);
      // The feed's own LISTEN connection may trail the raw one a little.
      for (let waited = 0; heard.length < expected && waited < 5000; waited += 10) await Bun.sleep(10);
      return { heardWhenBooked, heard };
    } finally {
      await feed.close();
    }
  }

  test('on: subscribers hear the booking when its statement returns, and again from its notification', async () => {
    const { heardWhenBooked, heard } = await bookWatching(true, 2);
    // In-process PGlite may deliver the notification first; either way the booking is heard by then.
    expect(heardWhenBooked).toContain(2);
    expect(heard).toEqual([2, 2]);
  });

  test('on: a move to draft is heard once, from its notification, and no own change committed after it goes ahead of it', async () => {
    // The same database, its notifications handed on 100 ms late, as over a slow LISTEN connection.
    const slowListen: DatabaseHandle = {
      ...database,
      listen: (channel, handler, listenOptions) => database.listen(channel, (payload) => void setTimeout(() => handler(payload), 100), listenOptions),
    };
    const feed = await createPostgresSeatFeed(slowListen, { logger: createLogger('silent'), onReconnect: async () => {}, deliverOwnCommitsAtOnce: true });
    try {
      const event = await createEvent(database.db, organizerId, { name: 'Feed hidden at once', startsAt: new Date('2031-01-01T20:00:00Z'), capacity: 5 });
      const heard: FeedChange[] = [];
      feed.subscribe((change) => {
        if (change.eventId === event.id) heard.push(change);
      });
      await updateEvent(database.db, feed, organizerId, event.id, { status: 'draft' });
      await updateEvent(database.db, feed, organizerId, event.id, { capacity: 6 });
      await updateEvent(database.db, feed, organizerId, event.id, { capacity: 7 });
      await notified(event.id, 3);
      for (let waited = 0; heard.length < 3 && waited < 5000; waited += 10) await Bun.sleep(10);
      // Any repeat of the notice would come in its 100 ms too.
      await Bun.sleep(150);
      expect(heard).toEqual([
        { eventId: event.id, kind: 'event_hidden', organizerId, version: 1 },
        { eventId: event.id, kind: 'seat_update', availableSeats: 6, heldSeats: 0, capacity: 6, version: 2 },
        { eventId: event.id, kind: 'seat_update', availableSeats: 7, heldSeats: 0, capacity: 7, version: 3 },
      ]);
    } finally {
      await feed.close();
    }
  });

  test('off: only the notification carries it', async () => {
    const { heard } = await bookWatching(false, 1);
    await Bun.sleep(100);
    expect(heard).toEqual([2]);
  });
});
