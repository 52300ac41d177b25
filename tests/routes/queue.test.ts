import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { and, asc, eq, isNotNull, sql } from 'drizzle-orm';
import { bookings, events, queueEntries, users } from '../../src/db/schema';
import { createTokens } from '../../src/lib/tokens';
import { expectError, login, startTestServer, testConfig, type TestServer } from '../support/server';
import { readEventRow } from '../support/services';
import { connect } from '../support/ws';

/** SPEC §9 the waiting room over HTTP and WebSocket, against the real server and database. */

let server: TestServer;
let organizer: string;
let people: { token: string; userId: number }[];

beforeAll(async () => {
  server = await startTestServer();
  organizer = await login(server);
  // Hundreds of buyers: inserted and given tokens directly, as argon2 would take minutes for them.
  const rows = await server.database.db
    .insert(users)
    .values(Array.from({ length: 400 }, (_, index) => ({ email: `queuer-${index}@example.com`, passwordHash: 'not-a-real-hash' })))
    .returning({ id: users.id, email: users.email });
  const tokens = createTokens(testConfig().jwtSecret, 3_600);
  people = await Promise.all(rows.map(async (row) => ({ userId: row.id, token: await tokens.sign({ id: row.id, email: row.email, name: null }) })));
}, 60_000);
afterAll(async () => {
  await server.stop();
});

const inAMinute = () => new Date(Date.now() + 60_000).toISOString();

async function createEvent(body: Record<string, unknown>): Promise<any> {
  const response = await server.request('POST', '/api/events', {
    token: organizer,
    body: { name: 'On sale', startsAt: '2031-05-05T20:00:00Z', capacity: 1_000, ...body },
  });
  expect(response.status).toBe(201);
  return response.body.event;
}

const join = (token: string, eventId: number | string) => server.request('POST', `/api/events/${eventId}/queue`, { token });
const place = (token: string, eventId: number | string) => server.request('GET', `/api/events/${eventId}/queue`, { token });
const leave = (token: string, eventId: number | string) => server.request('DELETE', `/api/events/${eventId}/queue`, { token });
const book = (token: string, eventId: number, quantity = 1) => server.request('POST', '/api/bookings', { token, body: { eventId, quantity } });
const hold = (token: string, eventId: number) => server.request('POST', '/api/holds', { token, body: { eventId, quantity: 1 } });

/** Opens the sale now: the lottery of the early joiners is drawn within the ticker's 250 ms. */
async function openSale(eventId: number, extra: Record<string, unknown> = {}): Promise<void> {
  const response = await server.request('PATCH', `/api/events/${eventId}`, { token: organizer, body: { salesStartAt: new Date().toISOString(), ...extra } });
  expect(response.status).toBe(200);
  await waitForDraw(eventId);
}

async function waitForDraw(eventId: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await readEventRow(server.database.db, eventId)).queueDrawn) {
    if (Date.now() > deadline) throw new Error(`event ${eventId} was never drawn`);
    await Bun.sleep(20);
  }
}

async function entriesOf(eventId: number) {
  return server.database.db.select().from(queueEntries).where(eq(queueEntries.eventId, eventId)).orderBy(asc(queueEntries.ticket));
}

describe('events with a waiting room', () => {
  test('salesStartAt, queueRatePerMinute and admissionSeconds are created, listed, patched and validated', async () => {
    const salesStartAt = inAMinute();
    const event = await createEvent({ salesStartAt, queueRatePerMinute: 6_000, admissionSeconds: 120 });
    expect(event).toMatchObject({ salesStartAt, queueRatePerMinute: 6_000, admissionSeconds: 120 });
    const plain = await createEvent({});
    expect(plain).toMatchObject({ salesStartAt: null, queueRatePerMinute: null, admissionSeconds: 600 });
    const listed = (await server.request('GET', '/api/events?limit=500')).body.events.find((row: { id: number }) => row.id === event.id);
    expect(listed).toEqual(event);
    const patched = await server.request('PATCH', `/api/events/${event.id}`, { token: organizer, body: { queueRatePerMinute: null, salesStartAt: null } });
    expect(patched.body.event).toMatchObject({ salesStartAt: null, queueRatePerMinute: null, admissionSeconds: 120 });
    for (const bad of [{ queueRatePerMinute: 0 }, { queueRatePerMinute: 100_001 }, { queueRatePerMinute: 1.5 }, { admissionSeconds: 29 }, { admissionSeconds: 7_201 }, { salesStartAt: 'tomorrow' }]) {
      const refused = await server.request('POST', '/api/events', { token: organizer, body: { name: 'Bad', startsAt: '2031-05-05T20:00:00Z', capacity: 5, ...bad } });
      expectError(refused, 400, 'validation_error');
      expectError(await server.request('PATCH', `/api/events/${event.id}`, { token: organizer, body: bad }), 400, 'validation_error');
    }
    expect(await readEventRow(server.database.db, event.id)).toMatchObject({ queueRatePerMinute: null, admissionSeconds: 120 });
  });
});

