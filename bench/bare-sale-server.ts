/**
 * The yardstick for `selloff`: the least a server on this stack can do for an on-sale spike.
 * Bare `Bun.serve`; `POST /api/bookings` runs Seatwatch's booking statement straight on the
 * driver (bare-booking.ts: postgres.js with the server's pool size, or PGlite in this process),
 * with no auth, validation, framework or NOTIFY; each committed change is published on one topic
 * under the same coalescing rule as Seatwatch (SPEC §3: the first change of a quiet spell at
 * once, then at most one message per FANOUT_COALESCE_MS carrying the latest state). Watchers
 * connect to `/ws/events/:id` and get the same snapshot and message shapes, so the same watcher
 * client and the same measurements serve both servers. Answers the commands the selloff
 * scenario sends a Seatwatch server (server-process.ts), plus `create-event` and `event`.
 *
 * The yardstick for `onsale` too: `open-line` gives an event a waiting line held in this
 * process's memory, with users of its own (`create-line-users`, the user id as token). Joining,
 * the place, and the booking gate answer as SPEC §9 does; at `salesStartAt` the joiners are
 * shuffled into tickets, and `queue_progress` goes to every watcher on the clock's whole
 * seconds and at the last ticket's admission, as Seatwatch sends it. The line costs nothing but
 * the messages: what is left is what the sale's fan-out costs on this machine.
 */
import { auditBareSeats, bookingStatement, EXPLAIN_REFUSAL, insertBareEvent, insertBareUsers, openBareDriver } from './bare-booking';
import { emitLine, serveCommands, trackPeakRss } from './child-protocol';
import { benchClockMs } from './clock';
import { COMMIT_CLOCK_INSTALL, commitClockRead, commitTimesOf } from './commit-clock';
import { createHeardTimes } from './heard-times';
import { recordPublishes } from './publish-log';

interface SeatState {
  eventId: number;
  availableSeats: number;
  capacity: number;
  version: number;
}

const databaseUrl = process.env.DATABASE_URL ?? 'memory://';
const windowMs = Number(process.env.FANOUT_COALESCE_MS ?? 50);
const driver = await openBareDriver(databaseUrl, { migrate: true });
const [organizerId] = await insertBareUsers(driver, 1);
const statement = bookingStatement(false);

const topicOf = (eventId: number) => `event:${eventId}`;
const messageOf = (state: SeatState) =>
  `{"type":"booking_created","eventId":${state.eventId},"availableSeats":${state.availableSeats},"capacity":${state.capacity},"version":${state.version}}`;

/** The newest committed state of each event this process knows, what its snapshots show. */
const latest = new Map<number, SeatState>();
const lastSentAt = new Map<number, number>();
const windowTimers = new Map<number, ReturnType<typeof setTimeout>>();
/** When this process read each version's commit (the statement's result): "the server heard". */
const heardTimes = createHeardTimes();
let openSockets = 0;

interface Line {
  eventId: number;
  salesStartAtMs: number;
  stepMs: number;
  ratePerMinute: number;
  joined: number[];
  tickets: Map<number, number>;
}
let line: Line | null = null;
const admitAtOf = (open: Line, ticket: number) => open.salesStartAtMs + (ticket - 1) * open.stepMs;
const progressOf = (open: Line) => {
  const now = Date.now();
  const servingThrough = now < open.salesStartAtMs ? 0 : Math.min(open.tickets.size, Math.floor((now - open.salesStartAtMs) / open.stepMs) + 1);
  return { servingThrough, waiting: (open.tickets.size || open.joined.length) - servingThrough };
};
const bearerOf = (request: Request) => Number(request.headers.get('authorization')?.replace('Bearer ', ''));

