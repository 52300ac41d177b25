import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from 'bun:test';
import type { DatabaseHandle } from '../../src/db/client';
import { createLogger } from '../../src/lib/logger';
import { createTokens } from '../../src/lib/tokens';
import { startServer } from '../../src/server';
import { parseRequestedEvent } from '../../src/routes/websocket';
import { login, openTestDatabase, registerUser, startTestServer, testConfig, type TestServer } from '../support/server';
import { connect, waitFor, type TestSocket } from '../support/ws';
import { closed, createEvent, eventState, roundTrip, seatMessages, untilHolds } from '../support/websocket-helpers';

// Generous: the machine running the suite may be busy; the waits inside are what bound each test.
setDefaultTimeout(30_000);

/** SPEC §3 against a real server and real WebSocket clients: every message, error and close code. */

let database: DatabaseHandle;
let server: TestServer;
let token: string; // test@example.com, organizer of the seeded events and the draft
let testUserId: number;
let aliceToken: string;
let draftId: number;
const secret = testConfig().jwtSecret;

beforeAll(async () => {
  database = await openTestDatabase();
  server = await startTestServer({ database });
  token = await login(server);
  aliceToken = await login(server, 'alice@example.com');
  testUserId = (await server.request('GET', '/api/auth/me', { token })).body.user.id;
  const listed = await server.request('GET', '/api/events', { token });
  draftId = listed.body.events.find((event: any) => event.status === 'draft').id;
}, 30_000);

afterAll(async () => {
  await server.stop();
  await database.close();
});

// Runs first: event #1 must still be as seeded.
test('seed quick test: watch event 1, book, cancel', async () => {
  const watcher = connect(`${server.wsUrl}/ws/events/1?token=${token}`);
  const hello = await watcher.nextOfType('connection_established');
  expect(hello).toEqual({
    type: 'connection_established',
    clientId: expect.stringMatching(/^ws_\d+_[a-z0-9]+$/),
    userId: testUserId,
    eventId: 1,
    message: "Welcome! You're watching Event #1",
  });
  expect(await watcher.nextOfType('subscribed')).toEqual({ type: 'subscribed', eventId: 1, availableSeats: 50, heldSeats: 0, capacity: 50, version: 1 });

  const booked = await server.request('POST', '/api/bookings', { token, body: { eventId: 1 } });
  expect(booked.status).toBe(201);
  expect(booked.body.availableSeats).toBe(49);
  expect(await watcher.nextOfType('booking_created')).toEqual({ type: 'booking_created', eventId: 1, availableSeats: 49, heldSeats: 0, capacity: 50, version: 2 });

  const cancelled = await server.request('DELETE', `/api/bookings/${booked.body.booking.id}`, { token });
  expect(cancelled.body.availableSeats).toBe(50);
  expect(await watcher.nextOfType('booking_cancelled')).toEqual({ type: 'booking_cancelled', eventId: 1, availableSeats: 50, heldSeats: 0, capacity: 50, version: 3 });
  await closed(watcher);
});

