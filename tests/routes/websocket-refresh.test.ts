import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { createTokens } from '../../src/lib/tokens';
import { login, registerUser, startTestServer, testConfig, type TestServer } from '../support/server';
import { connect, type TestSocket } from '../support/ws';
import { closed, createEvent, eventState, roundTrip, seatMessages } from '../support/websocket-helpers';

setDefaultTimeout(40_000);

/**
 * SPEC §3's token refresh on an open socket, against a real server whose tokens live 3 s
 * (JWT_EXPIRES_IN=3s): `refresh_token` → `token_refreshed`, `token_expiring` once per token and
 * 60 s ahead (at once when less is left), and the 4401 close at the newest token's exp.
 */

const LIFETIME_SECONDS = 3;
const secret = testConfig().jwtSecret;

let server: TestServer;
let userId: number; // test@example.com
// Tokens live 3 s here: each test signs in afresh rather than sharing one that may have run out.
let aliceToken: string;

beforeAll(async () => {
  server = await startTestServer({ config: { jwtExpiresInSeconds: LIFETIME_SECONDS } });
  userId = (await server.request('GET', '/api/auth/me', { token: await login(server) })).body.user.id;
}, 60_000);
afterAll(() => server.stop());

const expOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()).exp as number;
const isoOf = (exp: number) => new Date(exp * 1000).toISOString();

async function restRefresh(current: string): Promise<string> {
  const response = await server.request('POST', '/api/auth/refresh', { token: current });
  expect(response.status).toBe(200);
  return response.body.token;
}

/** Opens `/ws/events/:id` and returns the socket with its client id, once subscribed. */
async function watch(eventId: number, withToken: string): Promise<{ socket: TestSocket; clientId: string }> {
  const socket = connect(`${server.wsUrl}/ws/events/${eventId}?token=${withToken}`);
  const { clientId } = await socket.nextOfType('connection_established');
  await socket.nextOfType('subscribed');
  return { socket, clientId };
}

const expiryOf = (clientId: string) => server.websocket.clients.get(clientId)?.tokenExpiry.expiresAt;

/** The close comes with `token_expired`, at or after `exp` and less than a second past it. */
async function expectClosedAtExpiry(socket: TestSocket, exp: number): Promise<void> {
  const expired = await socket.next((message) => message.type === 'error' && message.code === 'token_expired', (exp + 3) * 1000 - Date.now());
  const receivedAt = Date.now();
  expect(expired).toEqual({ type: 'error', code: 'token_expired', message: expect.any(String) });
  expect((await socket.closed).code).toBe(4401);
  expect(receivedAt).toBeGreaterThanOrEqual(exp * 1000);
  expect(receivedAt - exp * 1000).toBeLessThan(1000);
}

describe('a connection that refreshes', () => {
  test('refreshing on every token_expiring: open for 15 s (five lifetimes), every seat change received, no gap in versions', async () => {
    let current = await login(server);
    aliceToken = await login(server, 'alice@example.com');
    const event = await createEvent(server, current, { capacity: 1000 });
    const { socket } = await watch(event.id, current);
    const started = Date.now();
    let refreshes = 0;
    let booking = true;
    const bookings = (async () => {
      while (booking) {
        const response = await server.request('POST', '/api/bookings', { token: aliceToken, body: { eventId: event.id } });
        // Alice's own token runs out too: she refreshes it over REST, as any client would.
        if (response.status === 401) aliceToken = await login(server, 'alice@example.com');
        else expect(response.status).toBe(201);
        await Bun.sleep(100);
      }
    })();

    while (Date.now() - started < 15_000) {
      const warning = await socket.nextOfType('token_expiring', 5000);
      expect(warning).toEqual({ type: 'token_expiring', expiresAt: isoOf(expOf(current)) });
      // Halfway to the expiry, as the client library does: a token fetched at once would be the
      // same token (exp is whole seconds), and a 3 s token is always inside the 60 s warning.
      await Bun.sleep(Math.max(0, (Date.parse(warning.expiresAt) - Date.now()) / 2));
      current = await restRefresh(current);
      socket.send({ type: 'refresh_token', token: current });
      expect(await socket.nextOfType('token_refreshed')).toEqual({ type: 'token_refreshed', expiresAt: isoOf(expOf(current)) });
      refreshes += 1;
    }
    booking = false;
    await bookings;

    expect(refreshes).toBeGreaterThanOrEqual(5);
    expect(socket.isClosed()).toBe(false);
    const final = await eventState(server, current, event.id);
    await roundTrip(socket);
    const versions = seatMessages(socket, event.id).map((message) => message.version);
    expect(versions[0]).toBe(event.version);
    expect(versions.at(-1)).toBe(final.version);
    // Every version from the snapshot on, each once: nothing missed while tokens changed hands.
    expect(versions).toEqual(Array.from({ length: final.version - event.version + 1 }, (_, i) => event.version + i));
    expect(versions.length).toBeGreaterThan(50);
    expect(socket.messages.filter((message) => message.type === 'error')).toEqual([]);
    await closed(socket);
  }, 40_000);

  test('one that does not refresh: token_expiring at once (less than 60 s left), then closed 4401 within a second of exp', async () => {
    const token = await login(server);
    const { socket } = await watch(1, token);
    const exp = expOf(token);
    await expectClosedAtExpiry(socket, exp);
    expect(socket.messages.map((message) => message.type)).toEqual(['connection_established', 'subscribed', 'token_expiring', 'error']);
    expect(socket.messages[2]).toEqual({ type: 'token_expiring', expiresAt: isoOf(exp) });
  });

  test('the 4401 close follows the newest token: refreshed once, closed at the new exp, not the old', async () => {
    const first = await login(server);
    const { socket, clientId } = await watch(1, first);
    await socket.nextOfType('token_expiring');
    await Bun.sleep(1100);
    const second = await restRefresh(first);
    expect(expOf(second)).toBeGreaterThan(expOf(first));
    socket.send({ type: 'refresh_token', token: second });
    expect(await socket.nextOfType('token_refreshed')).toEqual({ type: 'token_refreshed', expiresAt: isoOf(expOf(second)) });
    expect(expiryOf(clientId)).toBe(expOf(second));
    // Warned again, for the new token.
    expect(await socket.nextOfType('token_expiring')).toEqual({ type: 'token_expiring', expiresAt: isoOf(expOf(second)) });
    await expectClosedAtExpiry(socket, expOf(second));
  });
});

