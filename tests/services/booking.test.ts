import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { eq, type SQL } from 'drizzle-orm';
import type { SelectedFields } from 'drizzle-orm/pg-core';
import type { DatabaseHandle } from '../../src/db/client';
import { bookings, events } from '../../src/db/schema';
import { AppError } from '../../src/lib/errors';
import { bookSeats, cancelBooking, getBooking, listBookings } from '../../src/services/booking';
import { createEvent } from '../../src/services/event';
import { createLogger } from '../../src/lib/logger';
import { createInProcessSeatFeed, type SeatChange } from '../../src/services/seat-feed';
import { createSeatFeed } from '../../src/services/seat-feed-transport';
import { openTestDatabase } from '../support/server';
import { waitFor } from '../support/ws';
import { insertUsers, readEventRow, refusal } from '../support/services';

/** The booking rules as plain functions over a real database, no HTTP. */

let database: DatabaseHandle;
const seatFeed = createInProcessSeatFeed();
const emitted: SeatChange[] = [];
let organizerId: number;
let buyerIds: number[];

beforeAll(async () => {
  database = await openTestDatabase();
  [organizerId, ...buyerIds] = (await insertUsers(database.db, 'service', 6)) as [number, ...number[]];
  seatFeed.subscribe((change) => {
    if ('availableSeats' in change) emitted.push(change);
  });
}, 60_000);
afterAll(() => database.close());

const newEvent = (capacity: number, status: 'draft' | 'published' = 'published') =>
  createEvent(database.db, organizerId, { name: 'Service event', startsAt: new Date('2031-01-01T20:00:00Z'), capacity, status });

const eventRow = (eventId: number) => readEventRow(database.db, eventId);

const changesOf = (eventId: number) => emitted.filter((change) => change.eventId === eventId);

