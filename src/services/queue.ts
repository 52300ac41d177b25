import { and, eq, getTableColumns, isNotNull, isNull, sql, type SQLWrapper } from 'drizzle-orm';
import { databaseErrorCode, type Database } from '../db/client';
import { events, queueEntries } from '../db/schema';
import { errors } from '../lib/errors';
import type { QueueProgress } from '../protocol';

/**
 * The on-sale waiting room (SPEC §9). A line moves by one number: tickets are numbered, and each
 * ticket's `admit_at` is fixed when the ticket is given, one pace's step after the one before
 * (60 s / queueRatePerMinute), so "admitted" is `admit_at <= now()` by the database's clock and
 * every process reads the same line without a coordinator. `servingThrough` is the last ticket
 * whose time has come. The early joiners' tickets are drawn once, by lottery, at `salesStartAt`.
 */

export type QueueStatus = 'waiting' | 'admitted' | 'expired';

export interface PublicQueueEntry {
  eventId: number;
  /** null until the lottery at salesStartAt */
  ticket: number | null;
  /** ticket − servingThrough while waiting, 0 once admitted; null until the lottery */
  position: number | null;
  status: QueueStatus;
  admittedAt: string | null;
  admissionExpiresAt: string | null;
  estimatedWaitSeconds: number | null;
}

export type { QueueProgress };

/**
 * `events.id` spelled out: inside a subquery, Drizzle's bare `"id"` would be the subquery's own
 * table's id.
 */
export const eventsId = sql`${sql.identifier('events')}.${sql.identifier('id')}`;

/** One pace's step: the time between two admissions. */
const paceStep = (ratePerMinute: SQLWrapper) => sql`(60.0 / ${ratePerMinute}) * interval '1 second'`;

/**
 * The lottery's first admission: `salesStartAt`, so the pace counts from the announced time; a
 * draw more than a second late (no server was running) starts from now instead of admitting
 * everyone whose time passed at once.
 */
const paceStart = sql`greatest(coalesce(${events.salesStartAt}, now()), now() - interval '1 second')`;

/** The last ticket admitted on an event (0 before any): tickets' admit_at grow with their number. */
export const servingThroughOf = (eventId: SQLWrapper) =>
  sql<number>`coalesce((select sq.ticket from ${queueEntries} sq where sq.event_id = ${eventId} and sq.admit_at <= now() order by sq.admit_at desc limit 1), 0)`;

/** People in line whose turn has not come (before the lottery: everyone in it). */
export const waitingOf = (eventId: SQLWrapper) =>
  sql<number>`(select count(*)::integer from ${queueEntries} wq where wq.event_id = ${eventId} and wq.left_at is null and (wq.admit_at is null or wq.admit_at > now()))`;

/**
 * The gate of a booking or hold, for the WHERE of the statement that takes the seats from
 * `events`: sales have started, and, with a line, the buyer's admission is running now.
 */
export const saleOpenTo = (userId: SQLWrapper) => sql`(${events.salesStartAt} is null or ${events.salesStartAt} <= now())
  and (${events.queueRatePerMinute} is null or exists (select 1 from ${queueEntries} gq where gq.event_id = ${eventsId}
    and gq.user_id = ${userId} and gq.left_at is null and gq.admit_at <= now()
    and gq.admit_at + ${events.admissionSeconds} * interval '1 second' > now()))`;

/** Why the gate refused, read beside the seats by a refused booking or hold. */
export const gateColumns = (userId: number) => ({
  salesStartAt: events.salesStartAt,
  salesNotStarted: sql<boolean>`coalesce(${events.salesStartAt} > now(), false)`,
  admitted: sql<boolean>`${saleOpenTo(sql`${userId}::integer`)}`,
});

export interface GateState {
  salesStartAt: Date | null;
  salesNotStarted: boolean;
  admitted: boolean;
}

/** Throws `sales_not_started` or `not_admitted` (with the caller's place) when the gate is why. */
export async function refuseAtGate(db: Database, event: GateState, eventId: number, userId: number): Promise<void> {
  if (event.salesNotStarted && event.salesStartAt) throw errors.salesNotStarted(event.salesStartAt.toISOString());
  if (!event.admitted) throw errors.notAdmitted(await getQueueEntry(db, eventId, userId));
}

