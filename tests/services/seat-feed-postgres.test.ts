import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import type { DatabaseHandle } from '../../src/db/client';
import { createLogger } from '../../src/lib/logger';
import { bookSeats, cancelBooking } from '../../src/services/booking';
import { createEvent, updateEvent } from '../../src/services/event';
import type { EventHidden, FeedChange, SeatChange, SeatFeed } from '../../src/services/seat-feed';
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
  const change: SeatChange = { eventId: 2_147_483_647, kind: 'booking_cancelled', availableSeats: 0, capacity: 1_000_000, version: 12 };
  const row = sql`(values (${change.eventId}::integer, ${change.availableSeats}::integer, ${change.capacity}::integer, ${change.version}::integer)) as t (e, a, c, v)`;
  const [payloads] = await database.db
    .select({
      fromValues: sql<string>`${encodeSeatChange(change)}`,
      fromColumns: sql<string>`${encodeSeatChange({ eventId: sql`t.e`, kind: 'booking_cancelled', availableSeats: sql`t.a`, capacity: sql`t.c`, version: sql`t.v` })}`,
    })
    .from(row);
  expect(payloads!.fromValues).toBe('2147483647,booking_cancelled,0,1000000,12');
  expect(decodeSeatChange(payloads!.fromValues)).toEqual(change);
  expect(decodeSeatChange(payloads!.fromColumns)).toEqual(change);
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
    { eventId: event.id, kind: 'seat_update', availableSeats: 4, capacity: 4, version: 2 },
    { eventId: event.id, kind: 'seat_update', availableSeats: 5, capacity: 5, version: 3 },
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
      { eventId: event.id, kind: 'booking_created', availableSeats: 1, capacity: 3, version: 2 },
      { eventId: event.id, kind: 'booking_created', availableSeats: 0, capacity: 3, version: 3 },
      { eventId: event.id, kind: 'booking_cancelled', availableSeats: 2, capacity: 3, version: 4 },
      { eventId: event.id, kind: 'booking_created', availableSeats: 1, capacity: 3, version: 5 },
    ]);
    expect(changesOf(draft.id)).toEqual([]);
  });

  test('an idempotent replay notifies nothing', async () => {
    const event = await createEvent(database.db, organizerId, { name: 'Feed replay', startsAt: new Date('2031-01-01T20:00:00Z'), capacity: 5 });
    const request = { userId: buyerId, eventId: event.id, quantity: 1, idempotencyKey: 'feed-key' };
    await bookSeats(database.db, seatFeed, request);
    expect((await bookSeats(database.db, seatFeed, request)).replayed).toBe(true);
    await bookSeats(database.db, seatFeed, { ...request, idempotencyKey: undefined });
    expect((await notified(event.id, 2)).map((change) => change.version)).toEqual([2, 3]);
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
        if (change.eventId === event.id) heard.push(change.version);
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
        { eventId: event.id, kind: 'seat_update', availableSeats: 6, capacity: 6, version: 2 },
        { eventId: event.id, kind: 'seat_update', availableSeats: 7, capacity: 7, version: 3 },
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