/** SPEC §9's answers to joining and to the place, for the one line; null for any other request. */
function answerQueue(request: Request, url: URL): Response | null {
  const queued = /^\/api\/events\/(\d+)\/queue$/.exec(url.pathname);
  if (!line || !queued || Number(queued[1]) !== line.eventId) return null;
  const userId = bearerOf(request);
  if (request.method === 'POST') {
    if (!line.joined.includes(userId)) line.joined.push(userId);
    return Response.json({ queue: { eventId: line.eventId, ticket: null, position: null, status: 'waiting' } });
  }
  const ticket = line.tickets.get(userId) ?? null;
  const admittedAt = ticket === null ? null : new Date(admitAtOf(line, ticket)).toISOString();
  return Response.json({ queue: { eventId: line.eventId, ticket, status: ticket !== null && ticket <= progressOf(line).servingThrough ? 'admitted' : 'waiting', admittedAt } });
}

/** SPEC §9's gate for a booking of the line's event: the refusal, or null when `userId` may book. */
function refusedAtGate(open: Line, userId: number): Response | null {
  if (Date.now() < open.salesStartAtMs) return Response.json({ error: { code: 'sales_not_started' } }, { status: 409 });
  const ticket = open.tickets.get(userId);
  if (ticket === undefined || ticket > progressOf(open).servingThrough) return Response.json({ error: { code: 'not_admitted' } }, { status: 403 });
  return null;
}

/** The lottery at salesStartAt, then the line's progress on the clock's whole seconds and at its last admission. */
function runLine(open: Line): void {
  const publishProgress = () => server.publish(topicOf(open.eventId), JSON.stringify({ type: 'queue_progress', eventId: open.eventId, ...progressOf(open), ratePerMinute: open.ratePerMinute }));
  const lastAdmissionAt = () => admitAtOf(open, open.tickets.size);
  function next(): void {
    publishProgress();
    const now = Date.now();
    if (now >= lastAdmissionAt()) return;
    let at = now - (now % 1000) + 1005;
    if (lastAdmissionAt() > now + 1000 && lastAdmissionAt() < now + 2000) at = lastAdmissionAt() + 5;
    setTimeout(next, at - now);
  }
  setTimeout(() => {
    const order = [...open.joined];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    order.forEach((userId, index) => open.tickets.set(userId, index + 1));
    next();
  }, open.salesStartAtMs - Date.now());
}

const server = Bun.serve<{ eventId: number }>({
  port: 0,
  hostname: '127.0.0.1',
  async fetch(request, bunServer) {
    const url = new URL(request.url);
    const watched = /^\/ws\/events\/(\d+)$/.exec(url.pathname);
    if (watched) {
      if (bunServer.upgrade(request, { data: { eventId: Number(watched[1]) } })) return undefined;
      return new Response('upgrade failed', { status: 400 });
    }
    const queueAnswer = answerQueue(request, url);
    if (queueAnswer) return queueAnswer;
    if (url.pathname === '/api/bookings' && request.method === 'POST') {
      const { eventId, quantity } = (await request.json()) as { eventId: number; quantity: number };
      // A line's buyers book as themselves, past its gate; any other booking as the organizer.
      const lineOfEvent = line?.eventId === eventId ? line : null;
      const buyerId = lineOfEvent ? bearerOf(request) : organizerId!;
      const refusal = lineOfEvent && refusedAtGate(lineOfEvent, buyerId);
      if (refusal) return refusal;
      const [booked] = await driver.query(statement, [eventId, quantity, buyerId]);
      if (!booked) {
        await driver.query(EXPLAIN_REFUSAL, [eventId]);
        return Response.json({ error: { code: 'sold_out' } }, { status: 409 });
      }
      const state = { eventId, availableSeats: booked.available_seats, capacity: booked.capacity, version: booked.version };
      committed(state);
      return Response.json({ availableSeats: state.availableSeats, version: state.version, booking: { createdAt: new Date().toISOString() } }, { status: 201 });
    }
    return new Response('not found', { status: 404 });
  },
  websocket: {
    open(ws) {
      openSockets += 1;
      ws.subscribe(topicOf(ws.data.eventId));
      const state = latest.get(ws.data.eventId);
      const queue = line?.eventId === ws.data.eventId ? `,"servingThrough":${progressOf(line).servingThrough}` : '';
      ws.send(`{"type":"subscribed","eventId":${ws.data.eventId},"availableSeats":${state?.availableSeats ?? 0},"capacity":${state?.capacity ?? 0},"version":${state?.version ?? 0}${queue}}`);
    },
    message() {},
    close() {
      openSockets -= 1;
    },
  },
});
const publishedTo = recordPublishes(server, benchClockMs);