describe('on connect', () => {
  test('a plain HTTP request to the WebSocket endpoints is 400 bad_request, JSON as everywhere', async () => {
    for (const path of ['/ws', '/ws/events/1']) {
      const response = await server.request('GET', path);
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(response.body).toEqual({ error: { code: 'bad_request', message: 'Expected a WebSocket upgrade request' } });
    }
  });

  test('/ws greets with a client id and the user id, and nothing else', async () => {
    const socket = connect(`${server.wsUrl}/ws?token=${token}`);
    const hello = await socket.nextOfType('connection_established');
    expect(hello).toEqual({ type: 'connection_established', clientId: expect.stringMatching(/^ws_\d+_[a-z0-9]+$/), userId: testUserId });
    await roundTrip(socket);
    expect(socket.messages.map((message) => message.type)).toEqual(['connection_established', 'pong']);
    expect(server.websocket.clients.get(hello.clientId)?.userId).toBe(testUserId);
    await closed(socket);
  });

  test('client ids are unique per connection', async () => {
    const sockets = Array.from({ length: 5 }, () => connect(`${server.wsUrl}/ws?token=${token}`));
    const ids = await Promise.all(sockets.map(async (socket) => (await socket.nextOfType('connection_established')).clientId));
    expect(new Set(ids).size).toBe(5);
    await Promise.all(sockets.map(closed));
  });

  test('the token may come as Authorization: Bearer on the upgrade', async () => {
    const socket = connect(`${server.wsUrl}/ws/events/1`, { headers: { authorization: `Bearer ${aliceToken}` } });
    const hello = await socket.nextOfType('connection_established');
    expect(hello.eventId).toBe(1);
    expect((await socket.nextOfType('subscribed')).eventId).toBe(1);
    await closed(socket);
  });

  test('an empty ?token= does not hide the Authorization header', async () => {
    const socket = connect(`${server.wsUrl}/ws?token=`, { headers: { authorization: `Bearer ${aliceToken}` } });
    const alice = (await server.request('GET', '/api/auth/me', { token: aliceToken })).body.user;
    expect(alice.id).not.toBe(testUserId);
    expect((await socket.nextOfType('connection_established')).userId).toBe(alice.id);
    await closed(socket);
  });

  const foreignSigner = createTokens('another-secret-that-is-long-enough-to-be-real', 3600);
  const expiredSigner = createTokens(secret, -60);
  const someone = { id: 1, email: 'test@example.com', name: 'Test User' };
  const badTokens: [string, () => Promise<string | null>][] = [
    ['missing', async () => null],
    ['garbage', async () => 'not-a-jwt'],
    ['signed with another secret', () => foreignSigner.sign(someone)],
    ['expired', () => expiredSigner.sign(someone)],
    // Correctly signed, but no users row can have this id: it must not reach a query.
    ['out-of-range sub', () => createTokens(secret, 60).sign({ id: 2_147_483_648, email: 'big@example.com', name: null })],
  ];

  async function expectRejected(socket: TestSocket): Promise<void> {
    // A client that talks anyway must still hear nothing but the one error.
    socket.socket.addEventListener('open', () => socket.send({ type: 'ping' }));
    const { code } = await socket.closed;
    expect(code).toBe(4401);
    expect(socket.messages).toEqual([{ type: 'error', code: 'unauthorized', message: expect.any(String) }]);
  }

  for (const [label, makeToken] of badTokens) {
    for (const path of ['/ws', '/ws/events/1']) {
      test(`${label} token in ?token= on ${path}: one unauthorized error, then 4401`, async () => {
        const bad = await makeToken();
        await expectRejected(connect(`${server.wsUrl}${path}${bad === null ? '' : `?token=${encodeURIComponent(bad)}`}`));
      });
      if (label === 'missing') continue;
      test(`${label} token in Authorization: Bearer on ${path}: one unauthorized error, then 4401`, async () => {
        const bad = (await makeToken())!;
        await expectRejected(connect(`${server.wsUrl}${path}`, { headers: { authorization: `Bearer ${bad}` } }));
      });
    }
  }

  test('a rejected connection never enters the clients map', async () => {
    const before = server.websocket.clients.size;
    const socket = connect(`${server.wsUrl}/ws?token=garbage`);
    await socket.closed;
    expect(server.websocket.clients.size).toBe(before);
  });

  const missingEvents: [string, string, () => string, number | string][] = [
    ['unknown event', '/ws/events/999999', () => token, 999999],
    ['non-numeric id', '/ws/events/abc', () => token, 'abc'],
    ["someone else's draft", '', () => aliceToken, 0],
  ];
  for (const [label, fixedPath, tokenOf, expectedId] of missingEvents) {
    test(`/ws/events/:id with ${label}: one event_not_found, then 4404`, async () => {
      const path = fixedPath || `/ws/events/${draftId}`;
      const eventId = expectedId === 0 ? draftId : expectedId;
      const socket = connect(`${server.wsUrl}${path}?token=${tokenOf()}`);
      const { code } = await socket.closed;
      expect(code).toBe(4404);
      expect(socket.messages).toEqual([{ type: 'error', code: 'event_not_found', eventId, message: expect.any(String) }]);
    });
  }

  test('the organizer may watch their own draft', async () => {
    const socket = connect(`${server.wsUrl}/ws/events/${draftId}?token=${token}`);
    expect((await socket.nextOfType('connection_established')).message).toBe(`Welcome! You're watching Event #${draftId}`);
    expect(await socket.nextOfType('subscribed')).toMatchObject({ eventId: draftId, capacity: 30, availableSeats: 30 });
    await closed(socket);
  });

  test('messages sent before the event is looked up are answered after the greeting and the snapshot', async () => {
    const socket = connect(`${server.wsUrl}/ws/events/1?token=${token}`);
    socket.socket.addEventListener('open', () => socket.send({ type: 'ping' }));
    await socket.nextOfType('pong');
    expect(socket.messages.map((message) => message.type)).toEqual(['connection_established', 'subscribed', 'pong']);
    await closed(socket);
  });
});