/**
 * Statements built and prepared once per database: PostgreSQL (and PGlite) then plan them once
 * per connection. The line is read and joined by every user of an on-sale, often more than once.
 */
function cachedPerDatabase<T>(build: (db: Database) => T): (db: Database) => T {
  const built = new WeakMap<Database, T>();
  return (db) => {
    let statement = built.get(db);
    if (!statement) built.set(db, (statement = build(db)));
    return statement;
  };
}

/** What a place is made of, read from an entry's `ticket` and `admit_at` beside its event. */
function entryColumns(entry: { userId: SQLWrapper; ticket: SQLWrapper; admitAt: SQLWrapper }, eventId: SQLWrapper) {
  return {
    userId: sql<number>`${entry.userId}`,
    ticket: sql<number | null>`${entry.ticket}`,
    admitAt: sql<Date | null>`${entry.admitAt}`.mapWith(queueEntries.admitAt),
    admissionSeconds: events.admissionSeconds,
    admitted: sql<boolean>`coalesce(${entry.admitAt} <= now(), false)`,
    admissionOver: sql<boolean>`coalesce(${entry.admitAt} + ${events.admissionSeconds} * interval '1 second' <= now(), false)`,
    waitMs: sql<number>`coalesce(extract(epoch from ${entry.admitAt} - now()) * 1000, 0)`.mapWith(Number),
    servingThrough: servingThroughOf(eventId),
  };
}

/**
 * One user's place, and the places of several read together, the line's head once for all of
 * them. Several are one probe of the (event, user) index each: with `user_id = any(...)`
 * PostgreSQL's plan for a line not yet analyzed scans the whole line for every read.
 */
const entryStatements = cachedPerDatabase((db) => {
  const eventId = sql`${sql.placeholder('eventId')}::integer`;
  const asked = db.$with('asked', { userId: queueEntries.userId, ticket: queueEntries.ticket, admitAt: queueEntries.admitAt }).as(
    sql`select entry.user_id, entry.ticket, entry.admit_at from unnest(${sql.placeholder('userIds')}::integer[]) as asker(id)
      cross join lateral (select user_id, ticket, admit_at from ${queueEntries}
        where event_id = ${eventId} and user_id = asker.id and left_at is null limit 1) as entry`,
  );
  return {
    one: db
      .select(entryColumns(queueEntries, eventId))
      .from(queueEntries)
      .innerJoin(events, eq(events.id, queueEntries.eventId))
      .where(and(eq(queueEntries.eventId, eventId), eq(queueEntries.userId, sql.placeholder('userId')), isNull(queueEntries.leftAt)))
      .limit(1)
      .prepare('queue_entry'),
    several: db.with(asked).select(entryColumns(asked, eventId)).from(asked).innerJoin(events, eq(events.id, eventId)).prepare('queue_entries'),
  };
});

type EntryRow = Awaited<ReturnType<ReturnType<typeof entryStatements>['one']['execute']>>[number];

function toPublicEntry(eventId: number, row: EntryRow): PublicQueueEntry {
  const { ticket, admitAt } = row;
  if (ticket === null || admitAt === null) {
    return { eventId, ticket: null, position: null, status: 'waiting', admittedAt: null, admissionExpiresAt: null, estimatedWaitSeconds: null };
  }
  const admission = {
    admittedAt: admitAt.toISOString(),
    admissionExpiresAt: new Date(admitAt.getTime() + row.admissionSeconds * 1000).toISOString(),
  };
  if (row.admitted) return { eventId, ticket, position: 0, status: row.admissionOver ? 'expired' : 'admitted', ...admission, estimatedWaitSeconds: 0 };
  return {
    eventId,
    ticket,
    position: Math.max(1, ticket - row.servingThrough),
    status: 'waiting',
    // Known exactly at the current pace: the ticket's time is set.
    ...admission,
    estimatedWaitSeconds: Math.max(1, Math.ceil(row.waitMs / 1000)),
  };
}

