import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import type { DatabaseHandle } from '../../src/db/client';
import { bookings } from '../../src/db/schema';
import { bookSeats, cancelBooking } from '../../src/services/booking';
import { createEvent, getViewableSeatStates, getVisibleEvent, isVisibleTo, listEvents, updateEvent } from '../../src/services/event';
import { createInProcessSeatFeed, type EventHidden, type FeedChange, type SeatChange } from '../../src/services/seat-feed';
import { AppError } from '../../src/lib/errors';
import { openTestDatabase } from '../support/server';
import { insertUsers, readEventRow, refusal } from '../support/services';

/** The event rules as plain functions over a real database, no HTTP. */

let database: DatabaseHandle;
const seatFeed = createInProcessSeatFeed();
const emitted: SeatChange[] = [];
/** Every feed change in order, moves to draft included. */
const fed: FeedChange[] = [];
let organizerId: number;
let otherId: number;

beforeAll(async () => {
  database = await openTestDatabase();
  [organizerId, otherId] = (await insertUsers(database.db, 'event', 2)) as [number, number];
  seatFeed.subscribe((change) => {
    fed.push(change);
    if ('availableSeats' in change) emitted.push(change);
  });
}, 60_000);
afterAll(() => database.close());

const newEvent = (capacity: number, status: 'draft' | 'published' = 'published') =>
  createEvent(database.db, organizerId, { name: `Event of ${capacity}`, startsAt: new Date('2031-02-02T19:00:00Z'), capacity, status });

const eventRow = (eventId: number) => readEventRow(database.db, eventId);

const changesOf = (eventId: number) => emitted.filter((change) => change.eventId === eventId);

describe('create, list, get', () => {
  test('createEvent: all seats free, version 1, defaults', async () => {
    const event = await newEvent(7);
    expect(event).toMatchObject({ capacity: 7, availableSeats: 7, version: 1, status: 'published', organizerId, description: '', venue: '', startsAt: '2031-02-02T19:00:00.000Z' });
  });

  test('drafts are visible to their organizer only, in lists, gets and seat states', async () => {
    const draft = await newEvent(3, 'draft');
    const published = await newEvent(4);
    const anonymousIds = (await listEvents(database.db, null, { limit: 500, offset: 0 })).map((event) => event.id);
    const otherIds = (await listEvents(database.db, otherId, { limit: 500, offset: 0 })).map((event) => event.id);
    const organizerIds = (await listEvents(database.db, organizerId, { limit: 500, offset: 0 })).map((event) => event.id);
    expect(anonymousIds).toContain(published.id);
    expect(anonymousIds).not.toContain(draft.id);
    expect(otherIds).not.toContain(draft.id);
    expect(organizerIds).toContain(draft.id);
    expect(organizerIds).toEqual([...organizerIds].sort((a, b) => a - b));

    expect(await getVisibleEvent(database.db, draft.id, organizerId)).toEqual(draft);
    await refusal(getVisibleEvent(database.db, draft.id, otherId), 'event_not_found');
    await refusal(getVisibleEvent(database.db, draft.id, null), 'event_not_found');
    // Snapshot reads fetch the row with its visibility columns and decide per viewer.
    const [draftState] = await getViewableSeatStates(database.db, [draft.id]);
    expect(draftState).toEqual({ eventId: draft.id, availableSeats: 3, heldSeats: 0, capacity: 3, version: 1, status: 'draft', organizerId, queue: null });
    expect(isVisibleTo(draftState!, organizerId)).toBe(true);
    expect(isVisibleTo(draftState!, otherId)).toBe(false);
    expect(isVisibleTo(draftState!, null)).toBe(false);
    expect(isVisibleTo({ status: 'published', organizerId }, otherId)).toBe(true);
    expect(isVisibleTo({ status: 'published', organizerId }, null)).toBe(true);
    expect(await getViewableSeatStates(database.db, [])).toEqual([]);
    // Catch-up reads every watched event this way too, whoever may see it.
    const states = await getViewableSeatStates(database.db, [draft.id, published.id]);
    expect(states.map((state) => state.eventId).sort((a, b) => a - b)).toEqual([draft.id, published.id]);
  });

  test('limit and offset', async () => {
    const all = await listEvents(database.db, organizerId, { limit: 500, offset: 0 });
    expect(all.length).toBeGreaterThanOrEqual(3);
    expect(await listEvents(database.db, organizerId, { limit: 2, offset: 1 })).toEqual(all.slice(1, 3));
  });
});

