import { sql } from 'drizzle-orm';
import { boolean, check, index, integer, pgTable, primaryKey, serial, text, timestamp, uniqueIndex, varchar } from 'drizzle-orm/pg-core';

export const users = pgTable(
  'users',
  {
    id: serial('id').primaryKey(),
    email: varchar('email', { length: 320 }).notNull(),
    name: varchar('name', { length: 200 }),
    passwordHash: text('password_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [uniqueIndex('users_email_lower_unique').on(sql`lower(${table.email})`)],
);

export const events = pgTable(
  'events',
  {
    id: serial('id').primaryKey(),
    name: varchar('name', { length: 200 }).notNull(),
    description: text('description').notNull().default(''),
    venue: varchar('venue', { length: 200 }).notNull().default(''),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull(),
    capacity: integer('capacity').notNull(),
    availableSeats: integer('available_seats').notNull(),
    /** Seats in active holds: out of availableSeats, not yet booked. */
    heldSeats: integer('held_seats').notNull().default(0),
    status: varchar('status', { length: 16, enum: ['draft', 'published'] }).notNull().default('published'),
    organizerId: integer('organizer_id')
      .notNull()
      .references(() => users.id),
    /** Bumped by one in the same transaction as every seat change; orders the live feed. */
    version: integer('version').notNull().default(1),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** Nothing sells before it (null: on sale now). Joiners before it are drawn in a lottery at it. */
    salesStartAt: timestamp('sales_start_at', { withTimezone: true }),
    /** The waiting room's pace (null: no waiting room). */
    queueRatePerMinute: integer('queue_rate_per_minute'),
    admissionSeconds: integer('admission_seconds').notNull().default(600),
    /** The lottery of the early joiners has run: later joiners are numbered as they come. */
    queueDrawn: boolean('queue_drawn').notNull().default(false),
    /** Tickets given out (before the lottery: joiners so far). The line's row lock orders them. */
    queueIssued: integer('queue_issued').notNull().default(0),
    /** When the last ticket given out is admitted: the next one is due a pace's step after it. */
    queueLastAdmitAt: timestamp('queue_last_admit_at', { withTimezone: true }),
    /** Tickets counted into seatwatch_queue_admitted_total (by whichever process got there), and the count before that. */
    queueAdmitted: integer('queue_admitted').notNull().default(0),
    queueAdmittedBefore: integer('queue_admitted_before').notNull().default(0),
  },
  (table) => [
    check('events_queue_rate_range', sql`${table.queueRatePerMinute} between 1 and 100000`),
    check('events_admission_seconds_range', sql`${table.admissionSeconds} between 30 and 7200`),
    check('events_available_seats_non_negative', sql`${table.availableSeats} >= 0`),
    check('events_available_seats_within_capacity', sql`${table.availableSeats} <= ${table.capacity}`),
    check('events_held_seats_non_negative', sql`${table.heldSeats} >= 0`),
    check('events_available_and_held_within_capacity', sql`${table.availableSeats} + ${table.heldSeats} <= ${table.capacity}`),
    check('events_capacity_positive', sql`${table.capacity} >= 1`),
    check('events_status_known', sql`${table.status} in ('draft', 'published')`),
    index('events_organizer_idx').on(table.organizerId),
  ],
);

export const bookings = pgTable(
  'bookings',
  {
    id: serial('id').primaryKey(),
    eventId: integer('event_id')
      .notNull()
      .references(() => events.id),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id),
    quantity: integer('quantity').notNull(),
    status: varchar('status', { length: 16, enum: ['confirmed', 'cancelled'] }).notNull().default('confirmed'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    cancelledAt: timestamp('cancelled_at', { withTimezone: true }),
    idempotencyKey: varchar('idempotency_key', { length: 255 }),
    /** What the original request asked for, so a replay with another body is recognised. */
    requestFingerprint: text('request_fingerprint'),
    /** availableSeats as answered to the original request, replayed with the same key. */
    availableSeatsAfter: integer('available_seats_after'),
  },
  (table) => [
    check('bookings_quantity_range', sql`${table.quantity} between 1 and 10`),
    check('bookings_status_known', sql`${table.status} in ('confirmed', 'cancelled')`),
    uniqueIndex('bookings_user_idempotency_key_unique').on(table.userId, table.idempotencyKey),
    index('bookings_user_idx').on(table.userId, table.id),
    index('bookings_event_idx').on(table.eventId),
  ],
);

export const holds = pgTable(
  'holds',
  {
    id: serial('id').primaryKey(),
    eventId: integer('event_id')
      .notNull()
      .references(() => events.id),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id),
    quantity: integer('quantity').notNull(),
    status: varchar('status', { length: 16, enum: ['active', 'confirmed', 'released', 'expired'] }).notNull().default('active'),
    /** Set by the database's clock, so every process agrees on what has expired. */
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    extensions: integer('extensions').notNull().default(0),
    /** The owner was sent `hold_expiring` for the current expiresAt (cleared by an extension). */
    warned: boolean('warned').notNull().default(false),
    bookingId: integer('booking_id').references(() => bookings.id),
    idempotencyKey: varchar('idempotency_key', { length: 255 }),
    requestFingerprint: text('request_fingerprint'),
    availableSeatsAfter: integer('available_seats_after'),
  },
  (table) => [
    check('holds_quantity_range', sql`${table.quantity} between 1 and 10`),
    check('holds_status_known', sql`${table.status} in ('active', 'confirmed', 'released', 'expired')`),
    uniqueIndex('holds_user_idempotency_key_unique').on(table.userId, table.idempotencyKey),
    index('holds_user_idx').on(table.userId, table.id),
    // The sweep's read: active holds only, a small part of the table.
    index('holds_active_expiry_idx').on(table.expiresAt).where(sql`status = 'active'`),
  ],
);

/**
 * Seats each user holds on each event, kept in step with their active holds by the statements
 * that make, confirm, release and expire them. Its CHECK is the 10-seat limit (SPEC §8): two
 * holds racing past it cannot both commit.
 */
export const heldByUser = pgTable(
  'held_by_user',
  {
    userId: integer('user_id')
      .notNull()
      .references(() => users.id),
    eventId: integer('event_id')
      .notNull()
      .references(() => events.id),
    heldSeats: integer('held_seats').notNull(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.eventId] }), check('held_by_user_within_limit', sql`${table.heldSeats} between 0 and 10`)],
);

