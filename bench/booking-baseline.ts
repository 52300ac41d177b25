/**
 * The yardstick for `booking`: the same booking statement Seatwatch runs (conditional UPDATE
 * of the event feeding the INSERT of the booking, `pg_notify` with the feed's payload when the
 * server's feed uses it — see bare-booking.ts), straight on the driver with C concurrent loops
 * and no HTTP, JSON, auth or framework in between.
 */
import { auditBareSeats, bookingStatement, EXPLAIN_REFUSAL, insertBareEvent, insertBareUsers, openBareDriver } from './bare-booking';
import { emitLine, serveCommands } from './child-protocol';
import { benchClockMs } from './clock';
import { isOversold } from './seat-audit';

/** As many booking users as the HTTP run has (the two demo users). */
const BOOKING_USERS = 2;
const NOTIFY_CHANNEL = 'seatwatch_bench_baseline';

class SoldOut extends Error {}

async function run(args: { databaseUrl: string; concurrency: number; seats: number; notify: boolean; warmupSeats: number }) {
  // On PostgreSQL the Seatwatch server already migrated this database; in-memory PGlite starts empty.
  const driver = await openBareDriver(args.databaseUrl, { migrate: false });
  try {
    const userIds = await insertBareUsers(driver, BOOKING_USERS);
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

    await sellOut((await insertBareEvent(driver, userIds[0]!, args.warmupSeats)).id);
    const eventId = (await insertBareEvent(driver, userIds[0]!, args.seats)).id;
    const result = await sellOut(eventId);
    const oversold = isOversold(result.confirmed, args.seats, await auditBareSeats(driver, eventId));
    return { ...result, oversold };
  } finally {
    await driver.close();
  }
}

emitLine({ ready: true });
await serveCommands({ run }, () => process.exit(0));
