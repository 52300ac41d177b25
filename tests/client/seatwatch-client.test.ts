import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import {
  createSeatwatchClient,
  type ConnectionState,
  type ConnectionStateChange,
  type SeatState,
  type SeatwatchClient,
  type SeatwatchClientOptions,
  type ServerMessage,
  type Timers,
  type TokenRefreshError,
} from '../../src/client';
import type { DatabaseHandle } from '../../src/db/client';
import { events } from '../../src/db/schema';
import { createTokens } from '../../src/lib/tokens';
import { bookSeats } from '../../src/services/booking';
import { createInProcessSeatFeed } from '../../src/services/seat-feed';
import { openTestDatabase, startTestServer, testConfig, type TestServer } from '../support/server';
import { waitFor } from '../support/ws';
import { createWaiter } from '../support/waiter';

/**
 * The client against a real server on a real database, including a server restart on the same
 * port and database, and a network that goes silent (a TCP proxy that stops forwarding).
 */

let database: DatabaseHandle;
let server: TestServer;
let token: string;
let userId: number;
const clients: SeatwatchClient[] = [];

beforeAll(async () => {
  database = await openTestDatabase();
  server = await startTestServer({ database });
  const login = await server.request('POST', '/api/auth/login', { body: { email: 'test@example.com', password: 'password' } });
  token = login.body.token;
  userId = login.body.user.id;
}, 60_000);

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

afterAll(async () => {
  await server.stop();
  await database.close();
});

