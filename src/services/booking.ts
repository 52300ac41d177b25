import { and, desc, eq, sql } from 'drizzle-orm';
import { databaseErrorCode, type Database } from '../db/client';
import { bookings, events, type BookingRow } from '../db/schema';
import { errors } from '../lib/errors';
import type { SeatChange, SeatFeed } from './seat-feed';

export interface PublicBooking {
  id: number;
  eventId: number;
  userId: number;
  quantity: number;
  status: 'confirmed' | 'cancelled';
  createdAt: string;
  cancelledAt: string | null;
}

export interface BookingResult {
  booking: PublicBooking;
  availableSeats: number;
  /** true when an Idempotency-Key repeat answered with the original booking */
  replayed: boolean;
}

export interface BookingRequest {
  userId: number;
  eventId: number;
  quantity: number;
  idempotencyKey?: string;
}

export function toPublicBooking(row: BookingRow): PublicBooking {
  return {
    id: row.id,
    eventId: row.eventId,
    userId: row.userId,
    quantity: row.quantity,
    status: row.status,
    createdAt: row.createdAt.toISOString(),
    cancelledAt: row.cancelledAt?.toISOString() ?? null,
  };
}

const fingerprintOf = (request: BookingRequest) => `eventId=${request.eventId};quantity=${request.quantity}`;

/**
 * Takes seats with one conditional UPDATE (never read-then-write) and records the booking in
 * the same transaction; the seat change goes to the feed only after commit.
 */
export async function bookSeats(db: Database, seatFeed: SeatFeed, request: BookingRequest): Promise<BookingResult> {
  if (request.idempotencyKey !== undefined) {
    const replay = await findReplay(db, request);
    if (replay) return replay;
  }
  try {
    const { row, change } = await db.transaction(async (tx) => {
      const seats = await takeSeats(tx, request);

      const [row] = await tx
        .insert(bookings)
        .values({
          eventId: request.eventId,
          userId: request.userId,
          quantity: request.quantity,
          idempotencyKey: request.idempotencyKey ?? null,
          requestFingerprint: request.idempotencyKey === undefined ? null : fingerprintOf(request),
          availableSeatsAfter: seats.availableSeats,
        })
        .returning();
      const change: SeatChange = { eventId: request.eventId, kind: 'booking_created', ...seats };
      await seatFeed.recordInTransaction(tx, change);
      return { row: row!, change };
    });
    seatFeed.committed(change);
    return { booking: toPublicBooking(row), availableSeats: change.availableSeats, replayed: false };
  } catch (error) {
    const code = databaseErrorCode(error);
    // A concurrent request with the same key committed first: ours rolled back whole.
    if (request.idempotencyKey !== undefined && code === '23505') {
      const replay = await findReplay(db, request);
      if (replay) return replay;
    }
    // The event row was just updated, so the missing foreign key is the user behind the token.
    if (code === '23503') throw errors.accountGone();
    throw error;
  }
}

async function findReplay(db: Database, request: BookingRequest): Promise<BookingResult | null> {
  const [row] = await db
    .select()
    .from(bookings)
    .where(and(eq(bookings.userId, request.userId), eq(bookings.idempotencyKey, request.idempotencyKey!)))
    .limit(1);
  if (!row) return null;
  if (row.requestFingerprint !== fingerprintOf(request)) throw errors.idempotencyConflict();
  return { booking: toPublicBooking(row), availableSeats: row.availableSeatsAfter ?? 0, replayed: true };
}

type SeatsTaken = Pick<SeatChange, 'availableSeats' | 'capacity' | 'version'>;

/** The guard itself: one conditional UPDATE that takes the seats only if they are there. */
async function takeSeatsIfAvailable(tx: Database, request: BookingRequest): Promise<SeatsTaken | undefined> {
  const [seats] = await tx
    .update(events)
    .set({
      availableSeats: sql`${events.availableSeats} - ${request.quantity}::integer`,
      version: sql`${events.version} + 1`,
    })
    .where(and(eq(events.id, request.eventId), eq(events.status, 'published'), sql`${events.availableSeats} >= ${request.quantity}::integer`))
    .returning({ availableSeats: events.availableSeats, capacity: events.capacity, version: events.version });
  return seats;
}