/**
 * An event's waiting line (SPEC §9). `ticket` is the place: drawn by lottery for those who joined
 * before the sale, then given in order of arrival. `admit_at` is when the ticket is admitted, set
 * with the ticket at the event's pace, so every process reads the same line from the database.
 * A place left after the lottery keeps its row (`left_at`), so the line's count never goes back.
 */
export const queueEntries = pgTable(
  'queue_entries',
  {
    id: serial('id').primaryKey(),
    eventId: integer('event_id')
      .notNull()
      .references(() => events.id),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id),
    ticket: integer('ticket'),
    joinedAt: timestamp('joined_at', { withTimezone: true }).notNull().defaultNow(),
    admitAt: timestamp('admit_at', { withTimezone: true }),
    leftAt: timestamp('left_at', { withTimezone: true }),
  },
  (table) => [
    uniqueIndex('queue_entries_user_in_line_unique').on(table.eventId, table.userId).where(sql`left_at is null`),
    uniqueIndex('queue_entries_ticket_unique').on(table.eventId, table.ticket),
    index('queue_entries_admit_idx').on(table.eventId, table.admitAt),
  ],
);

export type UserRow = typeof users.$inferSelect;
export type EventRow = typeof events.$inferSelect;
export type BookingRow = typeof bookings.$inferSelect;
export type HoldRow = typeof holds.$inferSelect;
export type QueueEntryRow = typeof queueEntries.$inferSelect;
