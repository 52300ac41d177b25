/**
 * The yardstick for `booking`: the same booking statement Seatwatch runs (conditional UPDATE
 * of the event feeding the INSERT of the booking, `pg_notify` with the feed's payload when the
 * server's feed uses it — see bookingStatement in src/services/booking.ts), straight on the
 * driver — postgres.js with the server's pool size, or PGlite in memory — with C concurrent
 * loops and no HTTP, JSON, auth or framework in between.
 */
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import postgres from 'postgres';
import { migrationsFolder } from '../src/db/client';
import { emitLine, serveCommands } from './child-protocol';
import { benchClockMs } from './clock';
import { isOversold } from './seat-audit';

/** The server's postgres.js pool size (src/db/client.ts default). */
const SERVER_POOL_SIZE = 10;
/** As many booking users as the HTTP run has (the two demo users). */
const BOOKING_USERS = 2;
const NOTIFY_CHANNEL = 'seatwatch_bench_baseline';

/** The seat feed's payload (encodeSeatChange in src/services/seat-feed-postgres.ts); $4 is the channel. */
const NOTIFY_COLUMN = `pg_notify($4, concat_ws(',', taken.id::text, 'booking_created'::text, taken.available_seats::text, taken.capacity::text, taken.version::text))`;
/** One statement, autocommitted: $1 event, $2 quantity, $3 user. */
const bookingStatement = (notify: boolean) => `with taken as (
    update events set available_seats = available_seats - $2::integer, version = version + 1
    where id = $1 and status = 'published' and available_seats >= $2::integer
    returning id, available_seats, capacity, version),
  booked as (
    insert into bookings (event_id, user_id, quantity, idempotency_key, request_fingerprint, available_seats_after)
    select id, $3, $2, null, null, available_seats from taken returning *)
  select booked.*, taken.available_seats, taken.capacity, taken.version${notify ? `, ${NOTIFY_COLUMN}` : ''}
  from booked cross join taken`;
const EXPLAIN_REFUSAL = `select status, available_seats from events where id = $1 limit 1`;

class SoldOut extends Error {}

interface Driver {
  query(text: string, params: unknown[]): Promise<Record<string, any>[]>;
  close(): Promise<void>;
}

async function openDriver(databaseUrl: string): Promise<Driver> {
  if (databaseUrl.startsWith('postgres')) {
    const sql = postgres(databaseUrl, { max: SERVER_POOL_SIZE, onnotice: () => {} });
    return {
      // Prepared, as the server's booking statement is (Drizzle's prepare() on postgres.js).
      query: (text, params) => sql.unsafe(text, params as never[], { prepare: true }) as Promise<Record<string, any>[]>,
      close: () => sql.end({ timeout: 5 }),
    };
  }
  const client = new PGlite();
  await client.waitReady;
  await migrate(drizzle({ client }), { migrationsFolder });
  return {
    query: async (text, params) => (await client.query<Record<string, any>>(text, params)).rows,
    close: () => client.close(),
  };
}

async function createEvent(driver: Driver, organizerId: number, capacity: number): Promise<number> {
  const [row] = await driver.query(
    `insert into events (name, venue, starts_at, capacity, available_seats, status, organizer_id)
     values ('Baseline on-sale', 'Bench Arena', now() + interval '30 days', $1, $1, 'published', $2) returning id`,
    [capacity, organizerId],
  );
  return row!.id;
}

async function run(args: { databaseUrl: string; concurrency: number; seats: number; notify: boolean; warmupSeats: number }) {
  const driver = await openDriver(args.databaseUrl);
  try {
    const userIds: number[] = [];
    for (let i = 0; i < BOOKING_USERS; i++) {
      const [row] = await driver.query(`insert into users (email, name, password_hash) values ($1, $2, 'not-a-login') returning id`, [
        `baseline-${process.pid}-${Date.now()}-${i}@example.com`,
        `Baseline ${i}`,
      ]);
      userIds.push(row!.id);
    }

    const statement = bookingStatement(args.notify);
    async function book(eventId: number, userId: number): Promise<void> {
      const [booked] = await driver.query(statement, args.notify ? [eventId, 1, userId, NOTIFY_CHANNEL] : [eventId, 1, userId]);
      if (booked) return;
      await driver.query(EXPLAIN_REFUSAL, [eventId]);
      throw new SoldOut();
    }

    async function sellOut(eventId: number) {
      const latenciesMs: number[] = [];
      let confirmed = 0;
      let soldOut = false;
      const startedAt = benchClockMs();
      await Promise.all(
        Array.from({ length: args.concurrency }, async (_, index) => {
          const userId = userIds[index % userIds.length]!;
          while (!soldOut) {
            const sentAt = benchClockMs();
            try {
              await book(eventId, userId);
              confirmed += 1;
              latenciesMs.push(benchClockMs() - sentAt);
            } catch (error) {
              if (!(error instanceof SoldOut)) throw error;
              soldOut = true;
            }
          }
        }),
      );
      return { confirmed, latenciesMs, elapsedMs: benchClockMs() - startedAt };
    }

    await sellOut(await createEvent(driver, userIds[0]!, args.warmupSeats));
    const eventId = await createEvent(driver, userIds[0]!, args.seats);
    const result = await sellOut(eventId);
    const [audit] = await driver.query(
      `select e.capacity, e.available_seats, coalesce(sum(b.quantity), 0)::int as confirmed_seats
       from events e left join bookings b on b.event_id = e.id and b.status = 'confirmed' where e.id = $1 group by e.id`,
      [eventId],
    );
    const oversold = isOversold(result.confirmed, args.seats, {
      capacity: audit!.capacity,
      availableSeats: audit!.available_seats,
      confirmedSeats: audit!.confirmed_seats,
    });
    return { ...result, oversold };
  } finally {
    await driver.close();
  }
}

emitLine({ ready: true });
await serveCommands({ run }, () => process.exit(0));
