/**
 * What the bare baselines share: the booking statement Seatwatch runs (bookingStatement in
 * src/services/booking.ts), written out by hand, on the bare driver — postgres.js with the
 * server's pool size, or in-memory PGlite on a thread of its own as the server runs it
 * (src/db/pglite-thread.ts) — with no HTTP, JSON, auth or framework in between.
 */
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { migrationsFolder } from '../src/db/client';
import { PgliteThread } from '../src/db/pglite-thread';
import type { SeatAudit } from './seat-audit';

/** The server's postgres.js pool size (src/db/client.ts default). */
const SERVER_POOL_SIZE = 10;

/** The seat feed's payload (encodeSeatChange in src/services/seat-feed-postgres.ts); $4 is the channel. */
const NOTIFY_COLUMN = `pg_notify($4, concat_ws(',', taken.id::text, 'booking_created'::text, taken.available_seats::text, taken.capacity::text, taken.version::text))`;

/** One statement, autocommitted: $1 event, $2 quantity, $3 user (and $4 the channel when notifying). */
export const bookingStatement = (notify: boolean) => `with taken as (
    update events set available_seats = available_seats - $2::integer, version = version + 1
    where id = $1 and status = 'published' and available_seats >= $2::integer
    returning id, available_seats, capacity, version),
  booked as (
    insert into bookings (event_id, user_id, quantity, idempotency_key, request_fingerprint, available_seats_after)
    select id, $3, $2, null, null, available_seats from taken returning *)
  select booked.*, taken.available_seats, taken.capacity, taken.version${notify ? `, ${NOTIFY_COLUMN}` : ''}
  from booked cross join taken`;

/** What Seatwatch reads after a refused booking, to say why. */
export const EXPLAIN_REFUSAL = `select status, available_seats from events where id = $1 limit 1`;

export interface BareDriver {
  query(text: string, params: unknown[]): Promise<Record<string, any>[]>;
  close(): Promise<void>;
}

/**
 * Opens the driver. On PostgreSQL `migrate` applies the project's migrations first (a fresh
 * database); an in-memory PGlite always starts empty and is always migrated.
 */
export async function openBareDriver(databaseUrl: string, options: { migrate: boolean }): Promise<BareDriver> {
  if (databaseUrl.startsWith('postgres')) {
    if (options.migrate) {
      const migrator = postgres(databaseUrl, { max: 1, onnotice: () => {} });
      await migratePostgres(drizzlePostgres({ client: migrator }), { migrationsFolder });
      await migrator.end();
    }
    const sql = postgres(databaseUrl, { max: SERVER_POOL_SIZE, onnotice: () => {} });
    return {
      // Prepared, as the server's booking statement is (Drizzle's prepare() on postgres.js).
      query: (text, params) => sql.unsafe(text, params as never[], { prepare: true }) as Promise<Record<string, any>[]>,
      close: () => sql.end({ timeout: 5 }),
    };
  }
  const client = new PgliteThread(undefined, migrationsFolder);
  await client.waitReady;
  return {
    query: async (text, params) => (await client.query<Record<string, any>>(text, params)).rows,
    close: () => client.close(),
  };
}

/** `count` users in one statement (no login: the bare servers take any token). */
export async function insertBareUsers(driver: BareDriver, count: number): Promise<number[]> {
  const rows = await driver.query(
    `insert into users (email, name, password_hash)
     select 'baseline-' || $2::text || '-' || g || '@example.com', 'Baseline ' || g, 'not-a-login' from generate_series(1, $1::integer) g
     returning id`,
    [count, `${process.pid}-${Date.now()}`],
  );
  return rows.map((row) => row.id as number);
}

export async function insertBareEvent(driver: BareDriver, organizerId: number, capacity: number) {
  const [row] = await driver.query(
    `insert into events (name, venue, starts_at, capacity, available_seats, status, organizer_id)
     values ('Baseline on-sale', 'Bench Arena', now() + interval '30 days', $1, $1, 'published', $2)
     returning id, capacity, available_seats, version`,
    [capacity, organizerId],
  );
  return { id: row!.id as number, capacity: row!.capacity as number, availableSeats: row!.available_seats as number, version: row!.version as number };
}

export async function auditBareSeats(driver: BareDriver, eventId: number): Promise<SeatAudit> {
  const [audit] = await driver.query(
    `select e.capacity, e.available_seats, coalesce(sum(b.quantity), 0)::int as confirmed_seats
     from events e left join bookings b on b.event_id = e.id and b.status = 'confirmed' where e.id = $1 group by e.id`,
    [eventId],
  );
  if (!audit) throw new Error(`event ${eventId} not found`);
  return { capacity: audit.capacity, availableSeats: audit.available_seats, confirmedSeats: audit.confirmed_seats };
}
