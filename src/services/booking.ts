import { and, desc, eq, getTableColumns, sql } from 'drizzle-orm';
import { databaseErrorCode, type Database } from '../db/client';
import { bookings, events, type BookingRow } from '../db/schema';
import { errors } from '../lib/errors';
import { seatStateColumns } from './event';
import type { SeatChange, SeatChangeSql, SeatFeed } from './seat-feed';

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
export async function bookSeats(db: Database, seatFeed: SeatFeed, request: BookingRequest): Promise<BookingResult> {
  if (request.idempotencyKey !== undefined) {
    const replay = await findReplay(db, request);
    if (replay) return replay;
  }
  try {
    const booked = await bookOrRefuse(db, seatFeed, request);
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
type ChangedBooking = Pick<SeatChange, 'availableSeats' | 'capacity' | 'version'> & { booking: BookingRow };

const changeOf = (row: ChangedBooking, kind: SeatChange['kind']): SeatChange => ({
  eventId: row.booking.eventId,
  kind,
  availableSeats: row.availableSeats,
  capacity: row.capacity,
  version: row.version,
});

/**
 * The select list of a statement that changes a booking and its event's seats: the booking, the
 * seats after the change and the feed's record of it. Referenced by the main query, the record
 * runs once per row changed, and only then; there is none when the feed records changes outside SQL.
 */
function changedSeatsSelection<B, S extends Omit<SeatChangeSql, 'kind'>>(seatFeed: SeatFeed, kind: SeatChange['kind'], booking: B, seats: S) {
  // Read field by field: a CTE's columns are getters, which a spread would not copy.
  const { eventId, availableSeats, capacity, version } = seats;
  const recorded = seatFeed.recordInStatement({ eventId, kind, availableSeats, capacity, version });
  const selection: { booking: B; availableSeats: S['availableSeats']; capacity: S['capacity']; version: S['version'] } = { booking, availableSeats, capacity, version };
  return { ...selection, ...(recorded && { recorded }) };
}

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
      .where(and(eq(events.id, eventId), eq(events.status, 'published'), sql`${events.availableSeats} >= ${quantity}::integer`))
      .returning(seatStateColumns),
  );
  const booked = db.$with('booked', getTableColumns(bookings)).as(
    sql`insert into ${bookings} (event_id, user_id, quantity, idempotency_key, request_fingerprint, available_seats_after)
      select ${taken.eventId}, ${userId}, ${quantity}, ${idempotencyKey}, ${requestFingerprint}, ${taken.availableSeats} from ${taken}
      returning *`,
  );
  return db
    .with(taken, booked)
    .select(changedSeatsSelection(seatFeed, 'booking_created', booked._.selectedFields, taken))
    .from(booked)
    .crossJoin(taken)
    .prepare('book_seats');
}

type BookingStatement = ReturnType<typeof bookingStatement>;

/**
 * Statements are built once per database and feed, not per request: building one costs Drizzle a
 * few hundred microseconds of CPU, and prepared, PostgreSQL parses and plans it once per connection.
 */
function statementCache<T>(build: (db: Database, seatFeed: SeatFeed) => T): (db: Database, seatFeed: SeatFeed) => T {
  const built = new WeakMap<Database, WeakMap<SeatFeed, T>>();
  return (db, seatFeed) => {
    let byFeed = built.get(db);
    if (!byFeed) built.set(db, (byFeed = new WeakMap()));
    let statement = byFeed.get(seatFeed);
    if (!statement) byFeed.set(seatFeed, (statement = build(db, seatFeed)));
    return statement;
  };
}

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
 * Books or throws why not. A refusal must rest on a state that justifies it: under READ
 * COMMITTED a cancellation may commit between the refused statement and the read that explains
 * it, so a read showing enough seats is not an answer — then the row is locked and the booking
 * tried once more, which can no longer be overtaken.
 */
async function bookOrRefuse(db: Database, seatFeed: SeatFeed, request: BookingRequest): Promise<ChangedBooking> {
  const booked = await bookIfAvailable(bookingStatements(db, seatFeed), request);
  if (booked) return booked;
  refuseUnlessBookable(await readBookability(db, request.eventId, false), request);
  return db.transaction(async (tx) => {
    refuseUnlessBookable(await readBookability(tx, request.eventId, true), request);
    const retried = await bookIfAvailable(bookingStatement(tx, seatFeed), request);
    if (!retried) throw new Error(`booking guard refused event ${request.eventId} while its row was locked and bookable`);
    return retried;
  });
}

async function readBookability(db: Database, eventId: number, lockRow: boolean) {
  const query = db.select({ status: events.status, availableSeats: events.availableSeats }).from(events).where(eq(events.id, eventId));
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
    .select(changedSeatsSelection(seatFeed, 'booking_cancelled', cancelled._.selectedFields, returned))
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
