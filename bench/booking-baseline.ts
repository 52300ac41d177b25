/**
 * The yardstick for `booking`: the same booking transaction Seatwatch runs (conditional UPDATE
 * of the event, INSERT of the booking, NOTIFY when the server's feed uses it), straight on the
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

/** The server's postgres.js pool size (src/db/client.ts default). */
const SERVER_POOL_SIZE = 10;
/** As many booking users as the HTTP run has (the two demo users). */
const BOOKING_USERS = 2;
const NOTIFY_CHANNEL = 'seatwatch_bench_baseline';

const TAKE_SEATS = `update events set available_seats = available_seats - $2::integer, version = version + 1
  where id = $1 and status = 'published' and available_seats >= $2::integer
  returning available_seats, capacity, version`;
const EXPLAIN_REFUSAL = `select status, available_seats from events where id = $1 limit 1`;
const RECORD_BOOKING = `insert into bookings (event_id, user_id, quantity, idempotency_key, request_fingerprint, available_seats_after)
  values ($1, $2, $3, null, null, $4) returning *`;
const NOTIFY = `select pg_notify($1, $2)`;

class SoldOut extends Error {}

interface Driver {
  query(text: string, params: unknown[]): Promise<Record<string, any>[]>;
  /** Runs fn in one transaction. */
  transaction<T>(fn: (query: Driver['query']) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

async function openDriver(databaseUrl: string): Promise<Driver> {
  if (databaseUrl.startsWith('postgres')) {
    const sql = postgres(databaseUrl, { max: SERVER_POOL_SIZE, onnotice: () => {} });
    return {
      query: (text, params) => sql.unsafe(text, params as never[]) as Promise<Record<string, any>[]>,
      transaction: (fn) => sql.begin((tx) => fn((text, params) => tx.unsafe(text, params as never[]) as Promise<Record<string, any>[]>)) as Promise<never>,
      close: () => sql.end({ timeout: 5 }),
    };
  }
  const client = new PGlite();
  await client.waitReady;
  await migrate(drizzle({ client }), { migrationsFolder });
  return {
    query: async (text, params) => (await client.query<Record<string, any>>(text, params)).rows,
    transaction: (fn) => client.transaction((tx) => fn(async (text, params) => (await tx.query<Record<string, any>>(text, params)).rows)),
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

    async function book(eventId: number, userId: number): Promise<void> {
      await driver.transaction(async (query) => {
        const [seats] = await query(TAKE_SEATS, [eventId, 1]);
        if (!seats) {
          await query(EXPLAIN_REFUSAL, [eventId]);
          throw new SoldOut();
        }
        await query(RECORD_BOOKING, [eventId, userId, 1, seats.available_seats]);
        if (args.notify) {
          const payload = JSON.stringify({ eventId, kind: 'booking_created', availableSeats: seats.available_seats, capacity: seats.capacity, version: seats.version });
          await query(NOTIFY, [NOTIFY_CHANNEL, payload]);
        }
      });
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
    const oversold =
      result.confirmed > args.seats || audit!.available_seats < 0 || audit!.confirmed_seats > audit!.capacity || audit!.available_seats + audit!.confirmed_seats !== audit!.capacity;
    return { ...result, oversold };
  } finally {
    await driver.close();
  }
}

emitLine({ ready: true });
await serveCommands({ run }, () => process.exit(0));
