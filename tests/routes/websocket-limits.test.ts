import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { createEvent as createEventRow } from '../../src/services/event';
import { login, startTestServer, type TestServer } from '../support/server';
import { connect, waitFor, type TestSocket } from '../support/ws';
import { closed } from '../support/websocket-helpers';

// Generous: the machine running the suite may be busy; the waits inside are what bound each test.
setDefaultTimeout(30_000);

/** SPEC §3's limits on a real server: frame size, rate limit, subscription cap. */

let server: TestServer;
let token: string;
let testUserId: number;

beforeAll(async () => {
  server = await startTestServer();
  token = await login(server);
  testUserId = (await server.request('GET', '/api/auth/me', { token })).body.user.id;
}, 30_000);
afterAll(() => server.stop());

async function openGeneral(): Promise<TestSocket> {
  const socket = connect(`${server.wsUrl}/ws?token=${token}`);
  await socket.nextOfType('connection_established');
  return socket;
}

/** Sends `marker` (an unsubscribe of an id nobody uses) until it is answered: every earlier frame has been answered by then. */
async function drain(socket: TestSocket, markerId: number): Promise<void> {
  const answered = () => socket.messages.some((message) => message.type === 'unsubscribed' && message.eventId === markerId);
  while (!answered()) {
    socket.send({ type: 'unsubscribe_event', eventId: markerId });
    await waitFor(answered, 150, 'marker').catch(() => {});
  }
}

const replies = (socket: TestSocket) => socket.messages.filter((message) => message.type !== 'connection_established');

describe('idle sockets', () => {
  // Bun enforces the timeout natively, so 120 s cannot be waited out in a test: this pins the
  // value the running server hands Bun, and tests/routes/websocket-idle.test.ts shows the
  // value given is the one enforced (a shortened timeout closes a deaf client on time).
  test('the server hands Bun SPEC §3 idle timeout of 120 s, with pings on', () => {
    expect(server.app.config.websocket).toMatchObject({ idleTimeout: 120, sendPings: true });
  });
});

describe('frame size', () => {
  test('a 20 KiB frame closes with 1009', async () => {
    const socket = await openGeneral();
    socket.send({ type: 'ping', padding: 'x'.repeat(20 * 1024) });
    expect((await socket.closed).code).toBe(1009);
    expect(replies(socket)).toEqual([]);
  });

  test('one byte over 16 KiB closes with 1009', async () => {
    const socket = await openGeneral();
    const base = JSON.stringify({ type: 'ping', padding: '' });
    socket.send(JSON.stringify({ type: 'ping', padding: 'x'.repeat(16 * 1024 - base.length + 1) }));
    expect((await socket.closed).code).toBe(1009);
  });

  test('exactly 16 KiB is a message', async () => {
    const socket = await openGeneral();
    const base = JSON.stringify({ type: 'ping', padding: '' });
    const frame = JSON.stringify({ type: 'ping', padding: 'x'.repeat(16 * 1024 - base.length) });
    expect(frame.length).toBe(16 * 1024);
    socket.send(frame);
    expect(await socket.nextOfType('pong')).toEqual({ type: 'pong' });
    await closed(socket);
  });
});