/** Real timers that remember which are still pending, so a test can prove none are left. */
function trackedTimers(): { timers: Timers; pending: Set<unknown> } {
  const pending = new Set<unknown>();
  const timers: Timers = {
    setTimeout(callback, ms) {
      const handle = setTimeout(() => {
        pending.delete(handle);
        callback();
      }, ms);
      pending.add(handle);
      return handle;
    },
    clearTimeout(handle) {
      pending.delete(handle);
      clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
    setInterval(callback, ms) {
      const handle = setInterval(callback, ms);
      pending.add(handle);
      return handle;
    },
    clearInterval(handle) {
      pending.delete(handle);
      clearInterval(handle as ReturnType<typeof setInterval>);
    },
  };
  return { timers, pending };
}

/** Everything a client reports, with waits that wake on each report (no sleeping). */
function record(client: SeatwatchClient) {
  const states: ConnectionStateChange[] = [];
  const seats: SeatState[] = [];
  const messages: ServerMessage[] = [];
  const waiter = createWaiter();
  client.onStateChange((change) => {
    states.push(change);
    waiter.wake();
  });
  client.onSeats((_eventId, state) => {
    seats.push(state);
    waiter.wake();
  });
  client.onMessage((message) => {
    messages.push(message);
    waiter.wake();
  });

  function until<T>(label: string, find: () => T | undefined, timeoutMs = 5000): Promise<T> {
    return waiter.until(
      find,
      timeoutMs,
      () => `timed out after ${timeoutMs} ms waiting for ${label}; states ${JSON.stringify(states.map((s) => s.state))}, last messages ${JSON.stringify(messages.slice(-5))}`,
    );
  }

  return {
    states,
    seats,
    messages,
    /** Resolves once the client is in this state (at once if it already is). */
    state(wanted: ConnectionState, timeoutMs?: number) {
      return until(`state ${wanted}`, () => (client.state === wanted ? states.findLast((s) => s.state === wanted) ?? ({ state: wanted } as ConnectionStateChange) : undefined), timeoutMs);
    },
    /** The first seat delivery from index `from` on matching the predicate. */
    seatsFrom(from: number, predicate: (state: SeatState) => boolean, timeoutMs?: number) {
      return until('seats', () => seats.slice(from).find(predicate), timeoutMs);
    },
    messageFrom(from: number, predicate: (message: ServerMessage) => boolean, timeoutMs?: number) {
      return until('message', () => messages.slice(from).find(predicate), timeoutMs);
    },
    until,
  };
}

function newClient(options: Partial<SeatwatchClientOptions> = {}): SeatwatchClient {
  const client = createSeatwatchClient({ url: server.url, token, reconnectBaseMs: 20, reconnectCapMs: 200, ...options });
  clients.push(client);
  return client;
}

async function seatsInDatabase(eventId: number): Promise<{ availableSeats: number; version: number }> {
  const [row] = await database.db.select({ availableSeats: events.availableSeats, version: events.version }).from(events).where(eq(events.id, eventId));
  return row!;
}

async function book(eventId: number, quantity: number): Promise<{ bookingId: number; availableSeats: number }> {
  const response = await server.request('POST', '/api/bookings', { token, body: { eventId, quantity } });
  expect(response.status).toBe(201);
  return { bookingId: response.body.booking.id, availableSeats: response.body.availableSeats };
}

test('subscribes, gets the snapshot, then every booking and cancellation as it happens', async () => {
  const client = newClient();
  const seen = record(client);
  expect(client.state).toBe('connecting');
  await seen.state('open');

  client.subscribe(2);
  const snapshot = await seen.seatsFrom(0, (state) => state.eventId === 2);
  expect(snapshot).toMatchObject({ availableSeats: 120, capacity: 120 });
  expect(client.subscriptions()).toEqual([2]);

  const booked = await book(2, 3);
  expect(await seen.seatsFrom(1, () => true)).toEqual({ eventId: 2, availableSeats: 117, heldSeats: 0, capacity: 120, version: snapshot.version + 1 });
  expect(seen.messages.some((message) => message.type === 'booking_created')).toBe(true);

  const cancelled = await server.request('DELETE', `/api/bookings/${booked.bookingId}`, { token });
  expect(cancelled.status).toBe(200);
  expect(await seen.seatsFrom(2, () => true)).toEqual({ eventId: 2, availableSeats: 120, heldSeats: 0, capacity: 120, version: snapshot.version + 2 });
  expect(client.seats(2)).toEqual({ eventId: 2, availableSeats: 120, heldSeats: 0, capacity: 120, version: snapshot.version + 2 });

  client.unsubscribe(2);
  await seen.messageFrom(0, (message) => message.type === 'unsubscribed');
  expect(client.subscriptions()).toEqual([]);
  expect(server.websocket.subscribersByEvent.has(2)).toBe(false);
});

test('a repeated version is dropped: onSeats only hears news, raw handlers hear everything', async () => {
  const client = newClient();
  const seen = record(client);
  await seen.state('open');
  client.subscribe(3);
  const first = await seen.seatsFrom(0, (state) => state.eventId === 3);

  // Subscribing again makes the server re-send the snapshot at the same version: not news.
  const messagesBefore = seen.messages.length;
  client.subscribe(3);
  const repeated = await seen.messageFrom(messagesBefore, (message) => message.type === 'subscribed');
  expect(repeated).toMatchObject({ eventId: 3, version: first.version });
  expect(seen.seats).toHaveLength(1);

  await book(3, 1);
  expect(await seen.seatsFrom(1, () => true)).toMatchObject({ eventId: 3, version: first.version + 1, availableSeats: first.availableSeats - 1 });
  expect(seen.seats).toHaveLength(2);
});

test('server restart on the same port and database: reconnecting, then open, resubscribed and equal to the database', async () => {
  let tokenLookups = 0;
  const client = newClient({
    token: () => {
      tokenLookups += 1;
      return token;
    },
  });
  const seen = record(client);
  await seen.state('open');
  client.subscribe(1);
  const before = await seen.seatsFrom(0, (state) => state.eventId === 1);
  expect(tokenLookups).toBe(1);

  const port = server.port;
  const statesBefore = seen.states.length;
  await server.stop();
  let messagesBefore: number;
  try {
    await seen.state('reconnecting');
    // The server's own close says "going away"; later attempts while it is down fail with 1006.
    expect(seen.states.slice(statesBefore).find((change) => change.state === 'reconnecting')?.closeCode).toBe(1001);

    // A booking while no server runs: only the database knows about it.
    const whileDown = await bookSeats(database.db, createInProcessSeatFeed(), { userId, eventId: 1, quantity: 4 });
    expect(whileDown.availableSeats).toBe(before.availableSeats - 4);
  } finally {
    // Started even when a check above failed: the file's later tests need a server.
    messagesBefore = seen.messages.length;
    server = await startTestServer({ database, config: { port } });
  }
  expect(server.port).toBe(port);
  await seen.state('open', 10_000);
  expect(tokenLookups).toBeGreaterThan(1);

  const resubscribed = await seen.messageFrom(messagesBefore, (message) => message.type === 'subscribed' && message.eventId === 1);
  const inDatabase = await seatsInDatabase(1);
  expect(resubscribed).toMatchObject({ availableSeats: inDatabase.availableSeats, version: inDatabase.version });
  expect(await seen.seatsFrom(1, (state) => state.eventId === 1)).toMatchObject(inDatabase);
  expect(client.seats(1)).toMatchObject({ availableSeats: before.availableSeats - 4 });
  expect(server.websocket.subscribersByEvent.get(1)?.size).toBe(1);

  // And it is live again on the new server.
  await book(1, 1);
  expect(await seen.seatsFrom(2, () => true)).toMatchObject({ availableSeats: before.availableSeats - 5, version: inDatabase.version + 1 });
}, 20_000);

test('4401 stops reconnecting until a new token is given', async () => {
  const { timers, pending } = trackedTimers();
  const client = newClient({ token: 'not-a-jwt', timers });
  const seen = record(client);
  const closed = await seen.state('closed');
  expect(closed).toMatchObject({ closeCode: 4401, closedReason: 'unauthorized' });
  expect(seen.messages).toEqual([expect.objectContaining({ type: 'error', code: 'unauthorized' })]);
  // Nothing is scheduled: no retry is coming.
  expect(pending.size).toBe(0);
  expect(seen.states.map((change) => change.state)).toEqual(['closed']);

  client.subscribe(1);
  client.setToken(token);
  await seen.state('open');
  expect(await seen.seatsFrom(0, (state) => state.eventId === 1)).toMatchObject(await seatsInDatabase(1));
});

test('a token source whose token is refused at connect: closed, not retried in a loop', async () => {
  let sourceCalls = 0;
  const client = newClient({
    token: () => {
      sourceCalls += 1;
      return 'not-a-jwt';
    },
  });
  const seen = record(client);
  expect(await seen.state('closed')).toMatchObject({ closeCode: 4401, closedReason: 'unauthorized' });
  await Bun.sleep(300);
  expect(sourceCalls).toBe(1);
  expect(client.state).toBe('closed');
});

test('a fixed token (nothing to refresh from): token_expired, 4401, closed; setToken brings it back resubscribed', async () => {
  const { timers, pending } = trackedTimers();
  const shortLived = await createTokens(testConfig().jwtSecret, 2).sign({ id: userId, email: 'test@example.com', name: 'Test User' });
  const client = newClient({ token: shortLived, timers });
  const seen = record(client);
  await seen.state('open');
  client.subscribe(1);
  await seen.seatsFrom(0, (state) => state.eventId === 1);

  const closed = await seen.state('closed', 5000);
  expect(closed).toMatchObject({ closeCode: 4401, closedReason: 'unauthorized' });
  expect(seen.messages.some((message) => message.type === 'error' && message.code === 'token_expired')).toBe(true);
  expect(pending.size).toBe(0);

  const messagesBefore = seen.messages.length;
  client.setToken(token);
  await seen.state('open');
  await seen.messageFrom(messagesBefore, (message) => message.type === 'subscribed' && message.eventId === 1);
}, 20_000);

describe('token refresh (SPEC §5): a token source keeps the connection across token lifetimes', () => {
  const secret = testConfig().jwtSecret;
  const testUser = () => ({ id: userId, email: 'test@example.com', name: 'Test User' });
  const expOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()).exp as number;
  let shortLived: TestServer;

  beforeAll(async () => {
    // Same database, tokens of 3 s (JWT_EXPIRES_IN=3s).
    shortLived = await startTestServer({ database, config: { jwtExpiresInSeconds: 3 } });
  });
  afterAll(() => shortLived.stop());

  async function signIn(): Promise<string> {
    const response = await shortLived.request('POST', '/api/auth/login', { body: { email: 'test@example.com', password: 'password' } });
    expect(response.status).toBe(200);
    return response.body.token;
  }

  test('answers every token_expiring with refresh_token: open for 15 s (five lifetimes) without leaving `open`, no gap in versions', async () => {
    let current = await signIn();
    let sourceCalls = 0;
    const client = newClient({
      url: shortLived.url,
      // What an app does: the first call gives the token it has, later ones refresh it over REST.
      token: async () => {
        sourceCalls += 1;
        if (sourceCalls > 1) {
          const refreshed = await shortLived.request('POST', '/api/auth/refresh', { token: current });
          expect(refreshed.status).toBe(200);
          current = refreshed.body.token;
        }
        return current;
      },
    });
    const seen = record(client);
    const refreshErrors: TokenRefreshError[] = [];
    client.onTokenRefreshError((error) => refreshErrors.push(error));
    await seen.state('open');
    const booker = await createTokens(secret, 3600).sign(testUser());
    const created = await shortLived.request('POST', '/api/events', { token: booker, body: { name: 'Long session', startsAt: '2031-01-01T20:00:00Z', capacity: 1000 } });
    const eventId: number = created.body.event.id;
    client.subscribe(eventId);
    await seen.seatsFrom(0, (state) => state.eventId === eventId);

    const started = Date.now();
    while (Date.now() - started < 15_000) {
      const booked = await shortLived.request('POST', '/api/bookings', { token: booker, body: { eventId } });
      expect(booked.status).toBe(201);
      await Bun.sleep(100);
    }
    const final = await seatsInDatabase(eventId);
    await seen.seatsFrom(0, (state) => state.eventId === eventId && state.version === final.version);

    expect(seen.states.map((change) => change.state)).toEqual(['open']);
    expect(refreshErrors).toEqual([]);
    expect(seen.messages.filter((message) => message.type === 'token_refreshed').length).toBeGreaterThanOrEqual(5);
    expect(seen.messages.some((message) => message.type === 'error')).toBe(false);
    const versions = seen.seats.filter((state) => state.eventId === eventId).map((state) => state.version);
    expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => versions[0]! + i));
    expect(versions.length).toBeGreaterThan(50);
  }, 30_000);

  const failures: [TokenRefreshError['reason'], (other: string) => () => Promise<string | null>][] = [
    ['source_failed', () => async () => Promise.reject(new Error('offline'))],
    ['no_token', () => async () => null],
    // Alice's token, valid but not this connection's user.
    ['refused', (alice) => async () => alice],
  ];
  for (const [reason, secondCall] of failures) {
    test(`a refresh that fails (${reason}): a typed TokenRefreshError; closed 4401 at the old expiry, then back with a fresh token, resubscribed`, async () => {
      const first = await signIn();
      const alice = (await shortLived.request('POST', '/api/auth/login', { body: { email: 'alice@example.com', password: 'password' } })).body.token as string;
      const afterwards = await createTokens(secret, 3600).sign(testUser());
      const calls = [async () => first, secondCall(alice), async () => afterwards];
      let sourceCalls = 0;
      const client = newClient({ url: shortLived.url, token: () => (calls[Math.min(sourceCalls++, calls.length - 1)] as () => Promise<string | null>)() });
      const seen = record(client);
      const refreshErrors: TokenRefreshError[] = [];
      client.onTokenRefreshError((error) => refreshErrors.push(error));
      await seen.state('open');
      client.subscribe(1);
      await seen.seatsFrom(0, (state) => state.eventId === 1);

      const dropped = await seen.state('reconnecting', 5000);
      expect(dropped.closeCode).toBe(4401);
      expect(Date.now()).toBeGreaterThanOrEqual(expOf(first) * 1000);
      expect(refreshErrors).toHaveLength(1);
      expect(refreshErrors[0]).toMatchObject({ name: 'TokenRefreshError', reason, expiresAt: new Date(expOf(first) * 1000).toISOString() });
      expect(seen.messages.some((message) => message.type === 'error' && message.code === 'token_expired')).toBe(true);

      const messagesBefore = seen.messages.length;
      await seen.until('open again', () => (client.state === 'open' && seen.states.at(-1)?.previous === 'reconnecting' ? true : undefined));
      await seen.messageFrom(messagesBefore, (message) => message.type === 'subscribed' && message.eventId === 1);
      expect(sourceCalls).toBe(3);
    }, 20_000);
  }
});