/** The places of these users in the event's line, by user id; absent when not in it. */
export async function getQueueEntries(db: Database, eventId: number, userIds: number[]): Promise<Map<number, PublicQueueEntry>> {
  const statements = entryStatements(db);
  const rows = userIds.length === 1 ? await statements.one.execute({ eventId, userId: userIds[0] }) : await statements.several.execute({ eventId, userIds });
  return new Map(rows.map((row) => [row.userId, toPublicEntry(eventId, row)]));
}

/** The caller's place in the event's line, or null when not in it. */
export async function getQueueEntry(db: Database, eventId: number, userId: number): Promise<PublicQueueEntry | null> {
  return (await getQueueEntries(db, eventId, [userId])).get(userId) ?? null;
}

/**
 * Joins the line, or answers the place already held. One statement: the event's row (locked by
 * the UPDATE, so tickets are given one at a time in arrival order) counts the joiner and, once
 * the lottery has run, gives the next ticket a pace's step after the last one (or now, when the
 * line has run dry); the entry is inserted from what it returned.
 */
export async function joinQueue(db: Database, eventId: number, userId: number): Promise<{ queue: PublicQueueEntry; joined: boolean }> {
  const already = await getQueueEntry(db, eventId, userId);
  if (already) return { queue: already, joined: false };
  let joined: { drawDue: boolean } | undefined;
  try {
    [joined] = await joinStatements(db).execute({ eventId, userId });
  } catch (error) {
    const code = databaseErrorCode(error);
    // The same user joining twice at once: one insert won, this one rolled back whole.
    if (code === '23505') {
      const place = await getQueueEntry(db, eventId, userId);
      if (place) return { queue: place, joined: false };
    }
    if (code === '23503') throw errors.accountGone();
    throw error;
  }
  if (!joined) throw await explainNoLine(db, eventId);
  // Joined after salesStartAt but before any process drew: the draw is due now.
  if (joined.drawDue) await drawIfDue(db, eventId);
  const queue = await getQueueEntry(db, eventId, userId);
  if (!queue) throw new Error(`queue entry of user ${userId} on event ${eventId} missing right after joining`);
  return { queue, joined: true };
}

const joinStatements = cachedPerDatabase((db) => {
  const eventId = sql.placeholder('eventId');
  const userId = sql.placeholder('userId');
  const line = db.$with('line').as(
    db
      .update(events)
      .set({
        queueIssued: sql`${events.queueIssued} + 1`,
        queueLastAdmitAt: sql`case when ${events.queueDrawn}
          then greatest(now(), ${events.queueLastAdmitAt} + ${paceStep(events.queueRatePerMinute)}) else ${events.queueLastAdmitAt} end`,
      })
      .where(and(eq(events.id, sql`${eventId}::integer`), eq(events.status, 'published'), isNotNull(events.queueRatePerMinute)))
      .returning({
        lineEventId: events.id,
        drawn: events.queueDrawn,
        issued: events.queueIssued,
        lastAdmitAt: events.queueLastAdmitAt,
        salesStarted: sql<boolean>`coalesce(${events.salesStartAt} <= now(), true)`.as('sales_started'),
      }),
  );
  const joined = db.$with('joined', getTableColumns(queueEntries)).as(
    sql`insert into ${queueEntries} (event_id, user_id, ticket, admit_at)
      select ${line.lineEventId}, ${userId}::integer, case when ${line.drawn} then ${line.issued} end,
        case when ${line.drawn} then ${line.lastAdmitAt} end
      from ${line}
      returning *`,
  );
  return db
    .with(line, joined)
    .select({ entryId: joined.id, drawDue: sql<boolean>`${line.salesStarted} and not ${line.drawn}` })
    .from(joined)
    .crossJoin(line)
    .prepare('join_queue');
});

async function explainNoLine(db: Database, eventId: number) {
  const [event] = await db.select({ status: events.status, rate: events.queueRatePerMinute }).from(events).where(eq(events.id, eventId));
  if (!event || event.status !== 'published') return errors.eventNotFound(eventId);
  return errors.badRequest(`Event ${eventId} has no waiting room: book it directly`);
}