describe('client → server', () => {
  // A connection per test: one shared by all of them would run into the rate limit.
  let socket: TestSocket;
  beforeEach(async () => {
    socket = connect(`${server.wsUrl}/ws?token=${token}`);
    await socket.nextOfType('connection_established');
  });
  afterEach(() => closed(socket));

  /** The next message, which must be the answer to what was just sent. */
  async function answerTo(message: unknown): Promise<any> {
    const from = socket.messages.length;
    socket.send(message);
    await waitFor(() => socket.messages.length > from, 5000, 'an answer');
    return socket.messages[from];
  }

  async function expectStillUsable(): Promise<void> {
    expect(await answerTo({ type: 'ping' })).toEqual({ type: 'pong' });
    expect(socket.isClosed()).toBe(false);
  }

  test('ping → pong', async () => {
    expect(await answerTo({ type: 'ping' })).toEqual({ type: 'pong' });
  });

  const malformed: [string, string | Uint8Array<ArrayBuffer>][] = [
    ['invalid JSON', '{"type": "ping"'],
    ['plain text', 'hello'],
    ['a number', '123'],
    ['null', 'null'],
    ['true', 'true'],
    ['an array', '[]'],
    ['an array holding a message', '[{"type":"ping"}]'],
    ['a JSON string', '"str"'],
    ['a JSON string holding a message', JSON.stringify(JSON.stringify({ type: 'ping' }))],
    ['an empty frame', ''],
    ['a binary frame', new TextEncoder().encode('{"type":"ping"}')],
    ['an object without type', '{}'],
    ['a non-string type', '{"type":5}'],
  ];
  for (const [label, frame] of malformed) {
    test(`${label} → invalid_message, connection stays usable`, async () => {
      const from = socket.messages.length;
      socket.socket.send(frame);
      await waitFor(() => socket.messages.length > from, 5000, 'an answer');
      expect(socket.messages[from]).toEqual({ type: 'error', code: 'invalid_message', message: expect.any(String) });
      await expectStillUsable();
    });
  }

  test('JSON with leading whitespace is still a message', async () => {
    expect(await answerTo(' \n{"type":"ping"}')).toEqual({ type: 'pong' });
  });

  const wrongFields: [string, unknown][] = [
    ['subscribe without eventId', { type: 'subscribe_event' }],
    ['subscribe with a string eventId', { type: 'subscribe_event', eventId: '1' }],
    ['subscribe with a fractional eventId', { type: 'subscribe_event', eventId: 1.5 }],
    ['subscribe with a negative eventId', { type: 'subscribe_event', eventId: -1 }],
    ['subscribe with a huge eventId', { type: 'subscribe_event', eventId: 2 ** 40 }],
    ['unsubscribe with eventId null', { type: 'unsubscribe_event', eventId: null }],
  ];
  for (const [label, message] of wrongFields) {
    test(`${label} → invalid_message, connection stays usable`, async () => {
      expect(await answerTo(message)).toEqual({ type: 'error', code: 'invalid_message', message: expect.any(String) });
      await expectStillUsable();
    });
  }

  test('unknown type → unknown_type, connection stays usable', async () => {
    expect(await answerTo({ type: 'book_seat', eventId: 1 })).toEqual({ type: 'error', code: 'unknown_type', message: expect.any(String) });
    await expectStillUsable();
  });

  test('a frame of almost 16 KiB is still a message', async () => {
    const frame = JSON.stringify({ type: 'ping', padding: 'x'.repeat(16 * 1024 - 40) });
    expect(frame.length).toBeLessThanOrEqual(16 * 1024);
    expect(await answerTo(frame)).toEqual({ type: 'pong' });
  });

  test('subscribe_event → the snapshot; a repeat re-sends it; changes then arrive once', async () => {
    const event = await createEvent(server, token, { capacity: 20 });
    const snapshot = { type: 'subscribed', eventId: event.id, availableSeats: 20, heldSeats: 0, capacity: 20, version: event.version };
    expect(await answerTo({ type: 'subscribe_event', eventId: event.id })).toEqual(snapshot);
    expect(await answerTo({ type: 'subscribe_event', eventId: event.id })).toEqual(snapshot);
    await server.request('POST', '/api/bookings', { token, body: { eventId: event.id, quantity: 3 } });
    await untilHolds(socket, event.id, event.version + 1);
    await roundTrip(socket);
    expect(seatMessages(socket, event.id).map((message) => message.type)).toEqual(['subscribed', 'subscribed', 'booking_created']);
    expect(await answerTo({ type: 'unsubscribe_event', eventId: event.id })).toEqual({ type: 'unsubscribed', eventId: event.id });
  });

  test('unsubscribe_event → unsubscribed, and no more updates', async () => {
    const event = await createEvent(server, token, { capacity: 20 });
    const sentinel = connect(`${server.wsUrl}/ws/events/${event.id}?token=${aliceToken}`);
    await sentinel.nextOfType('subscribed');
    await answerTo({ type: 'subscribe_event', eventId: event.id });
    expect(await answerTo({ type: 'unsubscribe_event', eventId: event.id })).toEqual({ type: 'unsubscribed', eventId: event.id });
    expect([...(server.websocket.subscribersByEvent.get(event.id) ?? [])]).toEqual([sentinel.messages[0].clientId]);
    const booked = await server.request('POST', '/api/bookings', { token, body: { eventId: event.id } });
    expect(booked.status).toBe(201);
    // The sentinel still watching has it: it was published, and before this socket's pong.
    await sentinel.nextOfType('booking_created');
    await roundTrip(socket);
    expect(seatMessages(socket, event.id).map((message) => message.type)).toEqual(['subscribed']);
    await closed(sentinel);
  });

  test('unsubscribe_event when not subscribed → unsubscribed all the same', async () => {
    expect(await answerTo({ type: 'unsubscribe_event', eventId: 987654 })).toEqual({ type: 'unsubscribed', eventId: 987654 });
  });

  test('subscribe_event to an unknown event → event_not_found, connection stays open', async () => {
    expect(await answerTo({ type: 'subscribe_event', eventId: 999999 })).toEqual({
      type: 'error',
      code: 'event_not_found',
      eventId: 999999,
      message: expect.any(String),
    });
    await expectStillUsable();
  });

  test("subscribe_event to someone else's draft → event_not_found; its organizer gets the snapshot", async () => {
    const alice = connect(`${server.wsUrl}/ws?token=${aliceToken}`);
    await alice.nextOfType('connection_established');
    alice.send({ type: 'subscribe_event', eventId: draftId });
    expect(await alice.nextOfType('error')).toMatchObject({ code: 'event_not_found', eventId: draftId });
    await roundTrip(alice);
    expect(alice.isClosed()).toBe(false);
    expect(server.websocket.subscribersByEvent.get(draftId)?.size ?? 0).toBe(0);
    await closed(alice);

    expect(await answerTo({ type: 'subscribe_event', eventId: draftId })).toMatchObject({ type: 'subscribed', eventId: draftId });
    expect(await answerTo({ type: 'unsubscribe_event', eventId: draftId })).toEqual({ type: 'unsubscribed', eventId: draftId });
  });
});

