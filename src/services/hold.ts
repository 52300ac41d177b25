import { and, desc, eq, getTableColumns, gt, sql } from 'drizzle-orm';
import { databaseErrorCode, type Database } from '../db/client';
import { bookings, events, heldByUser, holds, type HoldRow } from '../db/schema';
import { AppError, errors } from '../lib/errors';
import { takeSeatsOrRefuse, toPublicBooking, type PublicBooking } from './booking';
import { seatStateColumns } from './event';
import { releaseExpiredOf } from './hold-expiry';
import { saleOpenTo } from './queue';
import type { SeatFeed } from './seat-feed';
import { changedSeatsSelection, heldSeatsBackStatement, seatChangeOf, statementCache, uncountStatement } from './seat-statements';

/**
 * Holds (SPEC §8): seats kept for one user while they pay, then confirmed into a booking,
 * released, or expired by the database's clock (hold-expiry.ts). Every write is one statement
 * that checks and changes, like a booking's: a hold's status moves only from `active`, and only
 * while `expires_at` is still ahead, so a confirm and the expiry can never both win.
 */

/** A user's active holds on one event keep at most this many seats (SPEC §8); the CHECK `held_by_user_within_limit` enforces it. */
export const MAX_HELD_SEATS_PER_EVENT = 10;

export type HoldStatus = 'active' | 'confirmed' | 'released' | 'expired';

export interface PublicHold {
  id: number;
  eventId: number;
  userId: number;
  quantity: number;
  status: HoldStatus;
  expiresAt: string;
  createdAt: string;
  extensions: number;
  bookingId: number | null;
}

export interface HoldSettings {
  ttlSeconds: number;
  maxExtensions: number;
}

export interface HoldRequest {
  userId: number;
  eventId: number;
  quantity: number;
  idempotencyKey?: string;
}

export interface HoldResult {
  hold: PublicHold;
  availableSeats: number;
  /** true when an Idempotency-Key repeat answered with the original hold */
  replayed: boolean;
}

export interface ConfirmResult {
  booking: PublicBooking;
  availableSeats: number;
  /** true when the hold was confirmed before: the same booking, nothing booked now */
  replayed: boolean;
}

/** Releases a hold's expired seats of one event now; how many holds it released. */
export type ExpiredHoldRelease = (eventId: number) => Promise<number>;

export function toPublicHold(row: HoldRow): PublicHold {
  return {
    id: row.id,
    eventId: row.eventId,
    userId: row.userId,
    quantity: row.quantity,
    status: row.status,
    expiresAt: row.expiresAt.toISOString(),
    createdAt: row.createdAt.toISOString(),
    extensions: row.extensions,
    bookingId: row.bookingId,
  };
}

const fingerprintOf = (request: HoldRequest) => `hold;eventId=${request.eventId};quantity=${request.quantity}`;

/**
 * Holds seats in one statement, as a booking takes them: the seats move from available to held,
 * the hold is recorded, and the user's held seats on the event are counted, all or nothing.
 * The count's CHECK is the 10-seat limit, so holds racing past it cannot both commit. Seats (or
 * allowance) kept only by expired holds are freed first: a buyer is never refused for them.
 */
export async function createHold(
  db: Database,
  seatFeed: SeatFeed,
  settings: HoldSettings,
  request: HoldRequest,
  releaseExpired: ExpiredHoldRelease = releaseExpiredOf(db, seatFeed),
): Promise<HoldResult> {
  if (request.idempotencyKey !== undefined) {
    const replay = await findReplay(db, request);
    if (replay) return replay;
  }
  try {
    const created = await holdWithinLimit(db, seatFeed, settings, request, releaseExpired);
    seatFeed.committed(seatChangeOf(request.eventId, 'seats_held', created));
    return { hold: toPublicHold(created.hold), availableSeats: created.availableSeats, replayed: false };
  } catch (error) {
    const code = databaseErrorCode(error);
    if (request.idempotencyKey !== undefined && code === '23505') {
      const replay = await findReplay(db, request);
      if (replay) return replay;
    }
    if (code === '23503') throw errors.accountGone();
    throw error;
  }
}

/** A CHECK violation in the hold statement can only be the user's count: quantities are validated, and the seat guard keeps the events' checks. */
const overLimit = (error: unknown) => databaseErrorCode(error) === '23514';

async function holdWithinLimit(db: Database, seatFeed: SeatFeed, settings: HoldSettings, request: HoldRequest, releaseExpired: ExpiredHoldRelease) {
  const hold = () =>
    takeSeatsOrRefuse(db, request, releaseExpired, (handle) =>
      holdIfAvailable(handle === db ? holdStatements(db, seatFeed) : holdStatement(handle, seatFeed), settings, request),
    );
  try {
    return await hold();
  } catch (error) {
    if (!overLimit(error)) throw error;
    // The user's own expired holds still counted: freed, the hold may fit.
    if ((await releaseExpired(request.eventId)) > 0) {
      try {
        return await hold();
      } catch (retryError) {
        if (!overLimit(retryError)) throw retryError;
      }
    }
    const [count] = await db
      .select({ heldSeats: heldByUser.heldSeats })
      .from(heldByUser)
      .where(and(eq(heldByUser.userId, request.userId), eq(heldByUser.eventId, request.eventId)));
    throw errors.holdLimitReached(MAX_HELD_SEATS_PER_EVENT, count?.heldSeats ?? 0);
  }
}

