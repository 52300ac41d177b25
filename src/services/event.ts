import { and, asc, eq, getTableColumns, or, sql } from 'drizzle-orm';
import { databaseErrorCode, type Database } from '../db/client';
import { events, type EventRow } from '../db/schema';
import { errors } from '../lib/errors';
import type { FeedChange, SeatFeed } from './seat-feed';
import type { SeatStateFields } from '../protocol';
import { eventsId, retimeLine, servingThroughOf, waitingOf, type QueueProgress } from './queue';

export type EventStatus = 'draft' | 'published';

export interface PublicEvent {
  id: number;
  name: string;
  description: string;
  venue: string;
  startsAt: string;
  capacity: number;
  availableSeats: number;
  heldSeats: number;
  status: EventStatus;
  organizerId: number;
  version: number;
  salesStartAt: string | null;
  queueRatePerMinute: number | null;
  admissionSeconds: number;
}

export interface NewEvent {
  name: string;
  description?: string;
  venue?: string;
  startsAt: Date;
  capacity: number;
  status?: EventStatus;
  /** Nothing sells before it; null: on sale now. */
  salesStartAt?: Date | null;
  /** A waiting room admitting this many a minute; null: none. */
  queueRatePerMinute?: number | null;
  admissionSeconds?: number;
}

export type EventPatch = Partial<NewEvent>;

/** An event's seat state as columns, for every query and statement that reads or returns it. */
export const seatStateColumns = {
  eventId: events.id,
  availableSeats: events.availableSeats,
  heldSeats: events.heldSeats,
  capacity: events.capacity,
  version: events.version,
};

export function toPublicEvent(row: EventRow): PublicEvent {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    venue: row.venue,
    startsAt: row.startsAt.toISOString(),
    capacity: row.capacity,
    availableSeats: row.availableSeats,
    heldSeats: row.heldSeats,
    status: row.status,
    organizerId: row.organizerId,
    version: row.version,
    salesStartAt: row.salesStartAt?.toISOString() ?? null,
    queueRatePerMinute: row.queueRatePerMinute,
    admissionSeconds: row.admissionSeconds,
  };
}

/** Published, or a draft its organizer asks for; `isVisibleTo` below is the same rule for a row already read. */
const visibleTo = (viewerId: number | null) =>
  viewerId === null ? eq(events.status, 'published') : or(eq(events.status, 'published'), eq(events.organizerId, viewerId));

/** The rule of `visibleTo`, for a row already read. */
export function isVisibleTo(event: { status: EventStatus; organizerId: number }, viewerId: number | null): boolean {
  return event.status === 'published' || (viewerId !== null && event.organizerId === viewerId);
}

export async function listEvents(
  db: Database,
  viewerId: number | null,
  page: { limit: number; offset: number },
): Promise<PublicEvent[]> {
  const rows = await db.select().from(events).where(visibleTo(viewerId)).orderBy(asc(events.id)).limit(page.limit).offset(page.offset);
  return rows.map(toPublicEvent);
}

/** The event as `viewerId` may see it; a draft exists only for its organizer. */
export async function getVisibleEvent(db: Database, eventId: number, viewerId: number | null): Promise<PublicEvent> {
  const [row] = await db
    .select()
    .from(events)
    .where(and(eq(events.id, eventId), visibleTo(viewerId)))
    .limit(1);
  if (!row) throw errors.eventNotFound(eventId);
  return toPublicEvent(row);
}

/** An event's seat state with what decides who may see it, and its line's progress when it has one. */
export interface ViewableSeatState extends SeatStateFields {
  status: EventStatus;
  organizerId: number;
  queue: QueueProgress | null;
}

/** Seat states of many events with their visibility, for snapshot reads answered together and feed catch-up. */
export async function getViewableSeatStates(db: Database, eventIds: number[]): Promise<ViewableSeatState[]> {
  if (eventIds.length === 0) return [];
  const rows = await db
    .select({
      ...seatStateColumns,
      status: events.status,
      organizerId: events.organizerId,
      ratePerMinute: events.queueRatePerMinute,
      // Read only for events with a line.
      servingThrough: sql<number | null>`case when ${events.queueRatePerMinute} is null then null else ${servingThroughOf(eventsId)} end`,
      waiting: sql<number | null>`case when ${events.queueRatePerMinute} is null then null else ${waitingOf(eventsId)} end`,
    })
    .from(events)
    .where(sql`${events.id} in ${eventIds}`);
  return rows.map(({ ratePerMinute, servingThrough, waiting, ...state }) => ({
    ...state,
    queue: ratePerMinute === null ? null : { eventId: state.eventId, ratePerMinute, servingThrough: servingThrough ?? 0, waiting: waiting ?? 0 },
  }));
}

