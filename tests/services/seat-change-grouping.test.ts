import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { DatabaseHandle } from '../../src/db/client';
import { createLogger } from '../../src/lib/logger';
import { bookSeats } from '../../src/services/booking';
import { createEvent } from '../../src/services/event';
import { createSeatChangeGrouping } from '../../src/services/seat-change-grouping';
import type { FeedChange, SeatChange } from '../../src/services/seat-feed';
import { createSeatFeed } from '../../src/services/seat-feed-transport';
import { openTestDatabase } from '../support/server';
import { insertUsers } from '../support/services';

const change = (eventId: number, version: number): SeatChange => ({ eventId, kind: 'booking_created', availableSeats: 100 - version, capacity: 100, version });

/** What was delivered, by synchronous step: a step ends at the next microtask. */
function recorder() {
  const steps: number[][] = [];
  let stepOpen = false;
  return {
    steps,
    deliver(delivered: FeedChange) {
      if (!stepOpen) {
        steps.push([]);
        stepOpen = true;
        queueMicrotask(() => (stepOpen = false));
      }
      steps.at(-1)!.push(delivered.version);
    },
  };
}

/** Ends the current synchronous step, so the recorder counts what follows as a new one. */
const nextStep = () => Promise.resolve();

test('a change with nothing running beside it is handed on at once', async () => {
  const seen = recorder();
  const grouping = createSeatChangeGrouping(seen.deliver, 1000);
  grouping.arrive(change(1, 2));
  expect(seen.steps).toEqual([[2]]);
  await nextStep();
  // A statement of another event holds nothing of this one.
  grouping.begin(9);
  grouping.arrive(change(1, 3));
  expect(seen.steps).toEqual([[2], [3]]);
});

test('a change waits for the statements running beside it, then all leave in one step, in order', async () => {
  const seen = recorder();
  const grouping = createSeatChangeGrouping(seen.deliver, 1000);
  const [a, b, c] = [grouping.begin(1), grouping.begin(1), grouping.begin(1)];
  a.settle(2);
  grouping.arrive(change(1, 2));
  expect(seen.steps).toEqual([]);
  // The notification may come before the statement's own result.
  grouping.arrive(change(1, 3));
  await nextStep();
  b.settle(3);
  expect(seen.steps).toEqual([]);
  c.settle(null);
  expect(seen.steps).toEqual([[2, 3]]);
});

test('statements started after a change was held do not hold it longer', async () => {
  const seen = recorder();
  const grouping = createSeatChangeGrouping(seen.deliver, 1000);
  const first = grouping.begin(1);
  const second = grouping.begin(1);
  first.settle(2);
  grouping.arrive(change(1, 2));
  const later = grouping.begin(1);
  second.settle(3);
  expect(seen.steps).toEqual([]);
  grouping.arrive(change(1, 3));
  expect(seen.steps).toEqual([[2, 3]]);
  await nextStep();
  // The later statement forms the next group.
  grouping.arrive(change(1, 4));
  expect(seen.steps).toEqual([[2, 3]]);
  later.settle(4);
  expect(seen.steps).toEqual([[2, 3], [4]]);
});

test('a group never waits longer than the hold', async () => {
  const seen = recorder();
  const grouping = createSeatChangeGrouping(seen.deliver, 30);
  const stuck = grouping.begin(1);
  const heldAt = performance.now();
  grouping.arrive(change(1, 2));
  while (seen.steps.length === 0 && performance.now() - heldAt < 1000) await Bun.sleep(1);
  const waitedMs = performance.now() - heldAt;
  expect(seen.steps).toEqual([[2]]);
  expect(waitedMs).toBeGreaterThanOrEqual(25);
  expect(waitedMs).toBeLessThan(30 + 150);
  stuck.settle(null);
  expect(grouping.trackedEvents()).toBe(0);
});

test('a change that never comes (its notification lost) holds nothing after a later one, or after forgetAwaited', async () => {
  const seen = recorder();
  const grouping = createSeatChangeGrouping(seen.deliver, 60_000);
  grouping.begin(1).settle(3);
  grouping.begin(2).settle(7);
  expect(grouping.trackedEvents()).toBe(2);
  // A newer change of event 1 covers version 3: nothing is awaited there any more.
  grouping.arrive(change(1, 4));
  expect(seen.steps).toEqual([[4]]);
  expect(grouping.trackedEvents()).toBe(1);
  // Event 2 sold out during a LISTEN outage: no later change will come, so the feed forgets it.
  grouping.forgetAwaited();
  expect(grouping.trackedEvents()).toBe(0);
  await nextStep();
  grouping.arrive(change(2, 8));
  expect(seen.steps).toEqual([[4], [8]]);
});