describe('updateEvent', () => {
  test('capacity changes move availableSeats by the same amount, bump version, emit seat_update after commit', async () => {
    const event = await newEvent(10);
    await bookSeats(database.db, seatFeed, { userId: otherId, eventId: event.id, quantity: 4 });
    expect(await updateEvent(database.db, seatFeed, organizerId, event.id, { capacity: 12 })).toMatchObject({ capacity: 12, availableSeats: 8, version: 3 });
    expect(await updateEvent(database.db, seatFeed, organizerId, event.id, { capacity: 4 })).toMatchObject({ capacity: 4, availableSeats: 0, version: 4 });
    expect(changesOf(event.id).filter((change) => change.kind === 'seat_update')).toEqual([
      { eventId: event.id, kind: 'seat_update', availableSeats: 8, heldSeats: 0, capacity: 12, version: 3 },
      { eventId: event.id, kind: 'seat_update', availableSeats: 0, heldSeats: 0, capacity: 4, version: 4 },
    ]);
  });

  test('published → draft emits event_hidden with the organizer, ahead of a capacity change of the same edit; no version bump of its own', async () => {
    const event = await newEvent(8);
    const drafted = await updateEvent(database.db, seatFeed, organizerId, event.id, { status: 'draft', capacity: 9 });
    expect(drafted).toMatchObject({ status: 'draft', capacity: 9, availableSeats: 9, version: 2 });
    const hidden: EventHidden = { kind: 'event_hidden', eventId: event.id, organizerId, version: 2 };
    expect(fed.filter((change) => change.eventId === event.id)).toEqual([hidden, { eventId: event.id, kind: 'seat_update', availableSeats: 9, heldSeats: 0, capacity: 9, version: 2 }]);

    // Already a draft, edited again, published again: nothing more is hidden, and no version moves.
    await updateEvent(database.db, seatFeed, organizerId, event.id, { status: 'draft', name: 'Still a draft' });
    expect(await updateEvent(database.db, seatFeed, organizerId, event.id, { status: 'published' })).toMatchObject({ status: 'published', version: 2 });
    const again = await updateEvent(database.db, seatFeed, organizerId, event.id, { status: 'draft' });
    expect(again).toMatchObject({ status: 'draft', version: 2 });
    expect(fed.filter((change) => change.eventId === event.id && change.kind === 'event_hidden')).toEqual([hidden, hidden]);
    // A refused move emits nothing.
    await refusal(updateEvent(database.db, seatFeed, otherId, (await newEvent(2)).id, { status: 'draft' }), 'forbidden');
    expect(fed.at(-1)).toEqual(hidden);
  });

  test('details only, or the same capacity: no version bump, nothing emitted', async () => {
    const event = await newEvent(6);
    const renamed = await updateEvent(database.db, seatFeed, organizerId, event.id, { name: 'Renamed', capacity: 6, venue: 'Elsewhere' });
    expect(renamed).toMatchObject({ name: 'Renamed', venue: 'Elsewhere', capacity: 6, availableSeats: 6, version: 1 });
    expect(changesOf(event.id)).toEqual([]);
  });

  test('refusals: capacity_below_booked with bookedSeats, forbidden, event_not_found; nothing changes', async () => {
    const event = await newEvent(10);
    const draft = await newEvent(5, 'draft');
    await bookSeats(database.db, seatFeed, { userId: otherId, eventId: event.id, quantity: 6 });
    const before = await eventRow(event.id);
    const below = await refusal(updateEvent(database.db, seatFeed, organizerId, event.id, { capacity: 5, name: 'Changed' }), 'capacity_below_booked');
    expect(below.status).toBe(409);
    expect(below.toBody().error.bookedSeats).toBe(6);
    expect((await refusal(updateEvent(database.db, seatFeed, otherId, event.id, { name: 'Mine' }), 'forbidden')).status).toBe(403);
    await refusal(updateEvent(database.db, seatFeed, otherId, draft.id, { name: 'Mine' }), 'event_not_found');
    await refusal(updateEvent(database.db, seatFeed, organizerId, 2_000_000, { name: 'Ghost' }), 'event_not_found');
    expect(await eventRow(event.id)).toEqual(before);
    expect(changesOf(event.id).filter((change) => change.kind === 'seat_update')).toEqual([]);
  });

  test('capacity edits racing with bookings and cancellations keep the arithmetic exact', async () => {
    const event = await newEvent(30);
    const made = await Promise.allSettled(Array.from({ length: 20 }, () => bookSeats(database.db, seatFeed, { userId: otherId, eventId: event.id, quantity: 2 })));
    const booked = made.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value.booking] : []));
    const operations: Promise<unknown>[] = [];
    for (let index = 0; index < 40; index++) {
      if (index % 4 === 0) operations.push(updateEvent(database.db, seatFeed, organizerId, event.id, { capacity: 10 + ((index * 7) % 40) }));
      else if (index % 4 === 1 && booked.length > 0) operations.push(cancelBooking(database.db, seatFeed, otherId, booked.pop()!.id));
      else operations.push(bookSeats(database.db, seatFeed, { userId: otherId, eventId: event.id, quantity: 1 }));
    }
    const outcomes = await Promise.allSettled(operations);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') expect(['sold_out', 'capacity_below_booked']).toContain((outcome.reason as AppError).code);
    }
    const row = await eventRow(event.id);
    const confirmedSeats = (await database.db.select().from(bookings).where(eq(bookings.eventId, event.id)))
      .filter((booking) => booking.status === 'confirmed')
      .reduce((sum, booking) => sum + booking.quantity, 0);
    expect(row.availableSeats).toBe(row.capacity - confirmedSeats);
    for (const change of changesOf(event.id)) {
      expect(change.availableSeats).toBeGreaterThanOrEqual(0);
      expect(change.availableSeats).toBeLessThanOrEqual(change.capacity);
    }
    expect(row.version).toBe(1 + changesOf(event.id).length);
  });
});