function committed(state: SeatState): void {
  heardTimes.record(state.eventId, state.version);
  // Results of the pool's connections may come back out of commit order: only newer states count.
  if ((latest.get(state.eventId)?.version ?? -1) >= state.version) return;
  latest.set(state.eventId, state);
  if (windowTimers.has(state.eventId)) return; // the window's end sends the latest
  const wait = (lastSentAt.get(state.eventId) ?? -Infinity) + windowMs - performance.now();
  if (wait <= 0) publishLatest(state.eventId);
  else windowTimers.set(state.eventId, setTimeout(() => publishLatest(state.eventId), wait));
}

function publishLatest(eventId: number): void {
  windowTimers.delete(eventId);
  lastSentAt.set(eventId, performance.now());
  server.publish(topicOf(eventId), messageOf(latest.get(eventId)!));
}

emitLine({ ready: true, port: server.port });

const peakRss = trackPeakRss();

await serveCommands(
  {
    'create-event': async (args: { seats: number }) => {
      const event = await insertBareEvent(driver, organizerId!, args.seats);
      latest.set(event.id, { eventId: event.id, availableSeats: event.availableSeats, capacity: event.capacity, version: event.version });
      return event;
    },
    event: async (args: { eventId: number }) => {
      const [row] = await driver.query(`select id, capacity, available_seats, version from events where id = $1`, [args.eventId]);
      if (!row) throw new Error(`event ${args.eventId} not found`);
      return { id: row.id, capacity: row.capacity, availableSeats: row.available_seats, version: row.version };
    },
    'create-line-users': async (args: { count: number }) => (await insertBareUsers(driver, args.count)).map((id): [number, string] => [id, String(id)]),
    /** A line on the event, its sale not yet announced; `start-line` sets salesStartAt, as the organizer's edit does. */
    'open-line': (args: { eventId: number; ratePerMinute: number }) => {
      line = { ...args, salesStartAtMs: Infinity, stepMs: 60_000 / args.ratePerMinute, joined: [], tickets: new Map() };
      return null;
    },
    'start-line': (args: { salesStartAtMs: number }) => {
      line!.salesStartAtMs = args.salesStartAtMs;
      runLine(line!);
      return null;
    },
    ...peakRss.commands,
    connections: () => ({ connections: openSockets }),
    cpu: () => process.cpuUsage(),
    commits: (args: { eventId: number }) => heardTimes.of(args.eventId),
    // Publishes are always recorded here: one message per window costs the log nothing measurable.
    'record-publishes': () => null,
    publishes: (args: { eventId: number }) => publishedTo(args.eventId),
    'published-version': (args: { eventId: number }) => ({ version: publishedTo(args.eventId).at(-1)?.[1] ?? 0 }),
    'commit-clock-install': async () => {
      for (const statement of COMMIT_CLOCK_INSTALL) await driver.query(statement, []);
      return null;
    },
    'commit-clock-read': async (args: { eventId: number }) => commitTimesOf(await driver.query(commitClockRead(args.eventId), [])),
    'seat-audit': (args: { eventId: number }) => auditBareSeats(driver, args.eventId),
  },
  async () => {
    peakRss.stop();
    for (const timer of windowTimers.values()) clearTimeout(timer);
    await server.stop(true);
    await driver.close();
    process.exit(0);
  },
);
