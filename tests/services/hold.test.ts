import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import type { DatabaseHandle } from '../../src/db/client';
import { heldByUser, holds } from '../../src/db/schema';
import { bookSeats } from '../../src/services/booking';
import { createEvent } from '../../src/services/event';
import { confirmHold, createHold, extendHold, releaseHold } from '../../src/services/hold';
import { releaseExpiredHolds, warnExpiringHolds } from '../../src/services/hold-expiry';
import { createInProcessSeatFeed, type FeedChange } from '../../src/services/seat-feed';
import { openTestDatabase } from '../support/server';
import { insertUsers, readEventRow, refusal } from '../support/services';

/**
 * The hold rules as plain functions over a real database, with no sweeper running: what a
 * request does itself about expired holds, and what one release does.
 */

let database: DatabaseHandle;
const seatFeed = createInProcessSeatFeed();
const emitted: FeedChange[] = [];
let organizerId: number;
let userIds: number[];
const settings = { ttlSeconds: 600, maxExtensions: 2 };

beforeAll(async () => {
  database = await openTestDatabase();
  [organizerId, ...userIds] = (await insertUsers(database.db, 'hold-service', 8)) as [number, ...number[]];
  seatFeed.subscribe((change) => void emitted.push(change));
}, 60_000);
afterAll(() => database.close());

const newEvent = (capacity: number) => createEvent(database.db, organizerId, { name: 'Hold service event', startsAt: new Date('2031-01-01T20:00:00Z'), capacity });
const changesOf = (eventId: number) => emitted.filter((change) => change.eventId === eventId);
const hold = (userId: number, eventId: number, quantity: number) => createHold(database.db, seatFeed, settings, { userId, eventId, quantity });

async function expireHold(holdId: number): Promise<void> {
  await database.db.update(holds).set({ expiresAt: new Date(Date.now() - 1_000) }).where(eq(holds.id, holdId));
}

describe('seats kept only by expired holds are never refused', () => {
  test('a booking frees them first: the hold expires (seats_released, hold_expired), then the booking takes the seats', async () => {
    const event = await newEvent(2);
    const held = await hold(userIds[0]!, event.id, 2);
    await expireHold(held.hold.id);
    const booked = await bookSeats(database.db, seatFeed, { userId: userIds[1]!, eventId: event.id, quantity: 2 });
    expect(booked.availableSeats).toBe(0);
    expect(await readEventRow(database.db, event.id)).toMatchObject({ availableSeats: 0, heldSeats: 0, version: 4 });
    const [row] = await database.db.select().from(holds).where(eq(holds.id, held.hold.id));
    expect(row!.status).toBe('expired');
    expect(changesOf(event.id).map((change) => change.kind)).toEqual(['seats_held', 'seats_released', 'hold_expired', 'booking_created']);
    expect(changesOf(event.id)[1]).toMatchObject({ reason: 'expired', availableSeats: 2, heldSeats: 0, version: 3 });
    expect(changesOf(event.id)[2]).toMatchObject({ userId: userIds[0], holdId: held.hold.id });
  });

  test('a hold frees them first too; with no expired hold, sold_out stands and nothing is released', async () => {
    const event = await newEvent(3);
    const stale = await hold(userIds[2]!, event.id, 2);
    const fresh = await hold(userIds[3]!, event.id, 1);
    await expireHold(stale.hold.id);
    const taken = await hold(userIds[4]!, event.id, 2);
    expect(taken.availableSeats).toBe(0);
    const refused = await refusal(hold(userIds[5]!, event.id, 1), 'sold_out');
    expect(refused.extra.availableSeats).toBe(0);
    await refusal(bookSeats(database.db, seatFeed, { userId: userIds[5]!, eventId: event.id, quantity: 1 }), 'sold_out');
    const [freshRow] = await database.db.select().from(holds).where(eq(holds.id, fresh.hold.id));
    expect(freshRow!.status).toBe('active');
    expect(await readEventRow(database.db, event.id)).toMatchObject({ availableSeats: 0, heldSeats: 3 });
  });
});

describe('the clock decides, not the sweep', () => {
  test('past its expiresAt a hold is over before any sweep: confirm, extend and release answer hold_expired, and change nothing', async () => {
    const event = await newEvent(5);
    const held = await hold(userIds[1]!, event.id, 2);
    await expireHold(held.hold.id);
    await refusal(confirmHold(database.db, seatFeed, userIds[1]!, held.hold.id), 'hold_expired');
    await refusal(extendHold(database.db, settings, userIds[1]!, held.hold.id), 'hold_expired');
    await refusal(releaseHold(database.db, seatFeed, userIds[1]!, held.hold.id), 'hold_expired');
    expect(await readEventRow(database.db, event.id)).toMatchObject({ availableSeats: 3, heldSeats: 2, version: 2 });
    // The sweep then gives the seats back once.
    expect(await releaseExpiredHolds(database.db, seatFeed, { eventId: event.id })).toHaveLength(1);
    expect(await readEventRow(database.db, event.id)).toMatchObject({ availableSeats: 5, heldSeats: 0, version: 3 });
  });
});