describe('server → subscribers', () => {
  test('booking messages carry exactly the seat state, no user or booking identity', async () => {
    const event = await createEvent(server, token, { capacity: 10 });
    const watcher = connect(`${server.wsUrl}/ws/events/${event.id}?token=${aliceToken}`);
    await watcher.nextOfType('subscribed');
    const booked = await server.request('POST', '/api/bookings', { token, body: { eventId: event.id, quantity: 2 } });
    const created = await watcher.nextOfType('booking_created');
    expect(Object.keys(created).sort()).toEqual(['availableSeats', 'capacity', 'eventId', 'heldSeats', 'type', 'version']);
    expect(created).toEqual({ type: 'booking_created', eventId: event.id, availableSeats: 8, heldSeats: 0, capacity: 10, version: event.version + 1 });
    await server.request('DELETE', `/api/bookings/${booked.body.booking.id}`, { token });
    const cancelled = await watcher.nextOfType('booking_cancelled');
    expect(Object.keys(cancelled).sort()).toEqual(['availableSeats', 'capacity', 'eventId', 'heldSeats', 'type', 'version']);
    await closed(watcher);
  });

  test('a capacity change by the organizer → seat_update with the new capacity', async () => {
    const event = await createEvent(server, token, { capacity: 50 });
    const watcher = connect(`${server.wsUrl}/ws/events/${event.id}?token=${aliceToken}`);
    await watcher.nextOfType('subscribed');
    await server.request('POST', '/api/bookings', { token, body: { eventId: event.id, quantity: 5 } });
    await watcher.nextOfType('booking_created');
    const patched = await server.request('PATCH', `/api/events/${event.id}`, { token, body: { capacity: 45 } });
    expect(patched.status).toBe(200);
    expect(await watcher.nextOfType('seat_update')).toEqual({ type: 'seat_update', eventId: event.id, availableSeats: 40, heldSeats: 0, capacity: 45, version: event.version + 2 });
    // A patch that leaves the seats alone sends nothing (the next booking shows nothing came between).
    await server.request('PATCH', `/api/events/${event.id}`, { token, body: { name: 'Renamed' } });
    await server.request('POST', '/api/bookings', { token, body: { eventId: event.id } });
    expect(await watcher.nextOfType('booking_created')).toMatchObject({ availableSeats: 39, capacity: 45, version: event.version + 3 });
    expect(seatMessages(watcher, event.id).map((message) => message.type)).toEqual(['subscribed', 'booking_created', 'seat_update', 'booking_created']);
    expect(seatMessages(watcher, event.id).at(-1)).toEqual({ type: 'booking_created', ...(await eventState(server, token, event.id)) });
    await closed(watcher);
  });

  test('an event moved to draft: its other watchers get event_not_found and nothing more (4404 on /ws/events/:id), its organizer keeps watching', async () => {
    const event = await createEvent(server, token, { capacity: 10 });
    const organizer = connect(`${server.wsUrl}/ws/events/${event.id}?token=${token}`);
    await organizer.nextOfType('subscribed');
    const general = connect(`${server.wsUrl}/ws?token=${aliceToken}`);
    await general.nextOfType('connection_established');
    general.send({ type: 'subscribe_event', eventId: event.id });
    general.send({ type: 'subscribe_event', eventId: 1 });
    await general.next((message) => message.type === 'subscribed' && message.eventId === 1);
    const dedicated = connect(`${server.wsUrl}/ws/events/${event.id}?token=${aliceToken}`);
    await dedicated.nextOfType('subscribed');
    const booked = await server.request('POST', '/api/bookings', { token, body: { eventId: event.id, quantity: 2 } });
    expect(booked.status).toBe(201);
    for (const socket of [organizer, general, dedicated]) await untilHolds(socket, event.id, event.version + 1);

    const drafted = await server.request('PATCH', `/api/events/${event.id}`, { token, body: { status: 'draft' } });
    expect(drafted.status).toBe(200);
    const notFound = { type: 'error', code: 'event_not_found', eventId: event.id, message: expect.any(String) };
    expect(await general.nextOfType('error')).toEqual(notFound);
    expect(await dedicated.nextOfType('error')).toEqual(notFound);
    expect((await dedicated.closed).code).toBe(4404);
    expect(server.websocket.subscribersByEvent.get(event.id)).toEqual(new Set([organizer.messages[0].clientId]));

    // Seat changes of the draft go on: a cancel by the organizer and a capacity edit.
    const cancelled = await server.request('DELETE', `/api/bookings/${booked.body.booking.id}`, { token });
    expect(cancelled.status).toBe(200);
    expect((await server.request('PATCH', `/api/events/${event.id}`, { token, body: { capacity: 12 } })).status).toBe(200);
    expect(await untilHolds(organizer, event.id, event.version + 3)).toEqual({
      type: 'seat_update',
      eventId: event.id,
      availableSeats: 12,
      heldSeats: 0,
      capacity: 12,
      version: event.version + 3,
    });
    // Published to the organizer before this round trip: the other watcher would have had them by now.
    await roundTrip(general);
    expect(seatMessages(general, event.id).map((message) => message.version)).toEqual([event.version, event.version + 1]);
    expect(general.messages.filter((message) => message.eventId === event.id).at(-1)).toEqual(notFound);
    expect(general.isClosed()).toBe(false);
    general.send({ type: 'subscribe_event', eventId: event.id });
    expect(await general.nextOfType('error')).toEqual(notFound);

    // Published again, anyone may subscribe again; nobody was put back on its own.
    expect((await server.request('PATCH', `/api/events/${event.id}`, { token, body: { status: 'published' } })).status).toBe(200);
    expect((await server.request('POST', '/api/bookings', { token, body: { eventId: event.id } })).status).toBe(201);
    await untilHolds(organizer, event.id, event.version + 4);
    await roundTrip(general);
    expect(seatMessages(general, event.id)).toHaveLength(2);
    general.send({ type: 'subscribe_event', eventId: event.id });
    expect(await general.nextOfType('subscribed')).toEqual({ type: 'subscribed', eventId: event.id, availableSeats: 11, heldSeats: 0, capacity: 12, version: event.version + 4 });
    await Promise.all([organizer, general].map(closed));
  });

  test('one connection watching several events gets each its own updates', async () => {
    const first = await createEvent(server, token, { capacity: 5 });
    const second = await createEvent(server, token, { capacity: 7 });
    const socket = connect(`${server.wsUrl}/ws?token=${aliceToken}`);
    await socket.nextOfType('connection_established');
    socket.send({ type: 'subscribe_event', eventId: first.id });
    socket.send({ type: 'subscribe_event', eventId: second.id });
    await untilHolds(socket, second.id, second.version);
    await server.request('POST', '/api/bookings', { token, body: { eventId: second.id } });
    await server.request('POST', '/api/bookings', { token, body: { eventId: first.id, quantity: 2 } });
    expect(await untilHolds(socket, first.id, first.version + 1)).toMatchObject({ availableSeats: 3 });
    expect(await untilHolds(socket, second.id, second.version + 1)).toMatchObject({ availableSeats: 6 });
    await closed(socket);
  });
});