/**
 * Takes the seats or throws why not. A refusal must rest on a state that justifies it: under
 * READ COMMITTED a cancellation may commit between the refused UPDATE and the read that
 * explains it, so a read showing enough seats is not an answer — then the row is locked and
 * the guarded UPDATE tried once more, which can no longer be overtaken.
 */
async function takeSeats(tx: Database, request: BookingRequest): Promise<SeatsTaken> {
  const seats = await takeSeatsIfAvailable(tx, request);
  if (seats) return seats;
  refuseUnlessBookable(await readBookability(tx, request.eventId, false), request);
  refuseUnlessBookable(await readBookability(tx, request.eventId, true), request);
  const retried = await takeSeatsIfAvailable(tx, request);
  if (!retried) throw new Error(`booking guard refused event ${request.eventId} while its row was locked and bookable`);
  return retried;
}

async function readBookability(tx: Database, eventId: number, lockRow: boolean) {
  const query = tx.select({ status: events.status, availableSeats: events.availableSeats }).from(events).where(eq(events.id, eventId));
  const [event] = lockRow ? await query.for('update') : await query;
  return event;
}

function refuseUnlessBookable(event: { status: string; availableSeats: number } | undefined, request: BookingRequest): void {
  if (!event || event.status !== 'published') throw errors.eventNotFound(request.eventId);
  if (event.availableSeats < request.quantity) throw errors.soldOut(event.availableSeats);
}

export async function listBookings(db: Database, userId: number): Promise<PublicBooking[]> {
  const rows = await db.select().from(bookings).where(eq(bookings.userId, userId)).orderBy(desc(bookings.id)).limit(1000);
  return rows.map(toPublicBooking);
}

export async function getBooking(db: Database, userId: number, bookingId: number): Promise<PublicBooking> {
  const [row] = await db
    .select()
    .from(bookings)
    .where(and(eq(bookings.id, bookingId), eq(bookings.userId, userId)))
    .limit(1);
  if (!row) throw errors.bookingNotFound(bookingId);
  return toPublicBooking(row);
}

/** Flips the status only while it is confirmed, so a double cancel cannot return seats twice. */
export async function cancelBooking(
  db: Database,
  seatFeed: SeatFeed,
  userId: number,
  bookingId: number,
): Promise<{ booking: PublicBooking; availableSeats: number }> {
  const { row, change } = await db.transaction(async (tx) => {
    const [row] = await tx
      .update(bookings)
      .set({ status: 'cancelled', cancelledAt: sql`now()` })
      .where(and(eq(bookings.id, bookingId), eq(bookings.userId, userId), eq(bookings.status, 'confirmed')))
      .returning();
    if (!row) throw await explainRefusedCancel(tx, userId, bookingId);
    const [seats] = await tx
      .update(events)
      .set({
        availableSeats: sql`${events.availableSeats} + ${row.quantity}::integer`,
        version: sql`${events.version} + 1`,
      })
      .where(eq(events.id, row.eventId))
      .returning({ availableSeats: events.availableSeats, capacity: events.capacity, version: events.version });
    const change: SeatChange = { eventId: row.eventId, kind: 'booking_cancelled', ...seats! };
    await seatFeed.recordInTransaction(tx, change);
    return { row, change };
  });
  seatFeed.committed(change);
  return { booking: toPublicBooking(row), availableSeats: change.availableSeats };
}

async function explainRefusedCancel(tx: Database, userId: number, bookingId: number) {
  const [row] = await tx
    .select({ status: bookings.status })
    .from(bookings)
    .where(and(eq(bookings.id, bookingId), eq(bookings.userId, userId)))
    .limit(1);
  return row ? errors.alreadyCancelled(bookingId) : errors.bookingNotFound(bookingId);
}
