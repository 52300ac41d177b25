/**
 * What NOTIFY costs: booking throughput with the PostgreSQL seat feed (pg_notify inside every
 * booking statement) against the in-process feed (nothing extra in the statement), in the
 * same run, on the same database, calling bookSeats directly — no HTTP, no WebSockets.
 *
 *   bun bench/notify-cost.ts [--concurrency 64] [--seconds 3] [--rounds 2] [--pool 16] [--json]
 *
 * Two shapes: `one-event` (every loop books the same event, the on-sale case: bookings already
 * queue on that event's row lock) and `many-events` (each loop its own event: no row contention,
 * so whatever serialises commits shows). Needs PostgreSQL: DATABASE_URL, else the local server.
 */
import { parseArgs } from 'node:util';
import { openDatabase, type DatabaseHandle } from '../src/db/client';
import { events, users } from '../src/db/schema';
import { createLogger } from '../src/lib/logger';
import { bookSeats } from '../src/services/booking';
import { createInProcessSeatFeed, type SeatFeed } from '../src/services/seat-feed';
import { createPostgresSeatFeed } from '../src/services/seat-feed-postgres';
import { createBenchDatabase } from './database';

const { values: options } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '2' },
    pool: { type: 'string', default: '16' },
    json: { type: 'boolean', default: false },
  },
});
const concurrency = Number(options.concurrency);
const seconds = Number(options.seconds);
const rounds = Number(options.rounds);
const poolSize = Number(options.pool);

type Shape = 'one-event' | 'many-events';

interface RunResult {
  shape: Shape;
  feed: SeatFeed['transport'];
  round: number;
  bookings: number;
  bookingsPerSec: number;
  latencyMsP50: number;
  latencyMsP99: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;

async function createEvents(database: DatabaseHandle, organizerId: number, count: number): Promise<number[]> {
  const rows = await database.db
    .insert(events)
    .values(Array.from({ length: count }, (_, i) => ({ name: `notify-cost ${i}`, startsAt: new Date('2030-01-01T20:00:00Z'), capacity: 1_000_000, availableSeats: 1_000_000, organizerId })))
    .returning({ id: events.id });
  return rows.map((row) => row.id);
}

/** `concurrency` loops booking one seat after another for `seconds`. */
async function run(database: DatabaseHandle, feed: SeatFeed, userIds: number[], eventIdOfLoop: (loop: number) => number): Promise<{ latencies: number[]; elapsedMs: number }> {
  const latencies: number[] = [];
  const startedAt = performance.now();
  const deadline = startedAt + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, loop) => {
      while (performance.now() < deadline) {
        const before = performance.now();
        await bookSeats(database.db, feed, { userId: userIds[loop % userIds.length]!, eventId: eventIdOfLoop(loop), quantity: 1 });
        latencies.push(performance.now() - before);
      }
    }),
  );
  return { latencies, elapsedMs: performance.now() - startedAt };
}

const benchDatabase = await createBenchDatabase('notify_cost', process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
if (benchDatabase.kind !== 'postgres') throw new Error('notify-cost needs PostgreSQL (DATABASE_URL=postgres://…)');
const database = await openDatabase(benchDatabase.url, { maxConnections: poolSize });
const results: RunResult[] = [];
let notificationsReceived = 0;
let bookingsOnPostgresFeed = 0;
try {
  const logger = createLogger('warn');
  const inProcess = createInProcessSeatFeed();
  const viaPostgres = await createPostgresSeatFeed(database, { logger, onReconnect: async () => {} });
  viaPostgres.subscribe(() => void notificationsReceived++);

  const userRows = await database.db
    .insert(users)
    .values(Array.from({ length: concurrency }, (_, i) => ({ email: `notify-cost-${i}@example.com`, passwordHash: 'not-a-real-hash' })))
    .returning({ id: users.id });
  const userIds = userRows.map((row) => row.id);
  const [sharedEvent] = await createEvents(database, userIds[0]!, 1);
  const eventPerLoop = await createEvents(database, userIds[0]!, concurrency);
  const shapes: Record<Shape, (loop: number) => number> = { 'one-event': () => sharedEvent!, 'many-events': (loop) => eventPerLoop[loop]! };

  // Warm the pool and the plans before measuring.
  await run(database, inProcess, userIds, shapes['many-events']).then(() => {});
  for (const shape of Object.keys(shapes) as Shape[]) {
    for (let round = 1; round <= rounds; round++) {
      // Alternating, so drift on a shared machine hits both feeds alike.
      for (const feed of [inProcess, viaPostgres]) {
        const { latencies, elapsedMs } = await run(database, feed, userIds, shapes[shape]);
        if (feed === viaPostgres) bookingsOnPostgresFeed += latencies.length;
        latencies.sort((x, y) => x - y);
        results.push({
          shape,
          feed: feed.transport,
          round,
          bookings: latencies.length,
          bookingsPerSec: Math.round((latencies.length / elapsedMs) * 1000),
          latencyMsP50: Math.round(percentile(latencies, 50) * 10) / 10,
          latencyMsP99: Math.round(percentile(latencies, 99) * 10) / 10,
        });
      }
    }
  }
  // Every committed booking on the PostgreSQL feed must have come back through LISTEN.
  const deadline = Date.now() + 5000;
  while (notificationsReceived < bookingsOnPostgresFeed && Date.now() < deadline) await Bun.sleep(20);
  await viaPostgres.close();
} finally {
  await database.close();
  await benchDatabase.drop();
}

const summary = (['one-event', 'many-events'] as Shape[]).map((shape) => {
  const mean = (feed: SeatFeed['transport']) => {
    const runs = results.filter((result) => result.shape === shape && result.feed === feed);
    return Math.round(runs.reduce((sum, result) => sum + result.bookingsPerSec, 0) / runs.length);
  };
  const inProcessPerSec = mean('in-process');
  const postgresPerSec = mean('postgres');
  return { shape, inProcessBookingsPerSec: inProcessPerSec, postgresBookingsPerSec: postgresPerSec, ratio: Math.round((postgresPerSec / inProcessPerSec) * 100) / 100 };
});

if (options.json) {
  console.log(JSON.stringify({ scenario: 'notify-cost', concurrency, seconds, rounds, pool: poolSize, runs: results, summary, notificationsReceived, bookingsOnPostgresFeed }));
} else {
  console.log(`notify-cost: ${concurrency} loops, ${seconds}s a run, ${rounds} rounds, pool ${poolSize}`);
  console.table(results);
  console.table(summary);
  console.log(`notifications received ${notificationsReceived} of ${bookingsOnPostgresFeed} bookings on the PostgreSQL feed`);
}
