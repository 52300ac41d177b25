import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, serial, text, timestamp, uniqueIndex, varchar } from 'drizzle-orm/pg-core';

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
    status: varchar('status', { length: 16, enum: ['draft', 'published'] }).notNull().default('published'),
    organizerId: integer('organizer_id')
      .notNull()
      .references(() => users.id),
    /** Bumped by one in the same transaction as every seat change; orders the live feed. */
    version: integer('version').notNull().default(1),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    check('events_available_seats_non_negative', sql`${table.availableSeats} >= 0`),
    check('events_available_seats_within_capacity', sql`${table.availableSeats} <= ${table.capacity}`),
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

export type UserRow = typeof users.$inferSelect;
export type EventRow = typeof events.$inferSelect;
export type BookingRow = typeof bookings.$inferSelect;