describe('bookSeats', () => {
  test('takes the seats, bumps version once and emits one booking_created after commit', async () => {
    const event = await newEvent(5);
    let readWhenEmitted: ReturnType<typeof eventRow> | undefined;
    const stop = seatFeed.subscribe((change) => {
      // A read started the moment the change is emitted already sees it: emitted after commit.
      if (change.eventId === event.id) readWhenEmitted = eventRow(event.id);
    });
    const result = await bookSeats(database.db, seatFeed, { userId: buyerIds[0]!, eventId: event.id, quantity: 2 });
    stop();
    expect(result.replayed).toBe(false);
    expect(result.availableSeats).toBe(3);
    expect(result.booking).toMatchObject({ eventId: event.id, userId: buyerIds[0], quantity: 2, status: 'confirmed', cancelledAt: null });
    expect(await eventRow(event.id)).toMatchObject({ availableSeats: 3, version: 2 });
    expect(await readWhenEmitted).toMatchObject({ availableSeats: 3, version: 2 });
    expect(changesOf(event.id)).toEqual([{ eventId: event.id, kind: 'booking_created', availableSeats: 3, heldSeats: 0, capacity: 5, version: 2 }]);
  });

  test('not enough seats: sold_out with the seats left; nothing written, nothing emitted', async () => {
    const event = await newEvent(3);
    await bookSeats(database.db, seatFeed, { userId: buyerIds[0]!, eventId: event.id, quantity: 2 });
    const before = await eventRow(event.id);
    const error = await refusal(bookSeats(database.db, seatFeed, { userId: buyerIds[1]!, eventId: event.id, quantity: 2 }), 'sold_out');
    expect(error.status).toBe(409);
    expect(error.toBody()).toEqual({ error: { code: 'sold_out', message: 'Only 1 seat left', availableSeats: 1 } });
    expect(await eventRow(event.id)).toEqual(before);
    expect(await database.db.select().from(bookings).where(eq(bookings.eventId, event.id))).toHaveLength(1);
    expect(changesOf(event.id)).toHaveLength(1);
  });

  test('a refusal overtaken by a cancellation is no answer: the booking is retried under the row lock', async () => {
    const event = await newEvent(2);
    const { booking } = await bookSeats(database.db, seatFeed, { userId: buyerIds[0]!, eventId: event.id, quantity: 2 });
    // The booking below is refused (sold out); then a cancellation commits before the read that
    // explains the refusal, as it may under READ COMMITTED.
    let overtaken = false;
    const racingDb = new Proxy(database.db, {
      get(target, property) {
        if (property !== 'select' || overtaken) return Reflect.get(target, property);
        overtaken = true;
        return (fields: SelectedFields) => ({
          from: (table: typeof events) => ({
            async where(condition: SQL | undefined) {
              await cancelBooking(target, seatFeed, buyerIds[0]!, booking.id);
              return target.select(fields).from(table).where(condition);
            },
          }),
        });
      },
    });
    const result = await bookSeats(racingDb, seatFeed, { userId: buyerIds[1]!, eventId: event.id, quantity: 2 });
    expect(overtaken).toBe(true);
    expect(result.availableSeats).toBe(0);
    expect(await eventRow(event.id)).toMatchObject({ availableSeats: 0, version: 4 });
    expect(changesOf(event.id).map(({ kind, version }) => [kind, version])).toEqual([
      ['booking_created', 2],
      ['booking_cancelled', 3],
      ['booking_created', 4],
    ]);
  });

  test('a draft or a missing event: event_not_found', async () => {
    const draft = await newEvent(3, 'draft');
    await refusal(bookSeats(database.db, seatFeed, { userId: organizerId, eventId: draft.id, quantity: 1 }), 'event_not_found');
    await refusal(bookSeats(database.db, seatFeed, { userId: buyerIds[0]!, eventId: 2_000_000, quantity: 1 }), 'event_not_found');
    expect(await eventRow(draft.id)).toMatchObject({ availableSeats: 3, version: 1 });
    expect(changesOf(draft.id)).toEqual([]);
  });

  test('an Idempotency-Key repeat returns the original without booking; another body conflicts', async () => {
    const event = await newEvent(10);
    const request = { userId: buyerIds[1]!, eventId: event.id, quantity: 3, idempotencyKey: 'service-key' };
    const first = await bookSeats(database.db, seatFeed, request);
    await bookSeats(database.db, seatFeed, { userId: buyerIds[2]!, eventId: event.id, quantity: 1 });
    const repeat = await bookSeats(database.db, seatFeed, request);
    expect(repeat).toEqual({ ...first, replayed: true });
    await refusal(bookSeats(database.db, seatFeed, { ...request, quantity: 4 }), 'idempotency_conflict');
    expect(await eventRow(event.id)).toMatchObject({ availableSeats: 6, version: 3 });
    expect(changesOf(event.id)).toHaveLength(2);
  });

  test('100 parallel calls on 10 seats sell exactly 10', async () => {
    const event = await newEvent(10);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 100 }, (_, index) => bookSeats(database.db, seatFeed, { userId: buyerIds[index % buyerIds.length]!, eventId: event.id, quantity: 1 })),
    );
    const sold = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    expect(sold).toHaveLength(10);
    for (const outcome of outcomes) if (outcome.status === 'rejected') expect((outcome.reason as AppError).code).toBe('sold_out');
    expect(await eventRow(event.id)).toMatchObject({ availableSeats: 0, version: 11 });
    expect(changesOf(event.id).map((change) => change.availableSeats).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('cancelBooking, getBooking, listBookings', () => {
  test('cancel returns the seats once; again is already_cancelled; another user gets booking_not_found', async () => {
    const event = await newEvent(8);
    const { booking } = await bookSeats(database.db, seatFeed, { userId: buyerIds[3]!, eventId: event.id, quantity: 3 });
    await refusal(cancelBooking(database.db, seatFeed, buyerIds[4]!, booking.id), 'booking_not_found');
    const cancelled = await cancelBooking(database.db, seatFeed, buyerIds[3]!, booking.id);
    expect(cancelled.availableSeats).toBe(8);
    expect(cancelled.booking.status).toBe('cancelled');
    // Stamped by the database at the cancel: within a minute of this machine's clock.
    expect(Math.abs(new Date(cancelled.booking.cancelledAt!).getTime() - Date.now())).toBeLessThan(60_000);
    await refusal(cancelBooking(database.db, seatFeed, buyerIds[3]!, booking.id), 'already_cancelled');
    expect(await eventRow(event.id)).toMatchObject({ availableSeats: 8, version: 3 });
    expect(changesOf(event.id).map((change) => change.kind)).toEqual(['booking_created', 'booking_cancelled']);
  });

  test('parallel cancels of one booking: exactly one succeeds', async () => {
    const event = await newEvent(8);
    const { booking } = await bookSeats(database.db, seatFeed, { userId: buyerIds[3]!, eventId: event.id, quantity: 5 });
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => cancelBooking(database.db, seatFeed, buyerIds[3]!, booking.id)));
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    for (const outcome of outcomes) if (outcome.status === 'rejected') expect((outcome.reason as AppError).code).toBe('already_cancelled');
    expect(await eventRow(event.id)).toMatchObject({ availableSeats: 8, version: 3 });
  });

  test("get and list show only the owner's bookings, newest first", async () => {
    const event = await newEvent(20);
    const owner = buyerIds[4]!;
    const made = [];
    for (const quantity of [1, 2, 3]) made.push((await bookSeats(database.db, seatFeed, { userId: owner, eventId: event.id, quantity })).booking);
    expect(await getBooking(database.db, owner, made[1]!.id)).toEqual(made[1]!);
    await refusal(getBooking(database.db, buyerIds[0]!, made[1]!.id), 'booking_not_found');
    const listed = await listBookings(database.db, owner);
    expect(listed.slice(0, 3).map((booking) => booking.id)).toEqual(made.map((booking) => booking.id).reverse());
    for (const booking of listed) expect(booking.userId).toBe(owner);
  });
});

describe('through the server\'s own seat feed', () => {
  test(`concurrent bookings of one event: each answers with its seats, and subscribers hear every version once, in order (${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'})`, async () => {
    const feed = await createSeatFeed(database, { logger: createLogger('silent'), onReconnect: async () => {} });
    try {
      const event = await newEvent(100);
      const heard: number[] = [];
      feed.subscribe((change) => {
        if (change.eventId === event.id && 'version' in change) heard.push(change.version);
      });
      const count = 12;
      const results = await Promise.all(
        Array.from({ length: count }, (_, index) => bookSeats(database.db, feed, { userId: buyerIds[index % buyerIds.length]!, eventId: event.id, quantity: 1 })),
      );
      expect(results.map((result) => result.availableSeats).sort((x, y) => y - x)).toEqual(Array.from({ length: count }, (_, index) => 99 - index));
      // A booking answers without waiting for its change to be handed on (on PostgreSQL it comes back through LISTEN).
      await waitFor(() => heard.length === count, 10_000, 'every version');
      expect(heard).toEqual(Array.from({ length: count }, (_, index) => event.version + 1 + index));
    } finally {
      await feed.close();
    }
  }, 30_000);
});