describe('before salesStartAt', () => {
  test('holds and bookings answer 409 sales_not_started with salesStartAt, with or without a line; nothing changes', async () => {
    const salesStartAt = inAMinute();
    for (const line of [null, 600]) {
      const event = await createEvent({ salesStartAt, queueRatePerMinute: line, capacity: 5 });
      const [buyer] = people;
      await join(buyer!.token, event.id);
      for (const response of [await book(buyer!.token, event.id), await hold(buyer!.token, event.id)]) {
        expectError(response, 409, 'sales_not_started');
        expect(response.body.error.salesStartAt).toBe(salesStartAt);
      }
      expect(await readEventRow(server.database.db, event.id)).toMatchObject({ availableSeats: 5, heldSeats: 0, version: 1 });
    }
  });

  test('without a line, the event sells as before once salesStartAt has passed', async () => {
    const event = await createEvent({ salesStartAt: new Date(Date.now() - 1_000).toISOString(), capacity: 5 });
    const response = await book(people[1]!.token, event.id, 2);
    expect(response.status).toBe(201);
    expect(response.body.availableSeats).toBe(3);
  });
});

describe('joining and leaving', () => {
  test('joining twice keeps the place, before and after the lottery; GET answers it; DELETE leaves and a rejoin goes to the back', async () => {
    const event = await createEvent({ salesStartAt: inAMinute(), queueRatePerMinute: 60 });
    const [first, second, third] = people;
    const joined = await join(first!.token, event.id);
    expect(joined.status).toBe(200);
    expect(joined.body).toEqual({
      queue: { eventId: event.id, ticket: null, position: null, status: 'waiting', admittedAt: null, admissionExpiresAt: null, estimatedWaitSeconds: null },
    });
    expect((await join(first!.token, event.id)).body).toEqual(joined.body);
    expect((await place(first!.token, event.id)).body).toEqual(joined.body);
    expect((await place(third!.token, event.id)).body).toEqual({ queue: null });
    await join(second!.token, event.id);
    await openSale(event.id);

    const firstPlace = (await place(first!.token, event.id)).body.queue;
    expect([1, 2]).toContain(firstPlace.ticket);
    expect((await join(first!.token, event.id)).body.queue.ticket).toBe(firstPlace.ticket);
    // Later joiners queue behind the lottery's tickets, in the order they come.
    const late = (await join(third!.token, event.id)).body.queue;
    expect(late.ticket).toBe(3);

    expect((await leave(third!.token, event.id)).body).toEqual({ queue: null });
    expect((await place(third!.token, event.id)).body).toEqual({ queue: null });
    expect((await leave(third!.token, event.id)).status).toBe(200);
    expect((await join(third!.token, event.id)).body.queue.ticket).toBe(4);
  });

  test('leaving before the lottery takes no ticket: the drawn tickets are 1..K of those still in line', async () => {
    const event = await createEvent({ salesStartAt: inAMinute(), queueRatePerMinute: 60 });
    const joiners = people.slice(10, 20);
    for (const person of joiners) await join(person.token, event.id);
    await leave(joiners[3]!.token, event.id);
    await openSale(event.id);
    const entries = await entriesOf(event.id);
    expect(entries.map((entry) => entry.ticket)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(entries.map((entry) => entry.userId)).not.toContain(joiners[3]!.userId);
  });

  test('refusals: no line is 400 bad_request, a draft or missing event 404, a bad id 400, no token 401; nothing is written', async () => {
    const plain = await createEvent({});
    const draft = await createEvent({ status: 'draft', queueRatePerMinute: 60 });
    const [person] = people;
    expectError(await join(person!.token, plain.id), 400, 'bad_request');
    expectError(await join(person!.token, draft.id), 404, 'event_not_found');
    expectError(await join(organizer, draft.id), 404, 'event_not_found');
    expectError(await join(person!.token, 2_000_000_000), 404, 'event_not_found');
    expectError(await join(person!.token, 'abc'), 400, 'validation_error');
    expectError(await server.request('POST', `/api/events/${plain.id}/queue`), 401, 'unauthorized');
    expectError(await server.request('GET', `/api/events/${plain.id}/queue`), 401, 'unauthorized');
    const written = await server.database.db.select().from(queueEntries).where(sql`${queueEntries.eventId} in (${plain.id}, ${draft.id})`);
    expect(written).toEqual([]);
  });

  test('200 people joining at once after the lottery get tickets 1..200, one each; 50 racing joins of one person make one place', async () => {
    const event = await createEvent({ queueRatePerMinute: 60 });
    await waitForDraw(event.id);
    const racers = people.slice(100, 300);
    const answers = await Promise.all(racers.map((person) => join(person.token, event.id)));
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    expect(answers.map((answer) => answer.body.queue.ticket).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, index) => index + 1));
    const repeats = await Promise.all(Array.from({ length: 50 }, () => join(people[300]!.token, event.id)));
    expect(new Set(repeats.map((answer) => answer.body.queue.ticket))).toEqual(new Set([201]));
    expect((await entriesOf(event.id)).length).toBe(201);
    expect((await readEventRow(server.database.db, event.id)).queueIssued).toBe(201);

    // All of them asking for their place at once (read together): each hears its own ticket.
    const places = await Promise.all(racers.map((person) => place(person.token, event.id)));
    expect(places.every((answer) => answer.status === 200)).toBe(true);
    expect(places.map((answer) => answer.body.queue.ticket)).toEqual(answers.map((answer) => answer.body.queue.ticket));
    expect((await place(people[301]!.token, event.id)).body).toEqual({ queue: null });
  });
});