describe('lifecycle', () => {
  test('closing a connection removes it from the clients map and every subscription at once', async () => {
    const event = await createEvent(server, token, { capacity: 5 });
    const socket = connect(`${server.wsUrl}/ws/events/${event.id}?token=${token}`);
    const { clientId } = await socket.nextOfType('connection_established');
    await socket.nextOfType('subscribed');
    socket.send({ type: 'subscribe_event', eventId: 1 });
    await untilHolds(socket, 1, (await eventState(server, token, 1)).version);
    expect(server.websocket.subscribersByEvent.get(event.id)?.has(clientId)).toBe(true);
    await closed(socket);
    await waitFor(() => !server.websocket.clients.has(clientId), 5000, 'the client to leave');
    expect(server.websocket.subscribersByEvent.has(event.id)).toBe(false);
    expect(server.websocket.subscribersByEvent.get(1)?.has(clientId) ?? false).toBe(false);
  });

  test('a token expiring while connected: token_expiring, then token_expired and 4401 within a second of exp', async () => {
    const shortLived = await startTestServer({ database, config: { jwtExpiresInSeconds: 2 } });
    try {
      const shortToken = await login(shortLived);
      const exp = JSON.parse(atob(shortToken.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))).exp as number;
      const socket = connect(`${shortLived.wsUrl}/ws/events/1?token=${shortToken}`);
      await socket.nextOfType('subscribed');
      const expired = await socket.nextOfType('error', 5000);
      const receivedAt = Date.now();
      expect(expired).toEqual({ type: 'error', code: 'token_expired', message: expect.any(String) });
      expect((await socket.closed).code).toBe(4401);
      expect(receivedAt).toBeGreaterThanOrEqual(exp * 1000);
      expect(receivedAt - exp * 1000).toBeLessThan(1000);
      // Less than 60 s was left from the start, so it was warned at once (websocket-refresh.test.ts).
      expect(socket.messages.map((message) => message.type)).toEqual(['connection_established', 'subscribed', 'token_expiring', 'error']);
      await waitFor(() => shortLived.websocket.clients.size === 0, 5000, 'the expired client to leave');
    } finally {
      await shortLived.stop();
    }
  });

  test('stop() closes open sockets with 1001', async () => {
    const stopping = await startTestServer({ database });
    const sockets = [connect(`${stopping.wsUrl}/ws?token=${token}`), connect(`${stopping.wsUrl}/ws/events/1?token=${aliceToken}`)];
    await sockets[0]!.nextOfType('connection_established');
    await sockets[1]!.nextOfType('subscribed');
    await stopping.stop();
    const codes = await Promise.all(sockets.map(async (socket) => (await socket.closed).code));
    expect(codes).toEqual([1001, 1001]);
    expect(stopping.websocket.clients.size).toBe(0);
    expect(stopping.websocket.subscribersByEvent.size).toBe(0);
  });

  test('tokens never appear in logs, query strings included', async () => {
    const lines: string[] = [];
    const logged = await startServer(testConfig({ logLevel: 'debug' }), { database, logger: createLogger('debug', (line) => lines.push(line)) });
    const base = `127.0.0.1:${logged.port}`;
    try {
      const user = await registerUser(server, 'logcheck');
      const tokensUsed = [user.token, token];
      const general = connect(`ws://${base}/ws?token=${user.token}`);
      await general.nextOfType('connection_established');
      const watcher = connect(`ws://${base}/ws/events/1?access_token=${token}&token=${token}`);
      await watcher.nextOfType('subscribed');
      const viaHeader = connect(`ws://${base}/ws/events/1`, { headers: { authorization: `Bearer ${user.token}` } });
      await viaHeader.nextOfType('subscribed');
      const rejected = connect(`ws://${base}/ws?token=${user.token}x`);
      await rejected.closed;
      const notFound = connect(`ws://${base}/ws/events/999999?token=${user.token}`);
      await notFound.closed;
      await fetch(`http://${base}/api/auth/me`, { headers: { authorization: `Bearer ${user.token}` } });
      await fetch(`http://${base}/api/events?token=${token}`);
      await fetch(`http://${base}/api/events/1?token=${token}`, { headers: { authorization: `Bearer ${token}x` } });
      await fetch(`http://${base}/api/nowhere?token=${token}`);
      await fetch(`http://${base}/api/bookings`, { method: 'POST', headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' }, body: '{"eventId":1}' });
      await Promise.all([general, watcher, viaHeader].map(closed));
      await logged.stop();
      expect(lines.length).toBeGreaterThan(5);
      for (const line of lines) for (const used of tokensUsed) expect(line).not.toContain(used);
      // The signature alone is as secret as the whole token.
      for (const line of lines) for (const used of tokensUsed) expect(line).not.toContain(used.split('.')[2]!);
    } finally {
      await logged.stop();
    }
  });
});

describe('the :id of /ws/events/:id', () => {
  // Through a socket only `abc` is shown (above); these are the edges of what names an event.
  test('is an event id only as 1 to 10 digits within the row-id range', () => {
    expect(parseRequestedEvent('42')).toEqual({ eventId: 42 });
    expect(parseRequestedEvent('007')).toEqual({ eventId: 7 });
    expect(parseRequestedEvent('2147483647')).toEqual({ eventId: 2_147_483_647 });
    for (const id of ['0', '2147483648', '12345678901', '-1', '1e3', '1.5', ' 1', '']) expect(parseRequestedEvent(id)).toEqual({ notAnEventId: id });
  });
});