export async function createEvent(db: Database, organizerId: number, input: NewEvent): Promise<PublicEvent> {
  try {
    const [row] = await db
      .insert(events)
      .values({
        name: input.name,
        description: input.description ?? '',
        venue: input.venue ?? '',
        startsAt: input.startsAt,
        capacity: input.capacity,
        availableSeats: input.capacity,
        status: input.status ?? 'published',
        organizerId,
        salesStartAt: input.salesStartAt ?? null,
        queueRatePerMinute: input.queueRatePerMinute ?? null,
        ...(input.admissionSeconds !== undefined && { admissionSeconds: input.admissionSeconds }),
      })
      .returning();
    return toPublicEvent(row!);
  } catch (error) {
    // The only foreign key here is the organizer: the token outlived its account.
    if (databaseErrorCode(error) === '23503') throw errors.accountGone();
    throw error;
  }
}

/**
 * Organizer-only edit. A capacity change moves availableSeats by the same amount in one
 * conditional UPDATE that refuses to go below the seats already booked, so it cannot race
 * with bookings; it bumps `version` and is published as a `seat_update`. A move from published
 * to draft is published as `event_hidden`, ahead of any seat change of the same edit, so every
 * process removes the event's other watchers; it does not bump `version` (not a seat change).
 */
export async function updateEvent(
  db: Database,
  seatFeed: SeatFeed,
  userId: number,
  eventId: number,
  patch: EventPatch,
): Promise<PublicEvent> {
  const { capacity, ...details } = patch;
  const detailColumns = Object.fromEntries(Object.entries(details).filter(([, value]) => value !== undefined));
  const guard =
    capacity === undefined
      ? eq(events.organizerId, userId)
      : and(eq(events.organizerId, userId), sql`${events.capacity} - ${events.availableSeats} <= ${capacity}::integer`);

  const outcome = await db.transaction(async (tx) => {
    // Locked, so a refusal below is explained by the very state the guard refused.
    const [current] = await tx.select().from(events).where(eq(events.id, eventId)).for('update');
    if (!current) throw errors.eventNotFound(eventId);
    const capacityChanges = capacity !== undefined && capacity !== current.capacity;
    const becomesDraft = patch.status === 'draft' && current.status === 'published';
    // The patch always names a column (validation requires one), so the UPDATE is never empty.
    const capacityColumns = capacityChanges
      ? {
          capacity,
          availableSeats: sql`${events.availableSeats} + (${capacity}::integer - ${events.capacity})`,
          version: sql`${events.version} + 1`,
        }
      : capacity === undefined
        ? {}
        : { capacity };
    // The feed records the changes in the UPDATE itself, from the values it writes.
    const hiding = becomesDraft
      ? seatFeed.recordInStatement({ kind: 'event_hidden', eventId: events.id, organizerId: events.organizerId, version: events.version })
      : null;
    const recorded = capacityChanges ? seatFeed.recordInStatement({ ...seatStateColumns, kind: 'seat_update' }) : null;
    const [row] = await tx
      .update(events)
      .set({ ...detailColumns, ...capacityColumns })
      .where(and(eq(events.id, eventId), guard))
      .returning({ ...getTableColumns(events), ...(hiding && { hiding }), ...(recorded && { recorded }) });
    if (!row) throw explainRefusedUpdate(current, userId);
    // A new pace applies from now to those still waiting; nobody's place moves back.
    if (row.queueDrawn && row.queueRatePerMinute !== null && row.queueRatePerMinute !== current.queueRatePerMinute) await retimeLine(tx, eventId);
    const changes: FeedChange[] = [];
    if (becomesDraft) changes.push({ kind: 'event_hidden', eventId, organizerId: row.organizerId, version: row.version });
    if (capacityChanges) changes.push({ eventId, kind: 'seat_update', availableSeats: row.availableSeats, heldSeats: row.heldSeats, capacity: row.capacity, version: row.version });
    return { row, changes };
  });

  for (const change of outcome.changes) seatFeed.committed(change);
  return toPublicEvent(outcome.row);
}

function explainRefusedUpdate(row: EventRow, userId: number) {
  if (row.organizerId !== userId) return row.status === 'draft' ? errors.eventNotFound(row.id) : errors.forbidden();
  // Held seats count as taken: a hold may still become a booking.
  return errors.capacityBelowBooked(row.capacity - row.availableSeats);
}