describe('admission', () => {
  test('strictly in ticket order at the pace; a waiting buyer is 403 not_admitted with their place, an admitted one books', async () => {
    // 600 a minute: a ticket every 100 ms.
    const event = await createEvent({ salesStartAt: inAMinute(), queueRatePerMinute: 600, capacity: 100 });
    const line = people.slice(20, 60);
    for (const person of line) await join(person.token, event.id);
    const outsider = people[60]!;
    await openSale(event.id);
    const opened = (await readEventRow(server.database.db, event.id)).salesStartAt!.getTime();

    const entries = await entriesOf(event.id);
    expect(entries.map((entry) => entry.ticket)).toEqual(Array.from({ length: 40 }, (_, index) => index + 1));
    // Each ticket's time is one step after the one before, from salesStartAt: nobody ahead is skipped.
    entries.forEach((entry, index) => expect(entry.admitAt!.getTime() - opened).toBe(index * 100));

    const last = line.find((person) => person.userId === entries.at(-1)!.userId)!;
    const waiting = await book(last.token, event.id);
    expectError(waiting, 403, 'not_admitted');
    expect(waiting.body.error.queue).toMatchObject({ eventId: event.id, ticket: 40, status: 'waiting' });
    expect(waiting.body.error.queue.position).toBeGreaterThan(0);
    expectError(await hold(last.token, event.id), 403, 'not_admitted');
    const stranger = await book(outsider.token, event.id);
    expectError(stranger, 403, 'not_admitted');
    expect(stranger.body.error.queue).toBeNull();

    const first = line.find((person) => person.userId === entries[0]!.userId)!;
    const admitted = (await place(first.token, event.id)).body.queue;
    expect(admitted).toMatchObject({ ticket: 1, position: 0, status: 'admitted', estimatedWaitSeconds: 0 });
    expect(Date.parse(admitted.admissionExpiresAt) - Date.parse(admitted.admittedAt)).toBe(600_000);
    expect((await book(first.token, event.id, 2)).status).toBe(201);
    expect((await hold(first.token, event.id)).status).toBe(201);

    // Everyone is admitted 3.9 s after the start; each books as their turn comes.
    const results = await Promise.all(
      line.map(async (person) => {
        for (;;) {
          const answer = await book(person.token, event.id);
          if (answer.status !== 403) return { person, answer, at: Date.now() };
          await Bun.sleep(Math.max(20, (answer.body.error.queue.estimatedWaitSeconds - 1) * 1000));
        }
      }),
    );
    expect(results.every(({ answer }) => answer.status === 201)).toBe(true);
    const admitAt = new Map(entries.map((entry) => [entry.userId, entry.admitAt!.getTime()]));
    // No booking before its admission (the database's clock and ours are the same machine's).
    for (const { person, answer } of results) expect(Date.parse(answer.body.booking.createdAt)).toBeGreaterThanOrEqual(admitAt.get(person.userId)! - 5);
    const booked = await server.database.db.select().from(bookings).where(eq(bookings.eventId, event.id));
    expect(booked.reduce((sum, row) => sum + row.quantity, 0)).toBe(42);
  });

  test('an admission ends at admissionExpiresAt: the status is expired and holds and bookings are refused again', async () => {
    const event = await createEvent({ queueRatePerMinute: 60, admissionSeconds: 30 });
    const person = people[61]!;
    const joined = (await join(person.token, event.id)).body.queue;
    expect(joined).toMatchObject({ ticket: 1, status: 'admitted' });
    // 30 s of admission, as the clock would have it: admitted 31 s ago.
    await server.database.db
      .update(queueEntries)
      .set({ admitAt: sql`now() - interval '31 seconds'` })
      .where(and(eq(queueEntries.eventId, event.id), eq(queueEntries.userId, person.userId)));
    await server.database.db.update(events).set({ queueLastAdmitAt: sql`now() - interval '31 seconds'` }).where(eq(events.id, event.id));
    const expired = (await place(person.token, event.id)).body.queue;
    expect(expired.status).toBe('expired');
    expect(Date.parse(expired.admissionExpiresAt)).toBeLessThanOrEqual(Date.now());
    const refused = await book(person.token, event.id);
    expectError(refused, 403, 'not_admitted');
    expect(refused.body.error.queue.status).toBe('expired');
    // Joining again keeps the (expired) place; leaving and joining again is a new turn at the back.
    expect((await join(person.token, event.id)).body.queue.status).toBe('expired');
    await leave(person.token, event.id);
    expect((await join(person.token, event.id)).body.queue).toMatchObject({ ticket: 2, status: 'admitted' });
    expect((await book(person.token, event.id)).status).toBe(201);
  });

  test('a pace change mid-sale moves nobody back: servingThrough and every place stay, the rest is timed at the new pace', async () => {
    // 60 a minute: one a second, so most of the line is still waiting when the pace changes.
    const event = await createEvent({ salesStartAt: inAMinute(), queueRatePerMinute: 60 });
    const line = people.slice(70, 90);
    for (const person of line) await join(person.token, event.id);
    await openSale(event.id);
    await Bun.sleep(1_200);
    const placesBefore = await Promise.all(line.map(async (person) => (await place(person.token, event.id)).body.queue));
    const patchSentAt = Date.now();
    const patched = await server.request('PATCH', `/api/events/${event.id}`, { token: organizer, body: { queueRatePerMinute: 6 } });
    const patchAnsweredAt = Date.now();
    expect(patched.status).toBe(200);
    const placesAfter = await Promise.all(line.map(async (person) => (await place(person.token, event.id)).body.queue));
    placesAfter.forEach((after, index) => {
      const before = placesBefore[index]!;
      expect(after.ticket).toBe(before.ticket);
      // Admitted stays admitted; a waiting place does not grow.
      if (before.status === 'admitted') expect(after.status).toBe('admitted');
      else expect(after.position).toBeLessThanOrEqual(before.position);
    });
    const waitingAfter = await server.database.db
      .select({ ticket: queueEntries.ticket, admitAt: queueEntries.admitAt })
      .from(queueEntries)
      .where(and(eq(queueEntries.eventId, event.id), sql`${queueEntries.admitAt} > now()`))
      .orderBy(asc(queueEntries.ticket));
    expect(waitingAfter.length).toBeGreaterThan(10);
    // 6 a minute from the change: the next in line a step (10 s) after it, not a whole line's pace later.
    expect(waitingAfter[0]!.admitAt!.getTime()).toBeGreaterThanOrEqual(patchSentAt + 10_000 - 50);
    expect(waitingAfter[0]!.admitAt!.getTime()).toBeLessThanOrEqual(patchAnsweredAt + 10_000 + 50);
    // 6 a minute: 10 s between tickets from now on.
    for (let i = 1; i < waitingAfter.length; i++) expect(waitingAfter[i]!.admitAt!.getTime() - waitingAfter[i - 1]!.admitAt!.getTime()).toBe(10_000);
    // A joiner now queues a step after the last ticket.
    const late = (await join(people[90]!.token, event.id)).body.queue;
    expect(late.ticket).toBe(21);
    expect(Date.parse(late.admittedAt) - waitingAfter.at(-1)!.admitAt!.getTime()).toBe(10_000);
  });
});

