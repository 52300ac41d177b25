import { afterEach, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import postgres from 'postgres';
import { events, queueEntries } from '../../src/db/schema';
import { createTokens } from '../../src/lib/tokens';
import { createEvent } from '../../src/services/event';
import { drawIfDue, getQueueEntry, joinQueue } from '../../src/services/queue';
import { createTestDatabaseUrl, sayNeedsPostgres, usingPostgres } from '../support/database';
import { openTestDatabase } from '../support/server';
import { callProcess, killServerProcesses, registerOn, startServerProcess, type ListeningServerProcess } from '../support/server-process';
import { insertUsers, readEventRow } from '../support/services';
import { connect, waitFor, type TestSocket } from '../support/ws';

/**
 * SPEC §9's waiting room with real server processes on one database: the lottery drawn once
 * however many processes race for it, the pace and the progress counted across processes, and
 * an admission that holds whichever process the buyer reaches. On PGlite (one process) the race
 * is run in-process, and admission with one process playing both parts.
 */

const JWT_SECRET = 'queue-process-test-secret-of-at-least-32-characters';
const scratchDirs: string[] = [];

afterEach(() => {
  killServerProcesses();
  for (const dir of scratchDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

type Server = ListeningServerProcess;

/** Where server processes keep their data: a fresh PostgreSQL database, or PGlite under a scratch directory. */
async function freshStorage(): Promise<{ env: Record<string, string>; cwd?: string; databaseUrl?: string }> {
  if (usingPostgres()) {
    const databaseUrl = await createTestDatabaseUrl();
    return { env: { DATABASE_URL: databaseUrl }, databaseUrl };
  }
  const cwd = mkdtempSync(join(tmpdir(), 'seatwatch-queue-'));
  scratchDirs.push(cwd);
  return { env: {}, cwd };
}

/** `count` server processes on one PostgreSQL database, each on a port of its own: the first migrates, the others then start together. */
async function startProcesses(databaseUrl: string, count: number): Promise<Server[]> {
  const env = { DATABASE_URL: databaseUrl, JWT_SECRET, LOG_LEVEL: 'info' };
  const first = await startServerProcess(env);
  const others = await Promise.all(Array.from({ length: count - 1 }, () => startServerProcess(env)));
  return [first, ...others];
}

async function stopAll(servers: Server[]): Promise<void> {
  for (const server of servers) server.child.kill('SIGTERM');
  for (const server of servers) expect(await server.child.exited).toBe(0);
}

/**
 * Many buyers at once without an argon2 hash each: rows inserted straight into the database,
 * tokens signed with the servers' JWT_SECRET (the servers check that the account exists).
 */
async function insertBuyers(databaseUrl: string, count: number): Promise<{ userId: number; token: string }[]> {
  const inspector = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const stamp = `${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
    const rows = await inspector<{ id: number; email: string }[]>`
      insert into users ${inspector(Array.from({ length: count }, (_, index) => ({ email: `buyer-${stamp}-${index}@example.com`, password_hash: 'not-a-real-hash' })))}
      returning id, email`;
    const tokens = createTokens(JWT_SECRET, 3_600);
    return Promise.all(rows.map(async (row) => ({ userId: row.id, token: await tokens.sign({ id: row.id, email: row.email, name: null }) })));
  } finally {
    await inspector.end();
  }
}

/** An event with a line whose sales open in an hour: time enough for everyone to join, however busy the machine. */
async function createLineEvent(server: Server, token: string, fields: { capacity: number; queueRatePerMinute: number; admissionSeconds?: number }): Promise<{ id: number; salesStartAt: string }> {
  const salesStartAt = new Date(Date.now() + 3_600_000).toISOString();
  const answer = await callProcess(server, 'POST', '/api/events', token, { name: 'Waiting room in processes', startsAt: '2031-01-01T20:00:00Z', salesStartAt, ...fields });
  expect(answer.status).toBe(201);
  expect(answer.body.event).toMatchObject({ salesStartAt, queueRatePerMinute: fields.queueRatePerMinute });
  return answer.body.event;
}

/** The organizer brings the opening forward to `inMs` from now (PATCH): the lottery's moment. */
async function openSalesIn(server: Server, token: string, eventId: number, inMs: number): Promise<Date> {
  const salesStartAt = new Date(Date.now() + inMs);
  const answer = await callProcess(server, 'PATCH', `/api/events/${eventId}`, token, { salesStartAt: salesStartAt.toISOString() });
  expect(answer.status).toBe(200);
  expect(answer.body.event.salesStartAt).toBe(salesStartAt.toISOString());
  return salesStartAt;
}

/** A counter as this process's /metrics shows it. */
async function metric(server: Server, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  const line = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  if (!line) throw new Error(`no ${name} in /metrics of port ${server.port}`);
  return Number(line[1]);
}

const sumOver = async (servers: Server[], name: string) => (await Promise.all(servers.map((server) => metric(server, name)))).reduce((sum, value) => sum + value, 0);

/** Polls an asynchronous condition. */
async function until(condition: () => Promise<boolean>, timeoutMs: number, label: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}`);
    await Bun.sleep(20);
  }
}

const permutation = (count: number) => Array.from({ length: count }, (_, index) => index + 1);
const ascending = (values: number[]) => [...values].sort((a, b) => a - b);
/** Wall-clock time (as Date.now() counts it) of a TestSocket's `receivedAt` stamp. */
const wallClock = (stamp: number) => stamp + (Date.now() - performance.now());
/** SPEC §9's bound on the tickets admitted by `at`: ticket 1 goes at `start`, then `ratePerMinute` a minute. */
const admissibleBy = (at: number, start: number, ratePerMinute: number) => (at < start ? 0 : Math.floor(((at - start) * ratePerMinute) / 60_000) + 1);

test('the lottery raced by four concurrent drawIfDue calls on one database: one draws 1..200 in random order, the others find it drawn (null)', async () => {
  const database = await openTestDatabase();
  try {
    const { db } = database;
    const [organizerId, ...buyerIds] = (await insertUsers(db, `queue-race-${Date.now()}`, 201)) as [number, ...number[]];
    // Far in the future while they join, so no join draws; then moved to now, as if the moment came.
    const event = await createEvent(db, organizerId, {
      name: 'Lottery race',
      startsAt: new Date('2031-01-01T20:00:00Z'),
      capacity: 500,
      salesStartAt: new Date(Date.now() + 3_600_000),
      queueRatePerMinute: 600,
    });
    for (const { queue, joined } of await Promise.all(buyerIds.map((buyerId) => joinQueue(db, event.id, buyerId)))) {
      expect(joined).toBe(true);
      expect(queue).toMatchObject({ ticket: null, position: null, status: 'waiting', admittedAt: null });
    }
    const [{ salesStartAt }] = (await db
      .update(events)
      .set({ salesStartAt: sql`now()` })
      .where(eq(events.id, event.id))
      .returning({ salesStartAt: events.salesStartAt })) as [{ salesStartAt: Date }];

    const outcomes = await Promise.all(Array.from({ length: 4 }, () => drawIfDue(db, event.id)));
    expect(outcomes.filter((outcome) => outcome !== null)).toEqual([200]);
    expect(outcomes.filter((outcome) => outcome === null)).toHaveLength(3);
    // Once drawn, never again.
    expect(await drawIfDue(db, event.id)).toBeNull();

    const rows = await db.select().from(queueEntries).where(eq(queueEntries.eventId, event.id)).orderBy(queueEntries.id);
    expect(rows).toHaveLength(200);
    expect(ascending(rows.map((row) => row.ticket!))).toEqual(permutation(200));
    // Random, not the order of joining (the two agree once in 200! draws).
    expect(rows.map((row) => row.ticket)).not.toEqual(permutation(200));
    // A step of 100 ms (600 a minute) from salesStartAt, in ticket order.
    for (const row of rows) expect(row.admitAt!.getTime()).toBe(salesStartAt.getTime() + (row.ticket! - 1) * 100);
    expect(await readEventRow(db, event.id)).toMatchObject({ queueDrawn: true, queueIssued: 200, queueLastAdmitAt: new Date(salesStartAt.getTime() + 199 * 100) });
    // What each buyer is told is the drawn ticket.
    for (const row of rows.slice(0, 20)) expect((await getQueueEntry(db, event.id, row.userId))!.ticket).toBe(row.ticket);
  } finally {
    await database.close();
  }
}, 120_000);

if (!usingPostgres()) {
  sayNeedsPostgres('SPEC §9 with 4 and 2 server processes on one database (lottery raced by four tickers, pace and queue_progress across processes)');
} else {
  test('4 processes race the lottery on PostgreSQL: 200 buyers who joined across them hold a permutation of 1..200, drawn once, by one process, within a ticker’s 250 ms (+250 ms slack) of salesStartAt', async () => {
    const databaseUrl = await createTestDatabaseUrl();
    const servers = await startProcesses(databaseUrl, 4);
    const organizer = await registerOn(servers[0]!, 'organizer');
    const [lateBuyer, ...buyers] = await insertBuyers(databaseUrl, 201);
    const event = await createLineEvent(servers[1]!, organizer, { capacity: 1_000, queueRatePerMinute: 600 });

    // Everyone joins before salesStartAt, spread over the four processes.
    const joins = await Promise.all(buyers.map((buyer, index) => callProcess(servers[index % 4]!, 'POST', `/api/events/${event.id}/queue`, buyer.token)));
    for (const join of joins) {
      expect(join.status).toBe(200);
      expect(join.body.queue).toEqual({ eventId: event.id, ticket: null, position: null, status: 'waiting', admittedAt: null, admissionExpiresAt: null, estimatedWaitSeconds: null });
    }
    expect(await sumOver(servers, 'seatwatch_queue_joined_total')).toBe(200);
    const salesStartAt = await openSalesIn(servers[2]!, organizer, event.id, 1_500);

    // Nobody draws early; then some process draws, by itself (nobody asks after salesStartAt).
    const lotteryLines = () => servers.flatMap((server) => server.logLines.filter((line) => line.msg === 'waiting room: lottery drawn'));
    expect(lotteryLines()).toEqual([]);
    await Bun.sleep(Math.max(0, salesStartAt.getTime() - Date.now()));
    await waitFor(() => lotteryLines().length > 0, 5_000, 'a lottery');
    // The other tickers keep looking for two more rounds each: nobody draws again.
    await Bun.sleep(600);
    const [drawn, ...again] = lotteryLines();
    expect(again).toEqual([]);
    expect(drawn).toMatchObject({ eventId: event.id, tickets: 200 });
    // Logged once it committed: within a ticker's 250 ms of salesStartAt, and the draw's own time.
    expect(Date.parse(String(drawn!.time)) - salesStartAt.getTime()).toBeLessThan(250 + 250);

    // Each buyer's place, read on another process than the one joined on, then again a second later on a third.
    const readTickets = (shift: number) => Promise.all(buyers.map((buyer, index) => callProcess(servers[(index + shift) % 4]!, 'GET', `/api/events/${event.id}/queue`, buyer.token)));
    const first = await readTickets(1);
    for (const answer of first) {
      expect(answer.status).toBe(200);
      const { queue } = answer.body;
      expect(queue.eventId).toBe(event.id);
      expect(Number.isInteger(queue.ticket)).toBe(true);
      // Ticket i's time is fixed at the draw: salesStartAt + (i − 1) × 100 ms.
      expect(queue.admittedAt).toBe(new Date(salesStartAt.getTime() + (queue.ticket - 1) * 100).toISOString());
    }
    const tickets = first.map((answer) => answer.body.queue.ticket as number);
    expect(ascending(tickets)).toEqual(permutation(200));
    await Bun.sleep(1_000);
    const second = await readTickets(2);
    expect(second.map((answer) => answer.body.queue.ticket)).toEqual(tickets);

    // The database agrees: one entry per buyer, each ticket once, the line drawn with 200 issued.
    const inspector = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const entries = await inspector<{ user_id: number; ticket: number }[]>`select user_id, ticket from queue_entries where event_id = ${event.id} order by id`;
      expect(entries).toHaveLength(200);
      expect(new Set(entries.map((entry) => entry.user_id)).size).toBe(200);
      expect(ascending(entries.map((entry) => entry.ticket))).toEqual(permutation(200));
      const ticketOf = new Map(buyers.map((buyer, index) => [buyer.userId, tickets[index]]));
      for (const entry of entries) expect(entry.ticket).toBe(ticketOf.get(entry.user_id)!);
      // Arriving early bought no place: the tickets are not in the order the joins were stored.
      expect(entries.map((entry) => entry.ticket)).not.toEqual(permutation(200));
      const [line] = await inspector`select queue_drawn, queue_issued from events where id = ${event.id}`;
      expect(line).toEqual({ queue_drawn: true, queue_issued: 200 });
    } finally {
      await inspector.end();
    }

    // Joining again keeps the drawn place; a joiner after the draw queues behind, one step after ticket 200.
    const rejoined = await callProcess(servers[3]!, 'POST', `/api/events/${event.id}/queue`, buyers[0]!.token);
    expect(rejoined.body.queue.ticket).toBe(tickets[0]);
    const late = await callProcess(servers[2]!, 'POST', `/api/events/${event.id}/queue`, lateBuyer!.token);
    expect(late.status).toBe(200);
    expect(late.body.queue).toMatchObject({ ticket: 201, status: 'waiting', admittedAt: new Date(salesStartAt.getTime() + 200 * 100).toISOString() });
    expect(await sumOver(servers, 'seatwatch_queue_joined_total')).toBe(201);
    await stopAll(servers);
  }, 90_000);

  test('the pace across 2 processes on PostgreSQL (600 a minute, 40 buyers): admitted strictly in ticket order, never ahead of the pace; every watcher on either process sees servingThrough climb to 40 at most once a second; admissions counted once', async () => {
    const databaseUrl = await createTestDatabaseUrl();
    const servers = await startProcesses(databaseUrl, 2);
    const organizer = await registerOn(servers[0]!, 'organizer');
    const buyers = await insertBuyers(databaseUrl, 40);
    const event = await createLineEvent(servers[0]!, organizer, { capacity: 100, queueRatePerMinute: 600 });

    // Three watchers on each process.
    const watchers: { socket: TestSocket; server: number; openedAt: number }[] = servers.flatMap((server, serverIndex) =>
      Array.from({ length: 3 }, () => ({ socket: connect(`ws://127.0.0.1:${server.port}/ws/events/${event.id}?token=${organizer}`), server: serverIndex, openedAt: Date.now() })),
    );
    for (const { socket } of watchers) expect(await socket.nextOfType('subscribed', 10_000)).toMatchObject({ eventId: event.id, servingThrough: 0, waiting: 0 });

    const joins = await Promise.all(buyers.map((buyer, index) => callProcess(servers[index % 2]!, 'POST', `/api/events/${event.id}/queue`, buyer.token)));
    for (const join of joins) expect(join.body.queue).toMatchObject({ ticket: null, status: 'waiting' });
    const start = (await openSalesIn(servers[1]!, organizer, event.id, 1_500)).getTime();

    // Until the line has run dry (ticket 40 at start + 3.9 s): every buyer's status, asked in
    // descending ticket order once the tickets are known, so an admitted ticket seen before a
    // smaller one was asked means that smaller one is admitted too.
    await Bun.sleep(Math.max(0, start - Date.now()));
    let ticketOrder: { buyer: (typeof buyers)[number]; ticket: number }[] = [];
    await until(
      async () => {
        const places = await Promise.all(buyers.map((buyer) => callProcess(servers[0]!, 'GET', `/api/events/${event.id}/queue`, buyer.token)));
        if (places.some((place) => place.body.queue.ticket === null)) return false;
        ticketOrder = places.map((place, index) => ({ buyer: buyers[index]!, ticket: place.body.queue.ticket as number })).sort((x, y) => y.ticket - x.ticket);
        return true;
      },
      5_000,
      'the lottery',
    );
    expect(ticketOrder.map((entry) => entry.ticket)).toEqual(permutation(40).reverse());
    let rounds = 0;
    for (;;) {
      const admittedTickets: number[] = [];
      for (const [index, { buyer, ticket }] of ticketOrder.entries()) {
        const place = (await callProcess(servers[index % 2]!, 'GET', `/api/events/${event.id}/queue`, buyer.token)).body.queue;
        expect(place.ticket).toBe(ticket);
        if (place.status === 'admitted') admittedTickets.push(ticket);
        else expect(place).toMatchObject({ status: 'waiting', position: expect.any(Number) });
      }
      const answeredAt = Date.now();
      // In ticket order: the admitted are exactly tickets 1..k.
      expect(ascending(admittedTickets)).toEqual(permutation(admittedTickets.length));
      // Never ahead of the pace: by time t, at most 600/min × (t − salesStartAt) + 1 (ticket 1 goes at salesStartAt).
      expect(admittedTickets.length).toBeLessThanOrEqual(admissibleBy(answeredAt, start, 600));
      rounds += 1;
      if (admittedTickets.length === 40) break;
      expect(answeredAt - start).toBeLessThan(10_000);
      await Bun.sleep(100);
    }
    // The line was watched moving, not only found done.
    expect(rounds).toBeGreaterThan(5);

    // Ticket i admitted at salesStartAt + (i − 1) × 100 ms: strictly increasing with the ticket.
    const admittedAt = await Promise.all(ticketOrder.map(async ({ buyer }) => (await callProcess(servers[1]!, 'GET', `/api/events/${event.id}/queue`, buyer.token)).body.queue));
    for (const place of admittedAt) expect(place).toMatchObject({ status: 'admitted', position: 0, admittedAt: new Date(start + (place.ticket - 1) * 100).toISOString() });

    // Every watcher, on either process, is told the line reached 40.
    await waitFor(
      () => watchers.every(({ socket }) => socket.messages.some((message) => message.type === 'queue_progress' && message.servingThrough === 40)),
      5_000,
      'servingThrough 40 on every watcher',
    ).catch((error: Error) => {
      throw new Error(
        `${error.message}; last heard per watcher: ${JSON.stringify(watchers.map(({ socket, server }) => ({ server, last: socket.messages.filter((message) => message.type === 'queue_progress').at(-1) })))}`,
      );
    });
    // Two more rounds of every ticker: nothing more to tell once the line stands still.
    await Bun.sleep(2_500);
    const endedAt = Date.now();
    for (const { socket, server, openedAt } of watchers) {
      const progress = socket.messages.map((message, index) => ({ message, at: wallClock(socket.receivedAt[index]!) })).filter(({ message }) => message.type === 'queue_progress');
      const label = `watcher on process ${server}: ${JSON.stringify(progress.map(({ message, at }) => [message.servingThrough, message.waiting, Math.round(at - start)]))}`;
      for (const { message } of progress) expect({ label, message }).toMatchObject({ label, message: { eventId: event.id, ratePerMinute: 600 } });
      const servingThrough = progress.map(({ message }) => message.servingThrough as number);
      for (let i = 1; i < servingThrough.length; i++) expect({ label, step: servingThrough[i]! >= servingThrough[i - 1]! }).toEqual({ label, step: true });
      expect({ label, last: progress.at(-1)?.message }).toMatchObject({ label, last: { servingThrough: 40, waiting: 0 } });
      // Never ahead of the pace as told to watchers either (told after it was read, so later still).
      for (const { message, at } of progress) expect({ label, ahead: message.servingThrough > admissibleBy(at, start, 600) }).toEqual({ label, ahead: false });
      // At most once a second per process.
      expect({ label, within: progress.length <= Math.floor((endedAt - openedAt) / 1_000) + 2 }).toEqual({ label, within: true });
    }

    // Each admission counted once, on whichever process saw it first.
    await until(async () => (await sumOver(servers, 'seatwatch_queue_admitted_total')) >= 40, 5_000, 'admissions counted');
    await Bun.sleep(1_500);
    expect(await sumOver(servers, 'seatwatch_queue_admitted_total')).toBe(40);
    for (const { socket } of watchers) socket.close();
    await stopAll(servers);
  }, 90_000);
}

test(`admission holds on every process${usingPostgres() ? '' : ' (PGlite: one process plays both)'}: the buyer whose turn came books on another process than the one joined on (201); the one still waiting gets 403 not_admitted with its place from either`, async () => {
  const storage = await freshStorage();
  const servers = storage.databaseUrl ? await startProcesses(storage.databaseUrl, 2) : [await startServerProcess({ ...storage.env, JWT_SECRET, LOG_LEVEL: 'info' }, { cwd: storage.cwd })];
  const [joinedOn, other] = [servers[0]!, servers.at(-1)!];
  const organizer = await registerOn(joinedOn, 'organizer');
  const [first, second, outsider] = await Promise.all(['first', 'second', 'outsider'].map((name) => registerOn(other, name)));
  // One a minute: ticket 1 goes at salesStartAt, ticket 2 a minute later.
  const event = await createLineEvent(joinedOn, organizer, { capacity: 10, queueRatePerMinute: 1, admissionSeconds: 600 });
  const queuePath = `/api/events/${event.id}/queue`;
  const buyers = { [first!]: joinedOn, [second!]: other };
  for (const [token, server] of Object.entries(buyers)) expect((await callProcess(server, 'POST', queuePath, token)).status).toBe(200);

  // Before salesStartAt nobody buys, in line or not, on any process.
  for (const server of servers) {
    for (const token of [first!, second!, outsider!]) {
      for (const [path, body] of [
        ['/api/bookings', { eventId: event.id }],
        ['/api/holds', { eventId: event.id }],
      ] as const) {
        const refused = await callProcess(server, 'POST', path, token, body);
        expect(refused.status).toBe(409);
        expect(refused.body.error).toMatchObject({ code: 'sales_not_started', salesStartAt: event.salesStartAt });
      }
    }
  }
  const salesStartAt = await openSalesIn(other, organizer, event.id, 1_500);
  await Bun.sleep(Math.max(0, salesStartAt.getTime() - Date.now()));
  const placeOf = async (token: string, server: Server) => (await callProcess(server, 'GET', queuePath, token)).body.queue;
  await until(async () => (await placeOf(first!, other)).ticket !== null, 5_000, 'the lottery');
  const [admitted, waiting] = (await placeOf(first!, other)).ticket === 1 ? [first!, second!] : [second!, first!];
  expect(await placeOf(admitted, other)).toMatchObject({ ticket: 1, position: 0, status: 'admitted', admittedAt: salesStartAt.toISOString() });
  const waitingPlace = await placeOf(waiting, joinedOn);
  expect(waitingPlace).toMatchObject({ ticket: 2, position: 1, status: 'waiting', admittedAt: new Date(salesStartAt.getTime() + 60_000).toISOString() });
  expect(waitingPlace.estimatedWaitSeconds).toBeGreaterThan(50);
  expect(waitingPlace.estimatedWaitSeconds).toBeLessThanOrEqual(60);

  // The admitted buyer, on the process it did not join on: a booking, then a hold.
  const notJoinedOn = servers.length === 1 ? other : buyers[admitted] === joinedOn ? other : joinedOn;
  const booked = await callProcess(notJoinedOn, 'POST', '/api/bookings', admitted, { eventId: event.id, quantity: 2 });
  expect(booked.status).toBe(201);
  expect(booked.body.booking).toMatchObject({ eventId: event.id, quantity: 2, status: 'confirmed' });
  const held = await callProcess(buyers[admitted]!, 'POST', '/api/holds', admitted, { eventId: event.id });
  expect(held.status).toBe(201);

  // The one still waiting, on either process, for a booking or a hold: its place, as GET tells it.
  for (const server of servers) {
    for (const path of ['/api/bookings', '/api/holds']) {
      const refused = await callProcess(server, 'POST', path, waiting, { eventId: event.id });
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('not_admitted');
      expect(refused.body.error.queue).toMatchObject({
        eventId: event.id,
        ticket: 2,
        position: 1,
        status: 'waiting',
        admittedAt: waitingPlace.admittedAt,
        admissionExpiresAt: waitingPlace.admissionExpiresAt,
      });
    }
    // Not in line at all: refused too, with no place.
    const stranger = await callProcess(server, 'POST', '/api/bookings', outsider!, { eventId: event.id });
    expect(stranger.status).toBe(403);
    expect(stranger.body.error).toMatchObject({ code: 'not_admitted', queue: null });
  }
  for (const server of servers) expect((await callProcess(server, 'GET', `/api/events/${event.id}`)).body.event).toMatchObject({ availableSeats: 7, heldSeats: 1 });
  await stopAll(servers);
}, 90_000);
