import { and, desc, eq, getTableColumns, sql } from 'drizzle-orm';
import { databaseErrorCode, type Database } from '../db/client';
import { bookings, events, type BookingRow } from '../db/schema';
import { errors } from '../lib/errors';
import { seatStateColumns } from './event';
import type { SeatChange, SeatFeed } from './seat-feed';
import type { ExpiredHoldRelease } from './hold';
import { releaseExpiredOf } from './hold-expiry';
import { gateColumns, refuseAtGate, saleOpenTo, type GateState } from './queue';
import { changedSeatsSelection, seatChangeOf, statementCache, type ChangedSeats } from './seat-statements';

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
 * Takes the seats and records the booking in one statement (never read-then-write): the event's
 * row is locked only while that statement runs and commits. The seat change goes to the feed
 * inside the statement or, in-process, after the commit.
 */
export async function bookSeats(
  db: Database,
  seatFeed: SeatFeed,
  request: BookingRequest,
  releaseExpired: ExpiredHoldRelease = releaseExpiredOf(db, seatFeed),
): Promise<BookingResult> {
  if (request.idempotencyKey !== undefined) {
    const replay = await findReplay(db, request);
    if (replay) return replay;
  }
  try {
    const booked = await bookOrRefuse(db, seatFeed, request, releaseExpired);
    const change = changeOf(booked, 'booking_created');
    seatFeed.committed(change);
    return { booking: toPublicBooking(booked.booking), availableSeats: change.availableSeats, replayed: false };
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

/** What a booking or cancellation statement returns: the booking and its event's seats after it. */
type ChangedBooking = ChangedSeats & { booking: BookingRow };

const changeOf = (row: ChangedBooking, kind: SeatChange['kind']): SeatChange => seatChangeOf(row.booking.eventId, kind, row);

/**
 * The guard and the booking as one statement: a conditional UPDATE that takes the seats only if
 * they are there, the INSERT fed by its RETURNING, and the feed's record of the change. No row
 * back means nothing was written.
 */
function bookingStatement(db: Database, seatFeed: SeatFeed) {
  const eventId = sql.placeholder('eventId');
  const userId = sql.placeholder('userId');
  const quantity = sql.placeholder('quantity');
  const idempotencyKey = sql.placeholder('idempotencyKey');
  const requestFingerprint = sql.placeholder('requestFingerprint');
  const taken = db.$with('taken').as(
    db
      .update(events)
      .set({
        availableSeats: sql`${events.availableSeats} - ${quantity}::integer`,
        version: sql`${events.version} + 1`,
      })
      .where(and(eq(events.id, eventId), eq(events.status, 'published'), sql`${events.availableSeats} >= ${quantity}::integer`, saleOpenTo(sql`${userId}::integer`)))
      .returning(seatStateColumns),
  );
  const booked = db.$with('booked', getTableColumns(bookings)).as(
    sql`insert into ${bookings} (event_id, user_id, quantity, idempotency_key, request_fingerprint, available_seats_after)
      select ${taken.eventId}, ${userId}, ${quantity}, ${idempotencyKey}, ${requestFingerprint}, ${taken.availableSeats} from ${taken}
      returning *`,
  );
  return db
    .with(taken, booked)
    .select(changedSeatsSelection(seatFeed, 'booking_created', 'booking', booked._.selectedFields, taken))
    .from(booked)
    .crossJoin(taken)
    .prepare('book_seats');
}

type BookingStatement = ReturnType<typeof bookingStatement>;

const bookingStatements = statementCache(bookingStatement);

async function bookIfAvailable(statement: BookingStatement, request: BookingRequest): Promise<ChangedBooking | undefined> {
  const idempotencyKey = request.idempotencyKey ?? null;
  const [row] = await statement.execute({
    eventId: request.eventId,
    userId: request.userId,
    quantity: request.quantity,
    idempotencyKey,
    requestFingerprint: idempotencyKey === null ? null : fingerprintOf(request),
  });
  return row;
}

/**
 * Books or throws why not (takeSeatsOrRefuse): the prepared statement first; the same
 * statement on the locked row when a refusal needs it.
 */
function bookOrRefuse(db: Database, seatFeed: SeatFeed, request: BookingRequest, releaseExpired: ExpiredHoldRelease): Promise<ChangedBooking> {
  return takeSeatsOrRefuse(db, request, releaseExpired, (handle) => bookIfAvailable(handle === db ? bookingStatements(db, seatFeed) : bookingStatement(handle, seatFeed), request));
}

/**
 * Runs `take` (a guarded statement that takes seats, or returns nothing when they are not there)
 * or throws why not. A refusal must rest on a state that justifies it: under READ COMMITTED a
 * cancellation may commit between the refused statement and the read that explains it, so a read
 * showing enough seats is not an answer — then the row is locked and `take` tried once more, on
 * the transaction, which can no longer be overtaken. Seats kept only by expired holds are freed
 * before a buyer is refused for want of them. Bookings and holds both take seats this way.
 */
export async function takeSeatsOrRefuse<R>(
  db: Database,
  request: SeatRequest,
  releaseExpired: ExpiredHoldRelease,
  take: (handle: Database) => Promise<R | undefined>,
): Promise<R> {
  const taken = await take(db);
  if (taken) return taken;
  const event = await readBookability(db, request, false);
  const tooFew = event?.status === 'published' && event.availableSeats < request.quantity;
  if (!tooFew || (await releaseExpired(request.eventId)) === 0) await refuseUnlessBookable(db, event, request);
  return db.transaction(async (tx) => {
    await refuseUnlessBookable(tx, await readBookability(tx, request, true), request);
    const retried = await take(tx);
    if (!retried) throw new Error(`seat guard refused event ${request.eventId} while its row was locked with the seats free`);
    return retried;
  });
}

/** Who asks for how many seats of which event. */
interface SeatRequest {
  eventId: number;
  userId: number;
  quantity: number;
}

type Bookability = GateState & { status: string; availableSeats: number };

async function readBookability(db: Database, request: SeatRequest, lockRow: boolean): Promise<Bookability | undefined> {
  const query = db
    .select({ status: events.status, availableSeats: events.availableSeats, ...gateColumns(request.userId) })
    .from(events)
    .where(eq(events.id, request.eventId));
  const [event] = lockRow ? await query.for('update') : await query;
  return event;
}

/** The first reason that applies: no such event, not on sale yet, not admitted from the line, too few seats. */
async function refuseUnlessBookable(db: Database, event: Bookability | undefined, request: SeatRequest): Promise<void> {
  if (!event || event.status !== 'published') throw errors.eventNotFound(request.eventId);
  await refuseAtGate(db, event, request.eventId, request.userId);
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

/**
 * The cancellation as one statement, like the booking: the booking's status flips only while it
 * is confirmed (so a double cancel cannot return seats twice), the event gets the seats back in
 * the same statement, and the feed records the change in it. No row back means nothing changed.
 */
function cancelStatement(db: Database, seatFeed: SeatFeed) {
  const bookingId = sql.placeholder('bookingId');
  const userId = sql.placeholder('userId');
  const cancelled = db.$with('cancelled').as(
    db
      .update(bookings)
      .set({ status: 'cancelled', cancelledAt: sql`now()` })
      .where(and(eq(bookings.id, bookingId), eq(bookings.userId, userId), eq(bookings.status, 'confirmed')))
      .returning(),
  );
  const returned = db.$with('returned').as(
    db
      .update(events)
      .set({
        availableSeats: sql`${events.availableSeats} + ${cancelled.quantity}`,
        version: sql`${events.version} + 1`,
      })
      .from(cancelled)
      .where(eq(events.id, cancelled.eventId))
      .returning(seatStateColumns),
  );
  return db
    .with(cancelled, returned)
    .select(changedSeatsSelection(seatFeed, 'booking_cancelled', 'booking', cancelled._.selectedFields, returned))
    .from(cancelled)
    .crossJoin(returned)
    .prepare('cancel_booking');
}

const cancelStatements = statementCache(cancelStatement);

export async function cancelBooking(
  db: Database,
  seatFeed: SeatFeed,
  userId: number,
  bookingId: number,
): Promise<{ booking: PublicBooking; availableSeats: number }> {
  const [row] = await cancelStatements(db, seatFeed).execute({ bookingId, userId });
  if (!row) throw await explainRefusedCancel(db, userId, bookingId);
  const change = changeOf(row, 'booking_cancelled');
  seatFeed.committed(change);
  return { booking: toPublicBooking(row.booking), availableSeats: change.availableSeats };
}

async function explainRefusedCancel(db: Database, userId: number, bookingId: number) {
  const [row] = await db
    .select({ status: bookings.status })
    .from(bookings)
    .where(and(eq(bookings.id, bookingId), eq(bookings.userId, userId)))
    .limit(1);
  return row ? errors.alreadyCancelled(bookingId) : errors.bookingNotFound(bookingId);
}