describe('queue_progress', () => {
  test('watchers get the line in the snapshot and at most once a second while it moves, on the clock\'s whole seconds; servingThrough only increases; the metrics count', async () => {
    const metricValue = async (name: string) => Number(/^(\S+) (\d+)$/m.exec((await server.request('GET', '/metrics')).text.split('\n').filter((line) => line.startsWith(`${name} `)).join('\n'))?.[2] ?? NaN);
    const joinedBefore = await metricValue('seatwatch_queue_joined_total');
    const admittedBefore = await metricValue('seatwatch_queue_admitted_total');
    // 120 a minute: a ticket every 500 ms, 12 tickets in 6 s.
    const event = await createEvent({ salesStartAt: inAMinute(), queueRatePerMinute: 120 });
    const line = people.slice(320, 332);
    for (const person of line) await join(person.token, event.id);
    const watcher = connect(`${server.wsUrl}/ws/events/${event.id}?token=${people[0]!.token}`);
    const snapshot = await watcher.nextOfType('subscribed');
    expect(snapshot).toMatchObject({ eventId: event.id, servingThrough: 0, waiting: 12 });
    // The sale opens half-way through a second, so reads counted from it would not fall on whole seconds.
    while (Date.now() % 1000 < 450 || Date.now() % 1000 > 550) await Bun.sleep(5);
    const startedAt = performance.now();
    await openSale(event.id);
    const done = await watcher.next((message) => message.type === 'queue_progress' && message.servingThrough === 12, 10_000);
    expect(done).toEqual({ type: 'queue_progress', eventId: event.id, servingThrough: 12, waiting: 0, ratePerMinute: 120 });
    const progress = watcher.messages.filter((message) => message.type === 'queue_progress');
    const served = progress.map((message) => message.servingThrough);
    expect(served).toEqual([...served].sort((a, b) => a - b));
    expect(new Set(served).size).toBeGreaterThan(3);
    const seconds = (performance.now() - startedAt) / 1000;
    expect(progress.length).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
    // The wall clock's offset from performance.now() taken now, not at the process's start
    // (performance.timeOrigin): the two drift apart over a long test run.
    const wallClockOffset = Date.now() - performance.now();
    // Between the draw's message and the last ticket's, the line is told just after each whole
    // second (the same moments in every process): the middle of the ms-past-the-second figures.
    const phases = watcher.messages
      .map((message, index) => ({ message, phase: (wallClockOffset + watcher.receivedAt[index]!) % 1000 }))
      .filter(({ message }) => message.type === 'queue_progress' && message.servingThrough > 1 && message.servingThrough < 12)
      .map(({ phase }) => phase)
      .sort((a, b) => a - b);
    expect(phases.length).toBeGreaterThanOrEqual(3);
    expect({ phases, middle: phases[Math.floor(phases.length / 2)]! < 250 }).toMatchObject({ middle: true });
    // Nobody hears of a turn before it has come: a buyer who books on hearing it is admitted.
    const admitAtOf = new Map(
      (await server.database.db.select({ ticket: queueEntries.ticket, admitAt: queueEntries.admitAt }).from(queueEntries).where(eq(queueEntries.eventId, event.id))).map(
        ({ ticket, admitAt }) => [ticket, admitAt!.getTime()],
      ),
    );
    watcher.messages.forEach((message, index) => {
      if (message.type !== 'queue_progress' || message.servingThrough === 0) return;
      const msEarly = admitAtOf.get(message.servingThrough)! - (wallClockOffset + watcher.receivedAt[index]!);
      expect({ servingThrough: message.servingThrough, msEarly: Math.max(0, msEarly) }).toEqual({ servingThrough: message.servingThrough, msEarly: 0 });
    });
    // Quiet once everyone is admitted.
    await Bun.sleep(1_500);
    expect(watcher.messages.filter((message) => message.type === 'queue_progress').length).toBe(progress.length);
    // A newcomer's snapshot carries where the line stands.
    const later = connect(`${server.wsUrl}/ws/events/${event.id}?token=${people[1]!.token}`);
    expect(await later.nextOfType('subscribed')).toMatchObject({ servingThrough: 12, waiting: 0 });
    watcher.close();
    later.close();
    expect(await metricValue('seatwatch_queue_joined_total')).toBe(joinedBefore + 12);
    expect(await metricValue('seatwatch_queue_admitted_total')).toBeGreaterThanOrEqual(admittedBefore + 12);
    // An event without a line has no queue fields in its snapshot.
    const plain = await createEvent({});
    const plainWatcher = connect(`${server.wsUrl}/ws/events/${plain.id}?token=${people[0]!.token}`);
    const plainSnapshot = await plainWatcher.nextOfType('subscribed');
    expect(Object.keys(plainSnapshot).sort()).toEqual(['availableSeats', 'capacity', 'eventId', 'heldSeats', 'type', 'version']);
    plainWatcher.close();
    expect(await server.database.db.select().from(queueEntries).where(and(eq(queueEntries.eventId, event.id), isNotNull(queueEntries.leftAt)))).toEqual([]);
  }, 20_000);
});