describe('token_expiring', () => {
  test('60 s before exp: a token with 61 s left is not warned at once, and is within a second of exp − 60 s', async () => {
    const longer = await createTokens(secret, 61).sign({ id: userId, email: 'test@example.com', name: 'Test User' });
    const exp = expOf(longer);
    const socket = connect(`${server.wsUrl}/ws?token=${longer}`);
    await socket.nextOfType('connection_established');
    if (Date.now() < (exp - 60) * 1000 - 100) {
      await roundTrip(socket);
      expect(socket.messages.map((message) => message.type)).toEqual(['connection_established', 'pong']);
    }
    const warning = await socket.nextOfType('token_expiring', 3000);
    const receivedAt = Date.now();
    expect(warning).toEqual({ type: 'token_expiring', expiresAt: isoOf(exp) });
    expect(receivedAt).toBeGreaterThanOrEqual((exp - 60) * 1000);
    expect(receivedAt - (exp - 60) * 1000).toBeLessThan(1000);
    await closed(socket);
  });

  test('once per token: the same token handed back is token_refreshed, with no second warning; a newer one is warned of once', async () => {
    const first = await login(server);
    const socket = connect(`${server.wsUrl}/ws?token=${first}`);
    await socket.nextOfType('token_expiring');
    socket.send({ type: 'refresh_token', token: first });
    expect(await socket.nextOfType('token_refreshed')).toEqual({ type: 'token_refreshed', expiresAt: isoOf(expOf(first)) });
    await roundTrip(socket);
    expect(socket.messages.filter((message) => message.type === 'token_expiring')).toHaveLength(1);

    await Bun.sleep(1100);
    const second = await restRefresh(first);
    socket.send({ type: 'refresh_token', token: second });
    await socket.nextOfType('token_refreshed');
    await socket.nextOfType('token_expiring');
    await roundTrip(socket);
    expect(socket.messages.map((message) => message.type)).toEqual([
      'connection_established',
      'token_expiring',
      'token_refreshed',
      'pong',
      'token_refreshed',
      'token_expiring',
      'pong',
    ]);
    await closed(socket);
  });

  test('goes only to the connection whose token it is', async () => {
    const other = await registerUser(server, 'bystander');
    const mine = connect(`${server.wsUrl}/ws?token=${await login(server)}`);
    const theirs = connect(`${server.wsUrl}/ws?token=${await createTokens(secret, 3600).sign({ id: other.userId, email: other.email, name: null })}`);
    await mine.nextOfType('connection_established');
    await theirs.nextOfType('connection_established');
    await mine.nextOfType('token_expiring');
    await roundTrip(theirs);
    expect(theirs.messages.map((message) => message.type)).toEqual(['connection_established', 'pong']);
    await Promise.all([closed(mine), closed(theirs)]);
  });
});

describe('refused refreshes: error unauthorized, and the connection keeps its old expiry', () => {
  const forgedSigner = createTokens('z'.repeat(48), 3600);
  const expiredSigner = createTokens(secret, -1);
  const bad: [string, () => Promise<unknown>][] = [
    ["another user's token", async () => aliceToken],
    ['a forged token (another secret)', () => forgedSigner.sign({ id: userId, email: 'test@example.com', name: 'Test User' })],
    ['an expired token', () => expiredSigner.sign({ id: userId, email: 'test@example.com', name: 'Test User' })],
    ['garbage', async () => 'not-a-jwt'],
    ['a number', async () => 42],
    ['null', async () => null],
    ['an object', async () => ({ token: aliceToken })],
  ];

  test('each answered error unauthorized, nothing else; the close still comes at the first token’s exp', async () => {
    const first = await login(server);
    aliceToken = await login(server, 'alice@example.com');
    const { socket, clientId } = await watch(1, first);
    await socket.nextOfType('token_expiring');
    const before = expiryOf(clientId);
    expect(before).toBe(expOf(first));
    for (const [label, make] of bad) {
      socket.send({ type: 'refresh_token', token: await make() });
      const answer = await socket.next();
      expect({ label, answer }).toEqual({ label, answer: { type: 'error', code: 'unauthorized', message: expect.any(String) } });
      expect({ label, expiresAt: expiryOf(clientId) }).toEqual({ label, expiresAt: before });
    }
    // Without its field it is a malformed message, like subscribe_event without an eventId.
    socket.send({ type: 'refresh_token' });
    expect(await socket.next()).toEqual({ type: 'error', code: 'invalid_message', message: expect.stringContaining('token') });
    expect(expiryOf(clientId)).toBe(before);
    await roundTrip(socket);
    expect(socket.isClosed()).toBe(false);
    expect(socket.messages.filter((message) => message.type === 'token_refreshed' || message.type === 'token_expiring')).toHaveLength(1);
    await expectClosedAtExpiry(socket, expOf(first));
  });
});
