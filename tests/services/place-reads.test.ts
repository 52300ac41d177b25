import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { eq, sql } from 'drizzle-orm';
import type { DatabaseHandle } from '../../src/db/client';
import { events } from '../../src/db/schema';
import { createEvent } from '../../src/services/event';
import { createBatchedPlaceReader } from '../../src/services/place-reads';
import { drawIfDue, getQueueEntries, getQueueEntry, joinQueue, leaveQueue, type PublicQueueEntry } from '../../src/services/queue';
import { openTestDatabase } from '../support/server';
import { insertUsers } from '../support/services';

/** Place reads batched while one is under way, over a real database; the statements are counted. */

let database: DatabaseHandle;
let organizerId: number;
let buyers: number[];

beforeAll(async () => {
  database = await openTestDatabase();
  const ids = await insertUsers(database.db, 'place-reads', 301);
  organizerId = ids[0]!;
  buyers = ids.slice(1);
}, 60_000);
afterAll(() => database.close());

/** An event whose line holds `joiners`, drawn by lottery (tickets 1..K) at one a minute: the head stays put while a test reads. */
async function drawnLine(joiners: number[]): Promise<number> {
  const event = await createEvent(database.db, organizerId, {
    name: 'Place reads',
    startsAt: new Date('2031-04-04T19:00:00Z'),
    capacity: 500,
    salesStartAt: new Date(Date.now() + 60_000),
    queueRatePerMinute: 1,
  });
  for (const userId of joiners) await joinQueue(database.db, event.id, userId);
  await database.db.update(events).set({ salesStartAt: sql`now()` }).where(eq(events.id, event.id));
  expect(await drawIfDue(database.db, event.id)).toBe(joiners.length);
  return event.id;
}

/** A reader over the real statement that records the user ids of every statement it makes. */
function countingReader(read: (eventId: number, userIds: number[]) => Promise<Map<number, PublicQueueEntry>> = (eventId, userIds) => getQueueEntries(database.db, eventId, userIds)) {
  const statements: { eventId: number; userIds: number[] }[] = [];
  const readPlace = createBatchedPlaceReader((eventId, userIds) => {
    statements.push({ eventId, userIds: [...userIds].sort((a, b) => a - b) });
    return read(eventId, userIds);
  });
  return { readPlace, statements };
}

describe('createBatchedPlaceReader', () => {
  test('300 places asked at once: the first is read alone, the rest in one statement per event, each answer the asker\'s own', async () => {
    const inLine = buyers.slice(0, 250);
    const outOfLine = buyers.slice(250, 300);
    const first = await drawnLine(inLine.slice(0, 200));
    const second = await drawnLine(inLine.slice(200));
    const { readPlace, statements } = countingReader();
    const asked = [...inLine.slice(0, 200).map((userId) => ({ eventId: first, userId })), ...inLine.slice(200).map((userId) => ({ eventId: second, userId })), ...outOfLine.map((userId) => ({ eventId: first, userId }))];
    const places = await Promise.all(asked.map(({ eventId, userId }) => readPlace(eventId, userId)));

    expect(statements).toHaveLength(3);
    expect(statements[0]).toEqual({ eventId: first, userIds: [inLine[0]!] });
    expect(statements.slice(1).map((statement) => statement.eventId).sort()).toEqual([first, second].sort());
    expect(statements.flatMap((statement) => statement.userIds).sort((a, b) => a - b)).toEqual([...inLine, ...outOfLine].sort((a, b) => a - b));

    // Each answer is what a statement of the asker's own answers: the tickets of a line are 1..K.
    for (const [index, { eventId, userId }] of asked.entries()) {
      // The estimate counts down between the two reads; the rest stays.
      const { estimatedWaitSeconds: _batchedEstimate, ...batched } = places[index] ?? {};
      const { estimatedWaitSeconds: _ownEstimate, ...own } = (await getQueueEntry(database.db, eventId, userId)) ?? {};
      expect(batched).toEqual(own);
    }
    expect(places.slice(0, 200).map((place) => place!.ticket).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 200 }, (_, index) => index + 1));
    expect(places.slice(200, 250).map((place) => place!.ticket).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 50 }, (_, index) => index + 1));
    expect(places.slice(250).every((place) => place === null)).toBe(true);
  });

  test('a place asked while a statement is under way is not answered from it, so it sees a leave committed since', async () => {
    const [stays, leaves] = buyers.slice(0, 2) as [number, number];
    const eventId = await drawnLine([stays, leaves]);
    // The first statement's answer is held back after it has read, while the leave commits.
    const { promise: firstRead, resolve: firstHasRead } = Promise.withResolvers<void>();
    const { promise: gate, resolve: openGate } = Promise.withResolvers<void>();
    let reads = 0;
    const { readPlace, statements } = countingReader(async (event, userIds) => {
      const places = await getQueueEntries(database.db, event, userIds);
      if (++reads === 1) {
        firstHasRead();
        await gate;
      }
      return places;
    });
    const before = readPlace(eventId, leaves);
    await firstRead;
    await leaveQueue(database.db, eventId, leaves);
    const after = readPlace(eventId, leaves);
    const other = readPlace(eventId, stays);
    openGate();
    expect((await before)?.ticket).toBeOneOf([1, 2]);
    expect(await after).toBeNull();
    expect((await other)?.ticket).toBeOneOf([1, 2]);
    expect(statements.map((statement) => statement.userIds)).toEqual([[leaves], [stays, leaves].sort((x, y) => x - y)]);
  });

  test('a failed statement rejects every read of its batch, and the next batch is read afresh', async () => {
    const eventId = await drawnLine(buyers.slice(0, 4));
    let statementCount = 0;
    const { readPlace, statements } = countingReader(async (event, userIds) => {
      if (++statementCount === 2) throw new Error('database unavailable');
      return getQueueEntries(database.db, event, userIds);
    });
    // The first goes alone; the next two wait for it and share the second statement, which fails.
    const settled = await Promise.allSettled(buyers.slice(0, 3).map((userId) => readPlace(eventId, userId)));
    expect(settled.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    expect(await readPlace(eventId, buyers[3]!)).toMatchObject({ eventId, ticket: expect.any(Number) });
    expect(statements.map((statement) => statement.userIds.length)).toEqual([1, 2, 1]);
  });
});