test('a hold of 0 turns grouping off; close hands on what is held and ends grouping', () => {
  const seen = recorder();
  const off = createSeatChangeGrouping(seen.deliver, 0);
  off.begin(1);
  off.arrive(change(1, 2));
  expect(seen.steps).toEqual([[2]]);
  expect(off.trackedEvents()).toBe(0);

  const closing = recorder();
  const grouping = createSeatChangeGrouping(closing.deliver, 60_000);
  const running = grouping.begin(1);
  grouping.arrive(change(1, 2));
  expect(closing.steps).toEqual([]);
  grouping.close();
  expect(closing.steps).toEqual([[2]]);
  // A straggler after close is handed on at once and leaves nothing behind.
  grouping.begin(1);
  grouping.arrive(change(1, 3));
  running.settle(3);
  expect(closing.steps).toEqual([[2, 3]]);
  expect(grouping.trackedEvents()).toBe(0);
});

/** 'resolved' if the promise settles within `ms`, else 'waiting'. */
const within = (promise: Promise<void>, ms: number) => Promise.race([promise.then(() => 'resolved'), Bun.sleep(ms).then(() => 'waiting')]);

test("settle resolves once its statement's change has been handed on, never before", async () => {
  const seen = recorder();
  const grouping = createSeatChangeGrouping(seen.deliver, 60_000);
  const [a, b] = [grouping.begin(1), grouping.begin(1)];
  const answered: string[] = [];
  const aAnswered = a.settle(2).then(() => answered.push(`a after [${seen.steps.flat()}]`));
  grouping.arrive(change(1, 2));
  // Version 2 is held for b, so a's caller still waits.
  expect(await within(aAnswered.then(() => {}), 20)).toBe('waiting');
  const bAnswered = b.settle(3).then(() => answered.push(`b after [${seen.steps.flat()}]`));
  grouping.arrive(change(1, 3));
  await Promise.all([aAnswered, bAnswered]);
  expect(seen.steps).toEqual([[2, 3]]);
  expect(answered).toEqual(['a after [2,3]', 'b after [2,3]']);
  expect(grouping.trackedEvents()).toBe(0);
});

test('settle resolves after the hold when its change never comes, and at once when there is nothing to wait for', async () => {
  const short = createSeatChangeGrouping(() => {}, 30);
  const startedAt = performance.now();
  await short.begin(1).settle(5);
  const waitedMs = performance.now() - startedAt;
  expect(waitedMs).toBeGreaterThanOrEqual(25);
  expect(waitedMs).toBeLessThan(30 + 150);

  // Its change was held for it, then released by the hold before it settled: already handed on.
  const slowStatement = short.begin(2);
  short.arrive(change(2, 4));
  await Bun.sleep(80);
  expect(await within(slowStatement.settle(4), 10)).toBe('resolved');

  const long = createSeatChangeGrouping(() => {}, 60_000);
  expect(await within(long.begin(1).settle(null), 10)).toBe('resolved');
  expect(await within(createSeatChangeGrouping(() => {}, 0).begin(1).settle(3), 10)).toBe('resolved');
  // A change lost with a LISTEN connection, or the feed closing, ends the wait.
  const lost = long.begin(1).settle(6);
  long.forgetAwaited();
  expect(await within(lost, 10)).toBe('resolved');
  const closing = long.begin(1).settle(7);
  long.close();
  expect(await within(closing, 10)).toBe('resolved');
  expect(long.trackedEvents()).toBe(0);
});

describe('through the real seat feed', () => {
  let database: DatabaseHandle;
  let userIds: number[];

  beforeAll(async () => {
    database = await openTestDatabase();
    userIds = await insertUsers(database.db, 'grouping', 4);
  }, 60_000);
  afterAll(() => database.close());

  test(`concurrent bookings of one event reach subscribers in one step, every version once, in order (${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'})`, async () => {
    const feed = await createSeatFeed(database, { logger: createLogger('silent'), onReconnect: async () => {}, maxGroupingHoldMs: 30_000 });
    try {
      const event = await createEvent(database.db, userIds[0]!, { name: 'Grouped', startsAt: new Date('2031-01-01T20:00:00Z'), capacity: 100, status: 'published' });
      const seen = recorder();
      feed.subscribe((delivered) => {
        if (delivered.eventId === event.id) seen.deliver(delivered);
      });
      const count = 12;
      const results = await Promise.all(
        Array.from({ length: count }, (_, index) => bookSeats(database.db, feed, { userId: userIds[index % userIds.length]!, eventId: event.id, quantity: 1 })),
      );
      expect(results.map((result) => result.availableSeats).sort((x, y) => y - x)).toEqual(Array.from({ length: count }, (_, index) => 99 - index));
      // A booking answers once its change is handed on (on PostgreSQL it comes back through LISTEN).
      expect(seen.steps).toEqual([Array.from({ length: count }, (_, index) => event.version + 1 + index)]);
    } finally {
      await feed.close();
    }
  }, 30_000);
});
