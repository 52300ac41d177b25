import { and, eq, sql, type SQLWrapper, type Subquery } from 'drizzle-orm';
import type { Database } from '../db/client';
import { events, heldByUser } from '../db/schema';
import { seatStateColumns } from './event';
import type { SeatStateFields } from '../protocol';
import type { ReleaseReason } from '../protocol';
import type { SeatChange, SeatChangeSql, SeatFeed } from './seat-feed';

/**
 * What the statements that change an event's seats share (bookings, cancellations, holds and
 * their releases): the select list that records the change for the feed, and a cache of the
 * prepared statements.
 */

/** An event's seats after a statement changed them. */
export type ChangedSeats = Pick<SeatStateFields, 'availableSeats' | 'heldSeats' | 'capacity' | 'version'>;

export const seatChangeOf = (eventId: number, kind: SeatChange['kind'], seats: ChangedSeats, reason?: ReleaseReason): SeatChange => ({
  eventId,
  kind,
  availableSeats: seats.availableSeats,
  heldSeats: seats.heldSeats,
  capacity: seats.capacity,
  version: seats.version,
  ...(reason && { reason }),
});

/**
 * The select list of a statement that changes a row (a booking, a hold) and its event's seats:
 * the row under `key`, the seats after the change and the feed's record of it. Referenced by the
 * main query, the record runs once per row changed, and only then; there is none when the feed
 * records changes outside SQL.
 */
export function changedSeatsSelection<K extends string, R, S extends Omit<SeatChangeSql, 'kind' | 'reason'>>(
  seatFeed: SeatFeed,
  kind: SeatChange['kind'],
  key: K,
  row: R,
  seats: S,
  reason?: ReleaseReason,
) {
  // Read field by field: a CTE's columns are getters, which a spread would not copy.
  const { eventId, availableSeats, heldSeats, capacity, version } = seats;
  const recorded = seatFeed.recordInStatement({ eventId, kind, availableSeats, heldSeats, capacity, version, ...(reason && { reason }) });
  const selection = { [key]: row, availableSeats, heldSeats, capacity, version } as { [P in K]: R } & {
    availableSeats: S['availableSeats'];
    heldSeats: S['heldSeats'];
    capacity: S['capacity'];
    version: S['version'];
  };
  return { ...selection, ...(recorded && { recorded }) };
}

/**
 * Statements are built once per database and feed, not per request: building one costs Drizzle a
 * few hundred microseconds of CPU, and prepared, PostgreSQL parses and plans it once per connection.
 */
export function statementCache<T>(build: (db: Database, seatFeed: SeatFeed) => T): (db: Database, seatFeed: SeatFeed) => T {
  const built = new WeakMap<Database, WeakMap<SeatFeed, T>>();
  return (db, seatFeed) => {
    let byFeed = built.get(db);
    if (!byFeed) built.set(db, (byFeed = new WeakMap()));
    let statement = byFeed.get(seatFeed);
    if (!statement) byFeed.set(seatFeed, (statement = build(db, seatFeed)));
    return statement;
  };
}

/** A CTE lowering the owner's count of held seats by the holds another CTE ended (one per user and event there). */
export function uncountStatement(db: Database, ended: { userId: SQLWrapper; eventId: SQLWrapper; quantity: SQLWrapper } & Subquery) {
  return db.$with('uncounted').as(
    db
      .update(heldByUser)
      .set({ heldSeats: sql`${heldByUser.heldSeats} - ${ended.quantity}` })
      .from(ended)
      .where(and(eq(heldByUser.userId, ended.userId), eq(heldByUser.eventId, ended.eventId)))
      .returning({ userId: heldByUser.userId }),
  );
}

/**
 * A CTE giving an event the held seats another CTE ended (its `quantity` per `eventId`) back to
 * sale, as one seat change: a released hold, or a sweep's expired holds of each event.
 */
export function heldSeatsBackStatement(db: Database, ended: { eventId: SQLWrapper; quantity: SQLWrapper } & Subquery) {
  return db.$with('returned').as(
    db
      .update(events)
      .set({
        availableSeats: sql`${events.availableSeats} + ${ended.quantity}`,
        heldSeats: sql`${events.heldSeats} - ${ended.quantity}`,
        version: sql`${events.version} + 1`,
      })
      .from(ended)
      .where(eq(events.id, ended.eventId))
      .returning(seatStateColumns),
  );
}
