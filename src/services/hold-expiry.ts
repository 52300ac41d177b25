import { and, asc, eq, gt, inArray, lte, sql, type SQLWrapper } from 'drizzle-orm';
import type { Database } from '../db/client';
import { holds } from '../db/schema';
import { startBackgroundLoop } from '../lib/background-loop';
import type { Logger } from '../lib/logger';
import type { HoldNotice, SeatFeed } from './seat-feed';
import type { ExpiredHoldRelease } from './hold';
import { changedSeatsSelection, heldSeatsBackStatement, seatChangeOf, statementCache, uncountStatement, type ChangedSeats } from './seat-statements';

/**
 * The end of holds nobody confirmed or released. The database keeps every hold's `expires_at`
 * and decides with its own clock what is due, so nothing lives only in a process's memory: any
 * process, or the next one to start, releases what is due. Each hold is released by one
 * conditional UPDATE (`status = 'active' AND expires_at <= now()`) that skips rows another
 * process is releasing or confirming (`FOR UPDATE SKIP LOCKED`), so a hold is released once,
 * whichever process gets there, and never after a confirm won it.
 */

/** How often each process looks for due holds: seats come back within this of `expiresAt`, plus the statement. */
export const SWEEP_INTERVAL_MS = 250;
/**
 * While holds are coming back, a sweep that released some looks for due warnings only once a
 * second: its next release is then one statement away, not two (on PGlite, where statements
 * queue behind the bookers', release lag p99 with 2,000 holds expiring went from 1.03 s to
 * 0.68 s, medians of 3). A quiet sweep always looks, so warnings are at most a second late, and
 * only while others' holds expire.
 */
const BUSY_WARNING_INTERVAL_MS = 1_000;
/** Holds released by one statement; a sweep that fills it goes again at once. */
const HOLDS_PER_STATEMENT = 1_000;

export interface ExpiredHold {
  holdId: number;
  eventId: number;
  userId: number;
}

// Truncated to the millisecond, as a JavaScript Date read from the same column is.
const epochMs = (column: SQLWrapper) => sql<number>`floor(extract(epoch from ${column}) * 1000)::bigint`;

function releaseStatement(db: Database, seatFeed: SeatFeed, oneEvent: boolean) {
  const lockedDue = db
    .select({ id: holds.id })
    .from(holds)
    .where(and(eq(holds.status, 'active'), lte(holds.expiresAt, sql`now()`), oneEvent ? eq(holds.eventId, sql.placeholder('eventId')) : undefined))
    .orderBy(asc(holds.expiresAt))
    .limit(HOLDS_PER_STATEMENT);
  // The sweep passes over holds another process is releasing; a refused buyer's release (one
  // event) waits for it instead, so the seats are back before the buyer is answered.
  const due = oneEvent ? lockedDue.for('update') : lockedDue.for('update', { skipLocked: true });
  const expired = db.$with('expired').as(
    db
      .update(holds)
      .set({ status: 'expired' })
      .where(inArray(holds.id, due))
      .returning({ holdId: holds.id, eventId: holds.eventId, userId: holds.userId, quantity: holds.quantity, expiresAt: holds.expiresAt }),
  );
  const perEvent = db.$with('per_event').as(
    db
      .select({ eventId: expired.eventId, quantity: sql<number>`sum(${expired.quantity})::integer`.as('quantity') })
      .from(expired)
      .groupBy(expired.eventId),
  );
  const returned = heldSeatsBackStatement(db, perEvent);
  const perOwner = db.$with('per_owner').as(
    db
      .select({ userId: expired.userId, eventId: expired.eventId, quantity: sql<number>`sum(${expired.quantity})::integer`.as('owner_quantity') })
      .from(expired)
      .groupBy(expired.userId, expired.eventId),
  );
  const uncounted = uncountStatement(db, perOwner);
  const holdColumns = { holdId: expired.holdId, userId: expired.userId };
  const seats = changedSeatsSelection(seatFeed, 'seats_released', 'hold', holdColumns, returned, 'expired');
  const notice = seatFeed.recordInStatement({
    kind: 'hold_expired',
    eventId: expired.eventId,
    userId: expired.userId,
    holdId: expired.holdId,
    expiresAtMs: epochMs(expired.expiresAt),
  });
  return db
    .with(expired, perEvent, returned, perOwner, uncounted)
    .select({ ...seats, eventId: returned.eventId, expiresAt: expired.expiresAt, ...(notice && { notice }) })
    .from(expired)
    .innerJoin(returned, eq(expired.eventId, returned.eventId))
    .prepare(oneEvent ? 'release_expired_holds_of_event' : 'release_expired_holds');
}

/** Built and prepared once per database and feed: every process sweeps every 250 ms (statementCache). */
const sweepStatements = statementCache((db, seatFeed) => releaseStatement(db, seatFeed, false));
const eventReleaseStatements = statementCache((db, seatFeed) => releaseStatement(db, seatFeed, true));

/**
 * Releases due holds (of one event, or all) in one statement: the holds become `expired`, each
 * event gets their seats back as one change (one version, one `seats_released` with reason
 * `expired`), each owner's count of held seats goes down, and each owner a `hold_expired`, recorded in the same statement after the seat
 * change. (PostgreSQL sends one notification per distinct payload in a transaction, so the
 * event's change, repeated on each of its holds' rows, goes out once.)
 */