test('4429 (rate limited) waits longer before coming back', async () => {
  // Lift the client's own pacing so the server's limit is what is hit.
  const client = newClient({ sendRate: { burst: 10_000, perSecond: 10_000 }, rateLimitedDelayMs: 300, reconnectBaseMs: 10, reconnectCapMs: 10 });
  const seen = record(client);
  await seen.state('open');
  for (let i = 0; i < 300; i++) client.subscribe(4);

  const limited = await seen.until('a 4429 close', () => seen.states.find((change) => change.closeCode === 4429));
  expect(limited.state).toBe('reconnecting');
  expect(limited.retryInMs).toBeGreaterThanOrEqual(300);
  const reopened = seen.states.length;
  await seen.until('open again', () => seen.states.slice(reopened).find((change) => change.state === 'open'));
}, 20_000);

test('keep-alive: by default a ping goes out every 30 s (SPEC §5), and the server answers it', async () => {
  const intervals: { ms: number; callback: () => void }[] = [];
  const { timers: tracked } = trackedTimers();
  const timers: Timers = {
    ...tracked,
    setInterval(callback, ms) {
      intervals.push({ ms, callback });
      return tracked.setInterval(callback, ms);
    },
  };
  const client = newClient({ timers });
  const seen = record(client);
  await seen.state('open');
  expect(intervals.map((interval) => interval.ms)).toEqual([30_000]);
  // One tick of that interval, without waiting 30 s: a ping goes out and its pong comes back.
  const from = seen.messages.length;
  intervals[0]!.callback();
  expect(await seen.messageFrom(from, (message) => message.type === 'pong')).toEqual({ type: 'pong' });
});