async function findReplay(db: Database, request: HoldRequest): Promise<HoldResult | null> {
  const [row] = await db
    .select()
    .from(holds)
    .where(and(eq(holds.userId, request.userId), eq(holds.idempotencyKey, request.idempotencyKey!)))
    .limit(1);
  if (!row) return null;
  if (row.requestFingerprint !== fingerprintOf(request)) throw errors.idempotencyConflict();
  return { hold: toPublicHold(row), availableSeats: row.availableSeatsAfter ?? 0, replayed: true };
}

/**
 * The seats taken, the hold recorded and the user's count raised, in one statement with the
 * feed's record of the change. No row back means the seats were not there; a count past the
 * limit fails the whole statement.
 */
function holdStatement(db: Database, seatFeed: SeatFeed) {
  const eventId = sql.placeholder('eventId');
  const userId = sql.placeholder('userId');
  const quantity = sql.placeholder('quantity');
  const ttlSeconds = sql.placeholder('ttlSeconds');
  const idempotencyKey = sql.placeholder('idempotencyKey');
  const requestFingerprint = sql.placeholder('requestFingerprint');
  const taken = db.$with('taken').as(
    db
      .update(events)
      .set({
        availableSeats: sql`${events.availableSeats} - ${quantity}::integer`,
        heldSeats: sql`${events.heldSeats} + ${quantity}::integer`,
        version: sql`${events.version} + 1`,
      })
      .where(and(eq(events.id, eventId), eq(events.status, 'published'), sql`${events.availableSeats} >= ${quantity}::integer`, saleOpenTo(sql`${userId}::integer`)))
      .returning(seatStateColumns),
  );
  const held = db.$with('held', getTableColumns(holds)).as(
    sql`insert into ${holds} (event_id, user_id, quantity, expires_at, idempotency_key, request_fingerprint, available_seats_after)
      select ${taken.eventId}, ${userId}, ${quantity}, now() + ${ttlSeconds}::integer * interval '1 second', ${idempotencyKey},
        ${requestFingerprint}, ${taken.availableSeats} from ${taken}
      returning *`,
  );
  const counted = db.$with('counted', { heldSeats: heldByUser.heldSeats }).as(
    sql`insert into ${heldByUser} (user_id, event_id, held_seats) select ${userId}, ${taken.eventId}, ${quantity} from ${taken}
      on conflict (user_id, event_id) do update set held_seats = ${heldByUser}.held_seats + excluded.held_seats
      returning held_seats`,
  );
  return db
    .with(taken, held, counted)
    .select(changedSeatsSelection(seatFeed, 'seats_held', 'hold', held._.selectedFields, taken))
    .from(held)
    .crossJoin(taken)
    .prepare('hold_seats');
}

type HoldStatement = ReturnType<typeof holdStatement>;
const holdStatements = statementCache(holdStatement);

async function holdIfAvailable(statement: HoldStatement, settings: HoldSettings, request: HoldRequest) {
  const idempotencyKey = request.idempotencyKey ?? null;
  const [row] = await statement.execute({
    eventId: request.eventId,
    userId: request.userId,
    quantity: request.quantity,
    ttlSeconds: settings.ttlSeconds,
    idempotencyKey,
    requestFingerprint: idempotencyKey === null ? null : fingerprintOf(request),
  });
  return row;
}

export async function listActiveHolds(db: Database, userId: number): Promise<PublicHold[]> {
  const rows = await db
    .select()
    .from(holds)
    .where(and(eq(holds.userId, userId), eq(holds.status, 'active'), gt(holds.expiresAt, sql`now()`)))
    .orderBy(desc(holds.id))
    .limit(1000);
  return rows.map(toPublicHold);
}

export async function getHold(db: Database, userId: number, holdId: number): Promise<PublicHold> {
  return toPublicHold(await ownHold(db, userId, holdId));
}

async function ownHold(db: Database, userId: number, holdId: number): Promise<HoldRow & { expired: boolean }> {
  const [row] = await db
    .select({ ...getTableColumns(holds), expired: sql<boolean>`${holds.expiresAt} <= now()` })
    .from(holds)
    .where(and(eq(holds.id, holdId), eq(holds.userId, userId)))
    .limit(1);
  // Someone else's hold is answered as a missing one: no hint that it exists.
  if (!row) throw errors.holdNotFound(holdId);
  return row;
}

/** Why a hold could not be confirmed, extended or released: it is gone, over or someone else's. */
function refusalOf(row: HoldRow & { expired: boolean }): AppError {
  if (row.status === 'expired' || (row.status === 'active' && row.expired)) return errors.holdExpired(row.id);
  return errors.holdNotActive(row.id, row.status);
}