export async function releaseExpiredHolds(db: Database, seatFeed: SeatFeed, scope: { eventId?: number } = {}): Promise<ExpiredHold[]> {
  const rows =
    scope.eventId === undefined ? await sweepStatements(db, seatFeed).execute() : await eventReleaseStatements(db, seatFeed).execute({ eventId: scope.eventId });
  // In-process feeds hear it now, in the order the notifications would have: each event's change, then its owners.
  const changes = new Map<number, ChangedSeats>();
  for (const row of rows) changes.set(row.eventId, row);
  for (const [eventId, seatsAfter] of changes) seatFeed.committed(seatChangeOf(eventId, 'seats_released', seatsAfter, 'expired'));
  for (const row of rows) {
    const expiredNotice: HoldNotice = { kind: 'hold_expired', eventId: row.eventId, userId: row.hold.userId, holdId: row.hold.holdId, expiresAtMs: row.expiresAt.getTime() };
    seatFeed.committed(expiredNotice);
  }
  return rows.map((row) => ({ holdId: row.hold.holdId, eventId: row.eventId, userId: row.hold.userId }));
}

function warnStatement(db: Database, seatFeed: SeatFeed) {
  const due = db
    .select({ id: holds.id })
    .from(holds)
    .where(
      and(
        eq(holds.status, 'active'),
        eq(holds.warned, false),
        gt(holds.expiresAt, sql`now()`),
        lte(holds.expiresAt, sql`now() + ${sql.placeholder('warningSeconds')}::integer * interval '1 second'`),
      ),
    )
    .limit(HOLDS_PER_STATEMENT)
    .for('update', { skipLocked: true });
  const notice = seatFeed.recordInStatement({
    kind: 'hold_expiring',
    eventId: holds.eventId,
    userId: holds.userId,
    holdId: holds.id,
    expiresAtMs: epochMs(holds.expiresAt),
  });
  return db
    .update(holds)
    .set({ warned: true })
    .where(inArray(holds.id, due))
    .returning({ holdId: holds.id, eventId: holds.eventId, userId: holds.userId, expiresAt: holds.expiresAt, ...(notice && { notice }) })
    .prepare('warn_expiring_holds');
}

const warnStatements = statementCache(warnStatement);

/**
 * Marks the holds whose warning is due (`warningSeconds` before expiry, or at once when less is
 * left) and tells each owner `hold_expiring`, once per expiry: an extension clears the mark.
 */
export async function warnExpiringHolds(db: Database, seatFeed: SeatFeed, warningSeconds: number): Promise<number> {
  const rows = await warnStatements(db, seatFeed).execute({ warningSeconds });
  for (const row of rows) {
    seatFeed.committed({ kind: 'hold_expiring', eventId: row.eventId, userId: row.userId, holdId: row.holdId, expiresAtMs: row.expiresAt.getTime() });
  }
  return rows.length;
}

/** Releases the due holds of one event now, for a request about to be refused for want of their seats. */
export const releaseExpiredOf =
  (db: Database, seatFeed: SeatFeed): ExpiredHoldRelease =>
  (eventId) =>
    releaseExpiredHolds(db, seatFeed, { eventId }).then((released) => released.length);

export interface HoldSweeperOptions {
  db: Database;
  seatFeed: SeatFeed;
  warningSeconds: number;
  logger: Logger;
  /** Holds this process released (`seatwatch_holds_total{result="expired"}`). */
  onExpired(count: number): void;
  intervalMs?: number;
}

/**
 * Every process sweeps: due holds are released and due warnings sent every `SWEEP_INTERVAL_MS`,
 * starting at once (holds that expired while no server ran come back at start-up).
 */
export function startHoldSweeper(options: HoldSweeperOptions) {
  const { db, seatFeed } = options;
  const intervalMs = options.intervalMs ?? SWEEP_INTERVAL_MS;
  let stopped = false;
  let warnedAt = -Infinity;

  /** Releases what the release path may ask for too (a refused booking or hold). */
  async function releaseExpired(eventId?: number): Promise<number> {
    const released = await releaseExpiredHolds(db, seatFeed, eventId === undefined ? {} : { eventId });
    if (released.length > 0) options.onExpired(released.length);
    return released.length;
  }

  async function sweep(): Promise<void> {
    // A full statement's worth may leave more due: go again before the warnings.
    let released = 0;
    let batch: number;
    do {
      batch = await releaseExpired();
      released += batch;
    } while (batch === HOLDS_PER_STATEMENT && !stopped);
    if (released === 0 || performance.now() - warnedAt >= BUSY_WARNING_INTERVAL_MS) {
      warnedAt = performance.now();
      await warnExpiringHolds(db, seatFeed, options.warningSeconds);
    }
  }

  // At a fixed pace: the next sweep is due `intervalMs` after this one began, at once when it took longer.
  const loop = startBackgroundLoop({ logger: options.logger, name: 'hold sweeper', turn: sweep, nextInMs: (startedAt) => intervalMs - (performance.now() - startedAt) });
  return {
    releaseExpired: (eventId: number) => releaseExpired(eventId),
    async stop(): Promise<void> {
      stopped = true;
      await loop.stop();
    },
  };
}

export type HoldSweeper = ReturnType<typeof startHoldSweeper>;
