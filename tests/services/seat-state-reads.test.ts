import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { DatabaseHandle } from '../../src/db/client';
import { bookSeats } from '../../src/services/booking';
import { createEvent, getViewableSeatStates, type ViewableSeatState } from '../../src/services/event';
import { createInProcessSeatFeed } from '../../src/services/seat-feed';
import { createBatchedSeatStateLoader } from '../../src/services/seat-state-reads';
import { openTestDatabase } from '../support/server';
import { insertUsers } from '../support/services';

/** Snapshot reads batched per timer turn, over a real database; the queries are counted. */

let database: DatabaseHandle;
let organizerId: number;
let otherId: number;

beforeAll(async () => {
  database = await openTestDatabase();
  [organizerId, otherId] = (await insertUsers(database.db, 'snapshot-reads', 2)) as [number, number];
}, 60_000);
afterAll(() => database.close());

const newEvent = (capacity: number, status: 'draft' | 'published' = 'published') =>
  createEvent(database.db, organizerId, { name: `Snapshot ${capacity}`, startsAt: new Date('2031-03-03T19:00:00Z'), capacity, status });

/** A loader over the real query that records the event ids of every query it makes. */
function countingLoader(read: (eventIds: number[]) => Promise<ViewableSeatState[]> = (eventIds) => getViewableSeatStates(database.db, eventIds)) {
  const queries: number[][] = [];
  const load = createBatchedSeatStateLoader((eventIds) => {
    queries.push([...eventIds].sort((a, b) => a - b));
    return read(eventIds);
  });
  return { load, queries };
}

describe('createBatchedSeatStateLoader', () => {
  test('reads asked in one turn share one query, for every event asked about', async () => {
    const first = await newEvent(5);
    const second = await newEvent(8);
    const { load, queries } = countingLoader();
    const reads = await Promise.all([
      ...Array.from({ length: 200 }, () => load(first.id, otherId)),
      load(second.id, otherId),
      load(second.id, organizerId),
    ]);
    expect(queries).toEqual([[first.id, second.id]]);
    expect(reads.slice(0, 200).every((state) => state?.eventId === first.id && state.availableSeats === 5 && state.version === 1)).toBe(true);
    expect(reads.at(-1)).toEqual({ eventId: second.id, availableSeats: 8, heldSeats: 0, capacity: 8, version: 1, queue: null });
    // Each reader gets an object of its own, without the visibility columns.
    expect(reads[0]).not.toBe(reads[1]);
    expect(reads[0]).not.toHaveProperty('status');
  });

  test('a draft in a shared batch is answered for its organizer only; an unknown event is null', async () => {
    const draft = await newEvent(3, 'draft');
    const { load, queries } = countingLoader();
    const [forOrganizer, forOther, unknown] = await Promise.all([load(draft.id, organizerId), load(draft.id, otherId), load(2_000_000_000, organizerId)]);
    expect(queries).toHaveLength(1);
    expect(forOrganizer).toEqual({ eventId: draft.id, availableSeats: 3, heldSeats: 0, capacity: 3, version: 1, queue: null });
    expect(forOther).toBeNull();
    expect(unknown).toBeNull();
  });

  test('a read asked after a query started waits for a query of its own, so it sees what committed since', async () => {
    const event = await newEvent(10);
    const seatFeed = createInProcessSeatFeed();
    const { load, queries } = countingLoader();
    const before = load(event.id, otherId);
    await Bun.sleep(1);
    expect(queries).toHaveLength(1);
    // The first batch's query has started; a booking commits; only then is the second read asked.
    await bookSeats(database.db, seatFeed, { userId: otherId, eventId: event.id, quantity: 4 });
    const after = load(event.id, otherId);
    expect(queries).toHaveLength(1);
    expect(await after).toEqual({ eventId: event.id, availableSeats: 6, heldSeats: 0, capacity: 10, version: 2, queue: null });
    expect(queries).toHaveLength(2);
    expect((await before)?.version).toBeLessThanOrEqual(2);
  });

  test('a failed query rejects every read of its batch, and the next batch is read afresh', async () => {
    const event = await newEvent(2);
    let failNext = true;
    const { load, queries } = countingLoader(async (eventIds) => {
      if (failNext) {
        failNext = false;
        throw new Error('database unavailable');
      }
      return getViewableSeatStates(database.db, eventIds);
    });
    const failed = await Promise.allSettled([load(event.id, otherId), load(event.id, organizerId)]);
    expect(failed.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(await load(event.id, otherId)).toEqual({ eventId: event.id, availableSeats: 2, heldSeats: 0, capacity: 2, version: 1, queue: null });
    expect(queries).toHaveLength(2);
  });
});