const stillActive = (holdId: unknown, userId: unknown) =>
  and(eq(holds.id, sql`${holdId}`), eq(holds.userId, sql`${userId}`), eq(holds.status, 'active'), gt(holds.expiresAt, sql`now()`));

/**
 * Held → booked in one statement: the hold flips to `confirmed` only while active and unexpired
 * (the expiry's own UPDATE is refused the same row), the event's held seats become booked ones,
 * and the booking is inserted with the id the hold already points at.
 */
function confirmStatement(db: Database, seatFeed: SeatFeed) {
  const holdId = sql.placeholder('holdId');
  const userId = sql.placeholder('userId');
  const confirmed = db.$with('confirmed').as(
    db
      .update(holds)
      .set({ status: 'confirmed', bookingId: sql`nextval(pg_get_serial_sequence('bookings', 'id'))::integer` })
      .where(stillActive(holdId, userId))
      .returning(),
  );
  const moved = db.$with('moved').as(
    db
      .update(events)
      .set({ heldSeats: sql`${events.heldSeats} - ${confirmed.quantity}`, version: sql`${events.version} + 1` })
      .from(confirmed)
      .where(eq(events.id, confirmed.eventId))
      .returning(seatStateColumns),
  );
  const uncounted = uncountStatement(db, confirmed);
  const booked = db.$with('booked', getTableColumns(bookings)).as(
    sql`insert into ${bookings} (id, event_id, user_id, quantity, available_seats_after)
      select ${confirmed.bookingId}, ${confirmed.eventId}, ${confirmed.userId}, ${confirmed.quantity}, ${moved.availableSeats}
      from ${confirmed} cross join ${moved}
      returning *`,
  );
  return db
    .with(confirmed, moved, booked, uncounted)
    .select(changedSeatsSelection(seatFeed, 'booking_created', 'booking', booked._.selectedFields, moved))
    .from(booked)
    .crossJoin(moved)
    .prepare('confirm_hold');
}

const confirmStatements = statementCache(confirmStatement);


export async function confirmHold(db: Database, seatFeed: SeatFeed, userId: number, holdId: number): Promise<ConfirmResult> {
  const [row] = await confirmStatements(db, seatFeed).execute({ holdId, userId });
  if (row) {
    seatFeed.committed(seatChangeOf(row.booking.eventId, 'booking_created', row));
    return { booking: toPublicBooking(row.booking), availableSeats: row.availableSeats, replayed: false };
  }
  const hold = await ownHold(db, userId, holdId);
  if (hold.status === 'confirmed' && hold.bookingId !== null) {
    const [booking] = await db.select().from(bookings).where(eq(bookings.id, hold.bookingId)).limit(1);
    if (booking) return { booking: toPublicBooking(booking), availableSeats: booking.availableSeatsAfter ?? 0, replayed: true };
  }
  throw refusalOf(hold);
}

/** Active → released, the seats back to the event, in one statement. */
function releaseStatement(db: Database, seatFeed: SeatFeed) {
  const holdId = sql.placeholder('holdId');
  const userId = sql.placeholder('userId');
  const released = db.$with('released').as(db.update(holds).set({ status: 'released' }).where(stillActive(holdId, userId)).returning());
  const returned = heldSeatsBackStatement(db, released);
  const uncounted = uncountStatement(db, released);
  return db
    .with(released, returned, uncounted)
    .select(changedSeatsSelection(seatFeed, 'seats_released', 'hold', released._.selectedFields, returned, 'released'))
    .from(released)
    .crossJoin(returned)
    .prepare('release_hold');
}

const releaseStatements = statementCache(releaseStatement);

export async function releaseHold(db: Database, seatFeed: SeatFeed, userId: number, holdId: number): Promise<{ hold: PublicHold; availableSeats: number }> {
  const [row] = await releaseStatements(db, seatFeed).execute({ holdId, userId });
  if (!row) throw refusalOf(await ownHold(db, userId, holdId));
  seatFeed.committed(seatChangeOf(row.hold.eventId, 'seats_released', row, 'released'));
  return { hold: toPublicHold(row.hold), availableSeats: row.availableSeats };
}

/**
 * A fresh `HOLD_TTL_SECONDS` from now, while the hold is active, unexpired and under the
 * extension limit; the owner is warned again before the new expiry. Seats do not move, so no
 * seat message goes out.
 */
export async function extendHold(db: Database, settings: HoldSettings, userId: number, holdId: number): Promise<PublicHold> {
  const [row] = await db
    .update(holds)
    .set({
      expiresAt: sql`now() + ${settings.ttlSeconds}::integer * interval '1 second'`,
      extensions: sql`${holds.extensions} + 1`,
      warned: false,
    })
    .where(and(stillActive(holdId, userId), sql`${holds.extensions} < ${settings.maxExtensions}`))
    .returning();
  if (row) return toPublicHold(row);
  const hold = await ownHold(db, userId, holdId);
  if (hold.status === 'active' && !hold.expired) throw errors.holdExtensionLimit(settings.maxExtensions);
  throw refusalOf(hold);
}