test('keep-alive: pings every interval; when the network goes silent it reconnects, and catches up', async () => {
  const proxy = startFreezableProxy(server.port);
  try {
    const client = newClient({ url: `ws://127.0.0.1:${proxy.port}/ws`, pingIntervalMs: 100, livenessTimeoutMs: 400, reconnectBaseMs: 10, reconnectCapMs: 50 });
    const seen = record(client);
    let pongs = 0;
    client.on('pong', (pong) => {
      expect(pong).toEqual({ type: 'pong' });
      pongs += 1;
    });
    await seen.state('open');
    client.subscribe(1);
    const before = await seen.seatsFrom(0, (state) => state.eventId === 1);
    await seen.messageFrom(0, (message) => message.type === 'pong');
    expect(pongs).toBeGreaterThan(0);

    // No close frame, no error: bytes simply stop flowing, as when a Wi-Fi network drops.
    const statesBefore = seen.states.length;
    proxy.freeze();
    await seen.state('reconnecting');
    const silent = seen.states.slice(statesBefore).find((change) => change.state === 'reconnecting');
    expect(silent).toBeDefined();
    expect(silent?.closeCode).toBeUndefined();
    await book(1, 2);

    proxy.thaw();
    await seen.state('open', 10_000);
    const caughtUp = await seen.seatsFrom(1, (state) => state.eventId === 1);
    expect(caughtUp).toMatchObject(await seatsInDatabase(1));
    expect(caughtUp.availableSeats).toBe(before.availableSeats - 2);
  } finally {
    proxy.stop();
  }
}, 20_000);

