/**
 * A Seatwatch server in its own process, started by the bench runner with the environment it
 * needs (PORT=0, DATABASE_URL, FANOUT_COALESCE_MS, …). Prints `{ready, port}` on stdout, then
 * answers the runner's commands: memory, CPU, commit times of seat changes, a seat audit, and
 * accounts made in bulk (onsale).
 */
import { and, eq, sql } from 'drizzle-orm';
import { loadConfig } from '../src/config';
import { bookings, events, holds, users } from '../src/db/schema';
import { createLogger } from '../src/lib/logger';
import { hashPassword } from '../src/lib/password';
import { createTokens } from '../src/lib/tokens';
import { startServer } from '../src/server';
import { emitLine, serveCommands, trackPeakRss } from './child-protocol';
import { benchClockMs } from './clock';
import { COMMIT_CLOCK_INSTALL, commitClockRead, commitTimesOf } from './commit-clock';
import { createHeardTimes } from './heard-times';
import { recordPublishes } from './publish-log';
import { countPublishTurns } from './publish-turns';

const config = loadConfig(process.env);
// stdout is the command channel, so the server's log lines go to stderr.
const logger = createLogger(config.logLevel, (line) => process.stderr.write(line + '\n'));
const server = await startServer(config, { logger });
const publishTurns = countPublishTurns(server.app.server!);
/** Set by `record-publishes` (selloff): the log's parse of every message is kept off the other scenarios. */
let publishedTo: ((eventId: number) => [number, number][]) | null = null;

/**
 * When this server heard of each version's commit: when the change left the seat feed for the
 * WebSocket manager (selloff takes the earlier of that and the booker's HTTP response).
 */
const heardTimes = createHeardTimes();
server.seatFeed.subscribe((change) => {
  if ('version' in change) heardTimes.record(change.eventId, change.version);
});

/** holds: when this server heard of each `seats_released` (version, heldSeats after it, time), per event. */
const releasesHeard = new Map<number, [number, number, number][]>();
server.seatFeed.subscribe((change) => {
  if (change.kind !== 'seats_released') return;
  const heard = releasesHeard.get(change.eventId) ?? [];
  heard.push([change.version, change.heldSeats, benchClockMs()]);
  releasesHeard.set(change.eventId, heard);
});

emitLine({ ready: true, port: server.port });

const peakRss = trackPeakRss();

const { db } = server.database;
const USERS_PER_INSERT = 1_000;

await serveCommands(
  {
    ...peakRss.commands,
    cpu: () => process.cpuUsage(),
    'publish-turns': publishTurns,
    connections: () => ({ connections: server.websocket.clients.size }),
    commits: (args: { eventId: number }) => heardTimes.of(args.eventId),
    'record-publishes': () => {
      publishedTo ??= recordPublishes(server.app.server!, benchClockMs);
      return null;
    },
    publishes: (args: { eventId: number }) => publishedTo?.(args.eventId) ?? [],
    /** The newest version published for the event (0 before any): cheap to poll while the fan-out runs. */
    'published-version': (args: { eventId: number }) => ({ version: publishedTo?.(args.eventId).at(-1)?.[1] ?? 0 }),
    'commit-clock-install': async () => {
      for (const statement of COMMIT_CLOCK_INSTALL) await db.execute(sql.raw(statement));
      return null;
    },
    'commit-clock-read': async (args: { eventId: number }) => {
      const result: unknown = await db.execute(sql.raw(commitClockRead(args.eventId)));
      // postgres.js answers an array of rows, PGlite `{rows}`.
      return commitTimesOf(Array.isArray(result) ? result : (result as { rows: Record<string, unknown>[] }).rows);
    },
    'seat-audit': async (args: { eventId: number }) => {
      const [event] = await db
        .select({ capacity: events.capacity, availableSeats: events.availableSeats, heldSeats: events.heldSeats, version: events.version })
        .from(events)
        .where(eq(events.id, args.eventId));
      const [booked] = await db
        .select({ confirmedSeats: sql<number>`coalesce(sum(${bookings.quantity}), 0)::int`, confirmedBookings: sql<number>`count(*)::int` })
        .from(bookings)
        .where(and(eq(bookings.eventId, args.eventId), eq(bookings.status, 'confirmed')));
      if (!event || !booked) throw new Error(`event ${args.eventId} not found`);
      return { ...event, confirmedSeats: Number(booked.confirmedSeats), confirmedBookings: Number(booked.confirmedBookings) };
    },
    /**
     * onsale: `count` accounts straight in this throwaway database, all with one argon2 hash of
     * "password", and a token for each signed with this server's secret — what registering does,
     * without 10,000 hashes at ~200 ms of CPU each. `[userId, token][]`.
     */
    'create-users': async (args: { count: number; label: string }) => {
      const passwordHash = await hashPassword('password');
      const signer = createTokens(config.jwtSecret, config.jwtExpiresInSeconds);
      const made: [number, string][] = [];
      for (let from = 0; from < args.count; from += USERS_PER_INSERT) {
        const rows = await db
          .insert(users)
          .values(
            Array.from({ length: Math.min(USERS_PER_INSERT, args.count - from) }, (_, k) => ({
              email: `${args.label}-${from + k}@bench.example`,
              name: `${args.label} ${from + k}`,
              passwordHash,
            })),
          )
          .returning({ id: users.id, email: users.email, name: users.name });
        for (const row of rows) made.push([row.id, await signer.sign(row)]);
      }
      return made;
    },
    'releases-heard': (args: { eventId: number }) => releasesHeard.get(args.eventId) ?? [],
    /** holds: the event's holds by status, `[status, holds][]`. */
    'hold-audit': async (args: { eventId: number }) => {
      const rows = await db
        .select({ status: holds.status, count: sql<number>`count(*)::int` })
        .from(holds)
        .where(eq(holds.eventId, args.eventId))
        .groupBy(holds.status);
      return rows.map((row) => [row.status, Number(row.count)]);
    },
  },
  async () => {
    peakRss.stop();
    await server.stop();
    process.exit(0);
  },
);
