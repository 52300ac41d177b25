import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import type { DatabaseHandle } from '../../src/db/client';
import { login, openTestDatabase, registerUser, startTestServer, type TestServer } from '../support/server';
import { connect, waitFor, type TestSocket } from '../support/ws';
import { closed, createEvent, eventState, expectStrictlyIncreasing, seatMessages, untilHolds } from '../support/websocket-helpers';

// Generous: the machine running the suite may be busy; the waits inside are what bound each test.
setDefaultTimeout(30_000);

/**
 * The feed's guarantees under concurrency, on a real server: versions strictly increase per
 * connection and event, nothing stale follows a snapshot, and once changes stop every watcher
 * holds what the database holds. Also: cleanup after hundreds of abrupt disconnects.
 */

let database: DatabaseHandle;
let everyChange: TestServer; // FANOUT_COALESCE_MS=0
let coalescing: TestServer; // FANOUT_COALESCE_MS=50, same database
let token: string;
let bookerTokens: string[];

beforeAll(async () => {
  database = await openTestDatabase();
  everyChange = await startTestServer({ database, config: { fanoutCoalesceMs: 0 } });
  coalescing = await startTestServer({ database, config: { fanoutCoalesceMs: 50 } });
  token = await login(everyChange);
  bookerTokens = [token, await login(everyChange, 'alice@example.com'), (await registerUser(everyChange, 'booker')).token];
}, 30_000);

afterAll(async () => {
  await everyChange.stop();
  await coalescing.stop();
  await database.close();
});

async function book(server: TestServer, eventId: number, i: number): Promise<void> {
  const response = await server.request('POST', '/api/bookings', { token: bookerTokens[i % bookerTokens.length], body: { eventId } });
  expect(response.status).toBe(201);
}

/** Checks every watcher: strictly increasing versions (snapshot included), ends on the database state. */
async function expectWatchersEndOnDatabase(server: TestServer, watchers: TestSocket[], eventId: number): Promise<any[][]> {
  const final = await eventState(server, token, eventId);
  const histories: any[][] = [];
  for (const [index, watcher] of watchers.entries()) {
    await untilHolds(watcher, eventId, final.version, 5000);
    const history = seatMessages(watcher, eventId);
    expectStrictlyIncreasing(history.map((message) => message.version), `watcher ${index}`);
    expect(history[0].type).toBe('subscribed');
    const { type: _type, ...last } = history.at(-1);
    expect(last).toEqual(final);
    histories.push(history);
  }
  return histories;
}

describe('400 concurrent bookings, 3 watchers', () => {
  async function run(server: TestServer) {
    const event = await createEvent(server, token, { capacity: 500 });
    const watchers = Array.from({ length: 3 }, () => connect(`${server.wsUrl}/ws/events/${event.id}?token=${token}`));
    await Promise.all(watchers.map((watcher) => watcher.nextOfType('subscribed')));
    await Promise.all(Array.from({ length: 400 }, (_, i) => book(server, event.id, i)));
    await expectWatchersEndOnDatabase(server, watchers, event.id);
    const final = await eventState(server, token, event.id);
    expect(final).toMatchObject({ availableSeats: 100, capacity: 500, version: event.version + 400 });
    await Promise.all(watchers.map(closed));
    // Per watcher: the arrival times of the updates after its snapshot.
    return watchers.map((watcher) =>
      watcher.messages.flatMap((message, index) => (message.eventId === event.id && message.type !== 'subscribed' && typeof message.version === 'number' ? [watcher.receivedAt[index]!] : [])),
    );
  }

  test('FANOUT_COALESCE_MS=0: strictly increasing, last message equals the database', async () => {
    const arrivals = await run(everyChange);
    console.log(`coalesce 0: updates per watcher ${arrivals.map((times) => times.length).join(', ')}`);
  });

  test('FANOUT_COALESCE_MS=50: at most one message per 50 ms window, still strictly increasing, last equals the database', async () => {
    const arrivals = await run(coalescing);
    for (const times of arrivals) {
      const spanMs = times.at(-1)! - times[0]!;
      // One message opens a quiet spell, then at most one per window; the slack covers delivery jitter.
      expect(times.length).toBeLessThanOrEqual(Math.floor(spanMs / 50) + 3);
    }
    console.log(`coalesce 50: updates per watcher ${arrivals.map((times) => `${times.length} over ${Math.round(times.at(-1)! - times[0]!)} ms`).join(', ')}`);
  });
});