/**
 * Leaves the line. Before the lottery the entry goes (no ticket is drawn for it); after, it is
 * marked left, so the line's tickets and `servingThrough` stay as they were.
 */
export async function leaveQueue(db: Database, eventId: number, userId: number): Promise<void> {
  const mine = and(eq(queueEntries.eventId, eventId), eq(queueEntries.userId, userId), isNull(queueEntries.leftAt));
  const removed = await db.delete(queueEntries).where(and(mine, isNull(queueEntries.ticket))).returning({ id: queueEntries.id });
  if (removed.length === 0) await db.update(queueEntries).set({ leftAt: sql`now()` }).where(mine);
}

/**
 * The lottery, once per event, whichever process comes first: the event's row is locked (joins
 * hold it while they insert, so every joiner so far has committed), then one statement numbers
 * the joiners 1..K in random order, times each ticket a pace's step apart from `salesStartAt`,
 * and marks the event drawn. A process that waited for the lock finds it drawn and does nothing.
 * Returns how many tickets were drawn, or null when there was no draw due.
 */
export async function drawIfDue(db: Database, eventId: number): Promise<number | null> {
  return db.transaction(async (tx) => {
    const [due] = await tx
      .select({ id: events.id })
      .from(events)
      .where(and(eq(events.id, eventId), eq(events.queueDrawn, false), isNotNull(events.queueRatePerMinute), sql`coalesce(${events.salesStartAt}, now()) <= now()`))
      .for('update');
    if (!due) return null;
    const drawn = tx.$with('drawn').as(
      tx
        .select({ entryId: sql<number>`${queueEntries.id}`.as('entry_id'), ticket: sql<number>`(row_number() over (order by random()))::integer`.as('drawn_ticket') })
        .from(queueEntries)
        .where(and(eq(queueEntries.eventId, eventId), isNull(queueEntries.leftAt))),
    );
    const numbered = tx.$with('numbered', { ticket: queueEntries.ticket }).as(
      sql`update ${queueEntries} set ticket = ${drawn.ticket}, admit_at = pace.start_at + (${drawn.ticket} - 1) * pace.step
        from ${drawn}, (select ${paceStart} as start_at, ${paceStep(events.queueRatePerMinute)} as step from ${events} where ${events.id} = ${eventId}) pace
        where ${queueEntries.id} = ${drawn.entryId}
        returning ${queueEntries.ticket}`,
    );
    const drawnCount = sql`(select count(*)::integer from ${drawn})`;
    const [event] = await tx
      .with(drawn, numbered)
      .update(events)
      .set({
        queueDrawn: true,
        queueIssued: sql`${drawnCount}`,
        queueLastAdmitAt: sql`${paceStart} + (${drawnCount} - 1) * ${paceStep(events.queueRatePerMinute)}`,
      })
      .where(eq(events.id, eventId))
      .returning({ issued: events.queueIssued });
    return event?.issued ?? 0;
  });
}

/** Events whose lottery is due now (their salesStartAt has come). */
export async function eventsToDraw(db: Database): Promise<number[]> {
  const rows = await drawDueStatements(db).execute();
  return rows.map((row) => row.id);
}

// Every process asks four times a second: built and prepared once.
const drawDueStatements = cachedPerDatabase((db) =>
  db
    .select({ id: events.id })
    .from(events)
    .where(and(eq(events.queueDrawn, false), isNotNull(events.queueRatePerMinute), sql`coalesce(${events.salesStartAt}, now()) <= now()`))
    .prepare('events_to_draw'),
);

/**
 * A new pace from now, in the organizer's edit (its transaction, after the UPDATE): the tickets
 * still waiting are timed again a new step apart, starting one step from now, in the same order.
 * servingThrough does not move, so nobody's place goes back.
 */