test('close() stops everything and leaves no timers', async () => {
  const { timers, pending } = trackedTimers();
  const client = newClient({ timers, pingIntervalMs: 50 });
  const seen = record(client);
  await seen.state('open');
  const hello = await seen.messageFrom(0, (message) => message.type === 'connection_established');
  const clientId = hello.type === 'connection_established' ? hello.clientId : '';
  expect(server.websocket.clients.has(clientId)).toBe(true);
  client.subscribe(1);
  await seen.messageFrom(0, (message) => message.type === 'pong');
  expect(pending.size).toBeGreaterThan(0);

  client.close();
  expect(client.state).toBe('closed');
  expect(seen.states.at(-1)).toMatchObject({ state: 'closed', closedReason: 'client' });
  expect(pending.size).toBe(0);
  await waitFor(() => !server.websocket.clients.has(clientId), 5000, 'the server to drop the connection');

  // Closed for good: a new token does not reopen it.
  client.setToken(token);
  expect(client.state).toBe('closed');
  expect(pending.size).toBe(0);
});

/**
 * A TCP proxy in front of the server that can stop forwarding bytes without closing anything:
 * the half-open connection a keep-alive exists to detect.
 */
function startFreezableProxy(targetPort: number) {
  let frozen = false;
  type Upstream = Awaited<ReturnType<typeof Bun.connect>>;
  const listener = Bun.listen<{ upstream?: Upstream; early: Uint8Array[] }>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      async open(downstream) {
        downstream.data = { early: [] };
        try {
          const upstream = await Bun.connect({
            hostname: '127.0.0.1',
            port: targetPort,
            socket: {
              data(_socket, chunk) {
                if (!frozen) downstream.write(chunk);
              },
              close() {
                downstream.end();
              },
              error() {
                downstream.end();
              },
            },
          });
          downstream.data.upstream = upstream;
          for (const chunk of downstream.data.early.splice(0)) upstream.write(chunk);
        } catch {
          downstream.end();
        }
      },
      data(downstream, chunk) {
        if (frozen) return;
        if (downstream.data.upstream) downstream.data.upstream.write(chunk);
        else downstream.data.early.push(new Uint8Array(chunk));
      },
      close(downstream) {
        downstream.data.upstream?.end();
      },
      error(downstream) {
        downstream.data.upstream?.end();
      },
    },
  });
  return {
    port: listener.port,
    freeze() {
      frozen = true;
    },
    thaw() {
      frozen = false;
    },
    stop() {
      listener.stop(true);
    },
  };
}