describe('rate limit', () => {
  test('a burst of 100: the first 40 answered, one rate_limited error, the rest dropped; another connection unaffected', async () => {
    const flooder = await openGeneral();
    const bystander = await openGeneral(); // same user: the limit is per connection
    for (let i = 0; i < 100; i++) flooder.send({ type: 'ping' });
    await flooder.nextOfType('error');
    // The bystander's own bucket is full: 40 pings at once all answered.
    for (let i = 0; i < 40; i++) bystander.send({ type: 'ping' });
    await waitFor(() => replies(bystander).length === 40, 5000, 'bystander pongs');
    expect(replies(bystander).every((message) => message.type === 'pong')).toBe(true);

    await drain(flooder, 424242);
    const burst = replies(flooder).slice(0, replies(flooder).findIndex((message) => message.type === 'unsubscribed'));
    expect(burst.slice(0, 40)).toEqual(Array(40).fill({ type: 'pong' }));
    // The bucket refills 20 a second, so a slow burst may earn a token or two more; never 100.
    const pongs = burst.filter((message) => message.type === 'pong').length;
    expect(pongs).toBeGreaterThanOrEqual(40);
    expect(pongs).toBeLessThan(50);
    const errors = burst.filter((message) => message.type === 'error');
    expect(errors).toEqual([{ type: 'error', code: 'rate_limited', message: expect.any(String) }]);
    expect(flooder.isClosed()).toBe(false);
    await Promise.all([closed(flooder), closed(bystander)]);
  });

  test('at most one rate_limited error a second', async () => {
    const flooder = await openGeneral();
    const startedAt = Date.now();
    for (let i = 0; i < 60; i++) flooder.send({ type: 'ping' });
    await flooder.nextOfType('error');
    // Keep flooding gently (well under 200 drops) for about 2.5 s.
    while (Date.now() - startedAt < 2500) {
      for (let i = 0; i < 3; i++) flooder.send({ type: 'ping' });
      await Bun.sleep(50);
    }
    await drain(flooder, 434343);
    const elapsedSeconds = (Date.now() - startedAt) / 1000;
    const errors = flooder.messages.filter((message) => message.type === 'error');
    expect(errors.every((message) => message.code === 'rate_limited')).toBe(true);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors.length).toBeLessThanOrEqual(Math.ceil(elapsedSeconds) + 1);
    expect(flooder.isClosed()).toBe(false);
    await closed(flooder);
  });

  test('200 dropped within 10 s closes with 4429; another connection unaffected', async () => {
    const flooder = await openGeneral();
    const bystander = await openGeneral();
    const { clientId } = flooder.messages[0];
    for (let i = 0; i < 300; i++) flooder.send({ type: 'ping' });
    expect((await flooder.closed).code).toBe(4429);
    const types = replies(flooder).map((message) => message.type);
    expect(types.filter((type) => type === 'error')).toEqual(['error']);
    // The reason reaches the client before the close, whatever was still queued.
    expect(replies(flooder).find((message) => message.type === 'error').code).toBe('rate_limited');
    expect(types.filter((type) => type === 'pong').length).toBeGreaterThanOrEqual(40);
    await waitFor(() => !server.websocket.clients.has(clientId), 5000, 'the flooder to leave');
    bystander.send({ type: 'ping' });
    expect(await bystander.nextOfType('pong')).toEqual({ type: 'pong' });
    await closed(bystander);
  });
});

describe('subscription cap', () => {
  let eventIds: number[];
  beforeAll(async () => {
    const created = await Promise.all(
      Array.from({ length: 101 }, (_, i) =>
        createEventRow(server.database.db, testUserId, { name: `Cap ${i}`, startsAt: new Date('2030-01-01T20:00:00Z'), capacity: 10 }),
      ),
    );
    eventIds = created.map((event) => event.id);
  }, 30_000);

  /** Subscribes one by one at a pace the rate limit allows (20 a second). */
  async function subscribeAll(socket: TestSocket, ids: number[]): Promise<void> {
    for (const [index, eventId] of ids.entries()) {
      socket.send({ type: 'subscribe_event', eventId });
      if (index >= 30) await Bun.sleep(55);
    }
    await waitFor(() => socket.messages.filter((message) => message.type === 'subscribed').length >= ids.length, 15_000, 'snapshots');
  }

  test('the 101st subscription → too_many_subscriptions; repeats and swaps stay allowed', async () => {
    const socket = await openGeneral();
    const { clientId } = socket.messages[0];
    await subscribeAll(socket, eventIds.slice(0, 100));
    expect(eventIds.filter((eventId) => server.websocket.subscribersByEvent.get(eventId)?.has(clientId)).length).toBe(100);
    expect(socket.messages.some((message) => message.type === 'error')).toBe(false);

    const over = eventIds[100]!;
    socket.send({ type: 'subscribe_event', eventId: over });
    expect(await socket.nextOfType('error')).toEqual({ type: 'error', code: 'too_many_subscriptions', eventId: over, message: expect.any(String) });
    expect(server.websocket.subscribersByEvent.has(over)).toBe(false);

    // Re-subscribing to one already held is not a new subscription.
    socket.send({ type: 'subscribe_event', eventId: eventIds[0] });
    expect(await socket.next((message) => message.type === 'subscribed' && message.eventId === eventIds[0])).toMatchObject({ eventId: eventIds[0] });

    socket.send({ type: 'unsubscribe_event', eventId: eventIds[0] });
    await socket.nextOfType('unsubscribed');
    socket.send({ type: 'subscribe_event', eventId: over });
    expect(await socket.next((message) => message.type === 'subscribed' && message.eventId === over)).toMatchObject({ eventId: over, availableSeats: 10 });
    socket.send({ type: 'ping' });
    await socket.nextOfType('pong');
    expect(socket.isClosed()).toBe(false);
    await closed(socket);
    await waitFor(() => !server.websocket.clients.has(clientId), 5000, 'the client to leave');
    expect(eventIds.some((eventId) => server.websocket.subscribersByEvent.has(eventId))).toBe(false);
  });
});