export async function retimeLine(tx: Database, eventId: number): Promise<void> {
  const retimed = tx.$with('retimed', { admitAt: queueEntries.admitAt }).as(
    sql`update ${queueEntries} set admit_at = now() + (${queueEntries.ticket} - ${servingThroughOf(sql`${eventId}::integer`)}) * pace.step
      from (select ${paceStep(events.queueRatePerMinute)} as step from ${events} where ${events.id} = ${eventId}) pace
      where ${queueEntries.eventId} = ${eventId} and ${queueEntries.admitAt} > now()
      returning ${queueEntries.admitAt}`,
  );
  await tx
    .with(retimed)
    .update(events)
    .set({ queueLastAdmitAt: sql`coalesce((select max(${retimed.admitAt}) from ${retimed}), ${events.queueLastAdmitAt})` })
    .where(eq(events.id, eventId));
}

/** A line as the ticker reads it: its progress, and when its next moment comes by the database's clock. */
export interface MovingLine extends QueueProgress {
  /** Tickets this read counted as admitted (seatwatch_queue_admitted_total). */
  newlyAdmitted: number;
  drawn: boolean;
  /** Milliseconds from now to the last ticket's admission once drawn, to `salesStartAt` before (null: none set). */
  msToNextMoment: number | null;
  /** Milliseconds from now to the database clock's next whole second, (0, 1000]. */
  msToNextSecond: number;
}

/**
 * The line of every event whose line is moving (before the lottery, tickets still to admit, or
 * the last admitted in the past few seconds, so every process sends its watchers the end), and
 * how many tickets this call counted as admitted: each admission is counted once, by whichever
 * process's call first sees it, as the event's counter only moves forward under its row lock.
 */
export function readMovingLines(db: Database): Promise<MovingLine[]> {
  return movingLineStatements(db).execute();
}

const movingLineStatements = cachedPerDatabase((db) => {
  const moving = db.$with('moving').as(
    db
      .select({
        eventId: sql<number>`${events.id}`.as('moving_event_id'),
        ratePerMinute: sql<number>`${events.queueRatePerMinute}`.as('rate'),
        servingThrough: servingThroughOf(eventsId).as('serving_through'),
        waiting: waitingOf(eventsId).as('waiting'),
        drawn: sql<boolean>`${events.queueDrawn}`.as('drawn'),
        msToNextMoment: sql<number | null>`extract(epoch from (case when ${events.queueDrawn} then ${events.queueLastAdmitAt} else ${events.salesStartAt} end) - now()) * 1000`.as(
          'ms_to_next_moment',
        ),
        msToNextSecond: sql<number>`1000 - mod(extract(epoch from now()) * 1000, 1000)`.as('ms_to_next_second'),
      })
      .from(events)
      .where(
        and(
          isNotNull(events.queueRatePerMinute),
          eq(events.status, 'published'),
          sql`(not ${events.queueDrawn} or ${events.queueAdmitted} < ${events.queueIssued} or ${events.queueLastAdmitAt} > now() - interval '3 seconds')`,
        ),
      ),
  );
  const counted = db.$with('counted', { countedEventId: events.id, newlyAdmitted: events.queueAdmitted }).as(
    sql`update ${events} set queue_admitted_before = ${events.queueAdmitted}, queue_admitted = ${moving.servingThrough}
      from ${moving}
      where ${events.id} = ${moving.eventId} and ${events.queueAdmitted} < ${moving.servingThrough}
      returning ${events.id} as id, ${events.queueAdmitted} - ${events.queueAdmittedBefore} as queue_admitted`,
  );
  return db
    .with(moving, counted)
    .select({
      eventId: moving.eventId,
      ratePerMinute: moving.ratePerMinute,
      servingThrough: moving.servingThrough,
      waiting: moving.waiting,
      drawn: moving.drawn,
      msToNextMoment: sql<number | null>`${moving.msToNextMoment}`.mapWith(Number),
      msToNextSecond: sql<number>`${moving.msToNextSecond}`.mapWith(Number),
      newlyAdmitted: sql<number>`coalesce(${counted.newlyAdmitted}, 0)`.mapWith(Number),
    })
    .from(moving)
    .leftJoin(counted, eq(moving.eventId, counted.countedEventId))
    .prepare('read_moving_lines');
});