describe('snapshot race: watchers subscribing while bookings are in flight', () => {
  const ROUNDS = Number(process.env.WS_RACE_ROUNDS ?? 8);
  for (const [label, serverOf] of [
    ['coalesce 0', () => everyChange],
    ['coalesce 50', () => coalescing],
  ] as const) {
    test(`${label}: watchers joining a hot event never go back, and end on the database`, async () => {
      const server = serverOf();
      const event = await createEvent(server, token, { capacity: 1000 });
      const total = 300;
      let made = 0;
      const bookers = Array.from({ length: 8 }, async (_, worker) => {
        while (made < total) {
          made += 1;
          await book(server, event.id, worker);
        }
      });
      const watchers: TestSocket[] = [];
      const joiners = (async () => {
        for (let i = 0; i < 24 && made < total; i++) {
          const viaPath = i % 2 === 0;
          const watcher = connect(viaPath ? `${server.wsUrl}/ws/events/${event.id}?token=${token}` : `${server.wsUrl}/ws?token=${token}`);
          if (!viaPath) {
            await watcher.nextOfType('connection_established');
            watcher.send({ type: 'subscribe_event', eventId: event.id });
          }
          watchers.push(watcher);
          await watcher.nextOfType('subscribed');
          const target = made + 10;
          await waitFor(() => made >= target || made >= total, 10_000, 'more bookings');
        }
      })();
      await Promise.all([...bookers, joiners]);
      expect(watchers.length).toBeGreaterThan(5);
      await expectWatchersEndOnDatabase(server, watchers, event.id);
      await Promise.all(watchers.map(closed));
    }, 30_000);

    test(`${label}: first watchers of quiet events, each racing one booking, end on the database`, async () => {
      const server = serverOf();
      const events = await Promise.all(Array.from({ length: 40 }, () => createEvent(server, token, { capacity: 100 })));
      const watchers = await Promise.all(
        events.map(async () => {
          const watcher = connect(`${server.wsUrl}/ws?token=${token}`);
          await watcher.nextOfType('connection_established');
          return watcher;
        }),
      );
      // Each round, each event's only watcher asks for its snapshot while a booking commits, then
      // leaves again so that the next round's subscription is a first one too.
      for (let round = 0; round < ROUNDS; round++) {
        await Promise.all(
          events.map(async (event, i) => {
            const booking = book(server, event.id, i);
            const delay = (i + round) % 4;
            if (delay) await Bun.sleep(delay - 1);
            watchers[i]!.send({ type: 'subscribe_event', eventId: event.id });
            await booking;
          }),
        );
        for (const [i, event] of events.entries()) {
          const final = await eventState(server, token, event.id);
          expect(final.version).toBe(event.version + round + 1);
          await untilHolds(watchers[i]!, event.id, final.version, 3000);
          expect(seatMessages(watchers[i]!, event.id).at(-1)).toMatchObject(final);
          watchers[i]!.send({ type: 'unsubscribe_event', eventId: event.id });
        }
        await waitFor(() => events.every((event) => !server.websocket.subscribersByEvent.has(event.id)), 5000, 'everyone to have left');
      }
      await Promise.all(watchers.map(closed));
    }, 60_000);
  }
});

describe('abrupt disconnects', () => {
  test('500 sockets open, subscribe, vanish: both maps empty again, and the feed still works', async () => {
    const server = everyChange;
    await waitFor(() => server.websocket.clients.size === 0, 5000, 'earlier tests to have closed');
    const event = await createEvent(server, token, { capacity: 50 });
    const sockets = Array.from({ length: 500 }, (_, i) =>
      connect(i % 2 === 0 ? `${server.wsUrl}/ws/events/${event.id}?token=${token}` : `${server.wsUrl}/ws?token=${token}`),
    );
    await Promise.all(
      sockets.map(async (socket, i) => {
        if (i % 2 === 1) {
          await socket.nextOfType('connection_established');
          socket.send({ type: 'subscribe_event', eventId: event.id });
          socket.send({ type: 'subscribe_event', eventId: 1 });
        }
        await socket.nextOfType('subscribed', 15_000);
      }),
    );
    await waitFor(() => server.websocket.subscribersByEvent.get(event.id)?.size === 500, 10_000, 'all 500 subscribed');
    expect(server.websocket.clients.size).toBe(500);

    // terminate(): the TCP connection drops without a close handshake (Bun's client has it).
    for (const { socket } of sockets) {
      const abrupt = socket as WebSocket & { terminate?: () => void };
      if (abrupt.terminate) abrupt.terminate();
      else abrupt.close();
    }
    await waitFor(() => server.websocket.clients.size === 0 && server.websocket.subscribersByEvent.size === 0, 15_000, 'both maps to empty');
    // A snapshot read still in flight for a vanished client keeps its event tracked until it returns.
    await waitFor(() => server.websocket.watchedEventIds().length === 0, 5000, 'no event left tracked');
    expect(server.websocket.stats()).toEqual({ connections: 0, subscriptions: 0 });

    const watcher = connect(`${server.wsUrl}/ws/events/${event.id}?token=${token}`);
    await watcher.nextOfType('subscribed');
    await book(server, event.id, 0);
    expect(await watcher.nextOfType('booking_created')).toMatchObject({ eventId: event.id, availableSeats: 49, version: event.version + 1 });
    await closed(watcher);
  });
});