describe('releaseExpiredHolds', () => {
  test('releases only due holds, each once, however many releases race; one change per event', async () => {
    const [first, second] = [await newEvent(50), await newEvent(50)];
    const due: number[] = [];
    for (const [index, userId] of userIds.slice(0, 6).entries()) {
      due.push((await hold(userId, first.id, 1 + (index % 3))).hold.id);
      due.push((await hold(userId, second.id, 1)).hold.id);
    }
    const notDue = (await hold(userIds[6]!, first.id, 4)).hold.id;
    for (const holdId of due) await expireHold(holdId);
    const before = emitted.length;
    const released = (await Promise.all(Array.from({ length: 4 }, () => releaseExpiredHolds(database.db, seatFeed)))).flat();
    expect(released.map((expired) => expired.holdId).sort((a, b) => a - b)).toEqual([...due].sort((a, b) => a - b));
    expect(await readEventRow(database.db, first.id)).toMatchObject({ availableSeats: 46, heldSeats: 4, version: 1 + 7 + 1 });
    expect(await readEventRow(database.db, second.id)).toMatchObject({ availableSeats: 50, heldSeats: 0, version: 1 + 6 + 1 });
    const [kept] = await database.db.select().from(holds).where(eq(holds.id, notDue));
    expect(kept!.status).toBe('active');
    const heard = emitted.slice(before);
    expect(heard.filter((change) => change.kind === 'seats_released')).toHaveLength(2);
    expect(heard.filter((change) => change.kind === 'hold_expired')).toHaveLength(due.length);
    expect(await releaseExpiredHolds(database.db, seatFeed)).toEqual([]);
    // The owners' counts went down with their holds: only the hold not yet due still counts.
    const counts = await database.db.select().from(heldByUser).where(eq(heldByUser.eventId, first.id));
    expect(counts.filter((count) => count.heldSeats > 0)).toEqual([{ userId: userIds[6]!, eventId: first.id, heldSeats: 4 }]);
  });

  test('a release for one event frees only that event’s due holds, however often the same prepared statement runs', async () => {
    const [first, second] = [await newEvent(10), await newEvent(10)];
    const firstDue = (await hold(userIds[0]!, first.id, 2)).hold.id;
    const secondDue = (await hold(userIds[1]!, second.id, 3)).hold.id;
    await expireHold(firstDue);
    await expireHold(secondDue);
    expect(await releaseExpiredHolds(database.db, seatFeed, { eventId: second.id })).toEqual([{ holdId: secondDue, eventId: second.id, userId: userIds[1]! }]);
    expect(await readEventRow(database.db, first.id)).toMatchObject({ availableSeats: 8, heldSeats: 2 });
    expect(await releaseExpiredHolds(database.db, seatFeed, { eventId: second.id })).toEqual([]);
    expect(await releaseExpiredHolds(database.db, seatFeed, { eventId: first.id })).toEqual([{ holdId: firstDue, eventId: first.id, userId: userIds[0]! }]);
    expect(await readEventRow(database.db, first.id)).toMatchObject({ availableSeats: 10, heldSeats: 0 });
    expect(await readEventRow(database.db, second.id)).toMatchObject({ availableSeats: 10, heldSeats: 0 });
  });

  test('the 10-seat limit counts only unexpired holds: a user whose holds expired may hold again before any sweep', async () => {
    const event = await newEvent(30);
    const full = await hold(userIds[5]!, event.id, 10);
    await refusal(hold(userIds[5]!, event.id, 1), 'hold_limit_reached');
    await expireHold(full.hold.id);
    expect((await hold(userIds[5]!, event.id, 10)).hold.quantity).toBe(10);
    const [old] = await database.db.select().from(holds).where(eq(holds.id, full.hold.id));
    expect(old!.status).toBe('expired');
  });

  test('a confirmed hold is never released, even once its time is up', async () => {
    const event = await newEvent(5);
    const held = await hold(userIds[0]!, event.id, 2);
    await confirmHold(database.db, seatFeed, userIds[0]!, held.hold.id);
    await expireHold(held.hold.id);
    expect(await releaseExpiredHolds(database.db, seatFeed, { eventId: event.id })).toEqual([]);
    expect(await readEventRow(database.db, event.id)).toMatchObject({ availableSeats: 3, heldSeats: 0 });
  });
});

describe('warnExpiringHolds', () => {
  test('warns once per expiry: only holds within the warning, not again until an extension clears the mark', async () => {
    const event = await newEvent(10);
    const soon = await hold(userIds[6]!, event.id, 1);
    const later = await hold(userIds[6]!, event.id, 1);
    await database.db.update(holds).set({ expiresAt: new Date(Date.now() + 30_000) }).where(eq(holds.id, soon.hold.id));
    const before = emitted.length;
    expect(await warnExpiringHolds(database.db, seatFeed, 60)).toBe(1);
    expect(await warnExpiringHolds(database.db, seatFeed, 60)).toBe(0);
    const warnings = emitted.slice(before);
    expect(warnings).toEqual([{ kind: 'hold_expiring', eventId: event.id, userId: userIds[6]!, holdId: soon.hold.id, expiresAtMs: expect.any(Number) as number }]);
    const [row] = await database.db.select().from(holds).where(eq(holds.id, soon.hold.id));
    expect((warnings[0] as { expiresAtMs: number }).expiresAtMs).toBe(row!.expiresAt.getTime());
    const [laterRow] = await database.db.select().from(holds).where(eq(holds.id, later.hold.id));
    expect(laterRow!.warned).toBe(false);
  });
});
