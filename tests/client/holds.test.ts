import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { createSeatwatchClient, type HoldMessage, type SeatState, type SeatwatchClient, type ServerMessage } from '../../src/client';
import { login, startTestServer, type TestServer } from '../support/server';
import { createWaiter } from '../support/waiter';

/**
 * Holds through the client library (SPEC §5, §8) against real servers: seat handlers see
 * `heldSeats` move with `seats_held`, `seats_released` and a confirm; the owner's connections get
 * `hold_expiring` and `hold_expired` as typed hold events, and nobody else does.
 */

const clients: SeatwatchClient[] = [];

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

/** What one client reports, with waits that wake on each report. */
function record(client: SeatwatchClient) {
  const seats: SeatState[] = [];
  const holds: { message: HoldMessage; at: number }[] = [];
  const messages: ServerMessage[] = [];
  const waiter = createWaiter();
  client.onSeats((_eventId, state) => {
    seats.push(state);
    waiter.wake();
  });
  client.onHold((message) => {
    holds.push({ message, at: Date.now() });
    waiter.wake();
  });
  client.onMessage((message) => {
    messages.push(message);
    waiter.wake();
  });
  client.onStateChange(() => waiter.wake());
  function until<T>(label: string, find: () => T | undefined, timeoutMs = 5000): Promise<T> {
    return waiter.until(find, timeoutMs, () => `timed out after ${timeoutMs} ms waiting for ${label}; last messages ${JSON.stringify(messages.slice(-5))}`);
  }
  return {
    seats,
    holds,
    messages,
    open: () => until('open', () => (client.state === 'open' ? true : undefined)),
    seatsFrom: (from: number, predicate: (state: SeatState) => boolean, timeoutMs?: number) => until('seats', () => seats.slice(from).find(predicate), timeoutMs),
    holdFrom: (from: number, predicate: (message: HoldMessage) => boolean, timeoutMs?: number) =>
      until('a hold event', () => holds.slice(from).find((entry) => predicate(entry.message)), timeoutMs),
    messageFrom: (from: number, predicate: (message: ServerMessage) => boolean, timeoutMs?: number) => until('message', () => messages.slice(from).find(predicate), timeoutMs),
  };
}

function watching(server: TestServer, token: string, eventId: number) {
  const client = createSeatwatchClient({ url: server.url, token, reconnectBaseMs: 20, reconnectCapMs: 200 });
  clients.push(client);
  const seen = record(client);
  client.subscribe(eventId);
  return { client, seen };
}

describe('seat state carries heldSeats (default HOLD_TTL_SECONDS)', () => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer();
    token = await login(server);
  }, 60_000);
  afterAll(() => server.stop());

  test('seats_held, seats_released and a confirm move heldSeats and availableSeats in the seats handler', async () => {
    const { client, seen } = watching(server, token, 2);
    await seen.open();
    const snapshot = await seen.seatsFrom(0, (state) => state.eventId === 2);
    expect(snapshot).toMatchObject({ availableSeats: 120, heldSeats: 0, capacity: 120 });

    const held = await server.request('POST', '/api/holds', { token, body: { eventId: 2, quantity: 3 } });
    expect(held.status).toBe(201);
    expect(await seen.seatsFrom(1, () => true)).toEqual({ eventId: 2, availableSeats: 117, heldSeats: 3, capacity: 120, version: snapshot.version + 1 });
    expect(seen.messages.find((message) => message.type === 'seats_held')).toMatchObject({ eventId: 2, heldSeats: 3 });
    expect(client.seats(2)).toMatchObject({ availableSeats: 117, heldSeats: 3 });

    // Subscribing again re-sends the snapshot at the same version: not news, and it carries heldSeats too.
    const messagesBefore = seen.messages.length;
    client.subscribe(2);
    expect(await seen.messageFrom(messagesBefore, (message) => message.type === 'subscribed')).toMatchObject({ heldSeats: 3, version: snapshot.version + 1 });
    expect(seen.seats).toHaveLength(2);

    const released = await server.request('DELETE', `/api/holds/${held.body.hold.id}`, { token });
    expect(released.status).toBe(200);
    expect(await seen.seatsFrom(2, () => true)).toEqual({ eventId: 2, availableSeats: 120, heldSeats: 0, capacity: 120, version: snapshot.version + 2 });
    expect(seen.messages.find((message) => message.type === 'seats_released')).toMatchObject({ reason: 'released', heldSeats: 0 });

    // Held, then confirmed: held → booked, so availableSeats stays down while heldSeats goes back to 0.
    const again = await server.request('POST', '/api/holds', { token, body: { eventId: 2, quantity: 2 } });
    expect(again.status).toBe(201);
    expect(await seen.seatsFrom(3, () => true)).toMatchObject({ availableSeats: 118, heldSeats: 2, version: snapshot.version + 3 });
    const confirmed = await server.request('POST', `/api/holds/${again.body.hold.id}/confirm`, { token });
    expect(confirmed.status).toBe(201);
    expect(await seen.seatsFrom(4, () => true)).toMatchObject({ availableSeats: 118, heldSeats: 0, version: snapshot.version + 4 });
    expect(seen.messages.at(-1)).toMatchObject({ type: 'booking_created', heldSeats: 0 });
    // None of that was personal: no hold event without an expiry warning or an expiry.
    expect(seen.holds).toEqual([]);
  });
});

describe('hold events (HOLD_TTL_SECONDS=3, HOLD_WARNING_SECONDS=2: room to act between warning and expiry on a busy machine)', () => {
  let server: TestServer;
  let token: string;
  let aliceToken: string;

  beforeAll(async () => {
    server = await startTestServer({ config: { holdTtlSeconds: 3, holdWarningSeconds: 2 } });
    token = await login(server);
    aliceToken = await login(server, 'alice@example.com');
  }, 60_000);
  afterAll(() => server.stop());

  test('every connection of the owner gets hold_expiring, then hold_expired as the seats come back; another user gets neither', async () => {
    const owner = watching(server, token, 1);
    const ownerElsewhere = watching(server, token, 3);
    const alice = watching(server, aliceToken, 1);
    await Promise.all([owner.seen.open(), ownerElsewhere.seen.open(), alice.seen.open()]);
    const snapshot = await owner.seen.seatsFrom(0, (state) => state.eventId === 1);
    await alice.seen.seatsFrom(0, (state) => state.eventId === 1);

    const held = await server.request('POST', '/api/holds', { token, body: { eventId: 1, quantity: 2 } });
    expect(held.status).toBe(201);
    const hold = held.body.hold as { id: number; expiresAt: string };
    await owner.seen.seatsFrom(1, (state) => state.heldSeats === 2 && state.availableSeats === snapshot.availableSeats - 2);

    const expiring = await owner.seen.holdFrom(0, (message) => message.type === 'hold_expiring', 5000);
    expect(expiring.message).toEqual({ type: 'hold_expiring', holdId: hold.id, eventId: 1, expiresAt: hold.expiresAt });
    expect(expiring.at).toBeLessThan(Date.parse(hold.expiresAt));

    const expired = await owner.seen.holdFrom(0, (message) => message.type === 'hold_expired', 5000);
    expect(expired.message).toEqual({ type: 'hold_expired', holdId: hold.id, eventId: 1 });
    // SPEC §8: back within 1 s of expiresAt (one clock here: PGlite runs in this process).
    expect(expired.at).toBeGreaterThanOrEqual(Date.parse(hold.expiresAt) - 50);
    expect(expired.at).toBeLessThan(Date.parse(hold.expiresAt) + 1000 + 1000);
    const back = await owner.seen.seatsFrom(1, (state) => state.heldSeats === 0);
    expect(back).toMatchObject({ availableSeats: snapshot.availableSeats });
    expect(owner.seen.messages.find((message) => message.type === 'seats_released')).toMatchObject({ reason: 'expired', heldSeats: 0 });
    expect(owner.seen.holds.map((entry) => entry.message.type)).toEqual(['hold_expiring', 'hold_expired']);

    // The owner's other connection, watching another event, hears the same two, in order.
    await ownerElsewhere.seen.holdFrom(0, (message) => message.type === 'hold_expired');
    expect(ownerElsewhere.seen.holds.map((entry) => entry.message)).toEqual([expiring.message, expired.message]);

    // Alice watched the seats go and come back, and heard nothing personal.
    await alice.seen.seatsFrom(1, (state) => state.version === back.version);
    const messagesBefore = alice.seen.messages.length;
    alice.client.subscribe(1);
    await alice.seen.messageFrom(messagesBefore, (message) => message.type === 'subscribed');
    expect(alice.seen.holds).toEqual([]);
    expect(alice.seen.messages.some((message) => message.type === 'hold_expiring' || message.type === 'hold_expired')).toBe(false);
  }, 20_000);

  test('an extension brings a new hold_expiring for the new expiresAt; a released hold never expires', async () => {
    const owner = watching(server, token, 1);
    await owner.seen.open();
    await owner.seen.seatsFrom(0, (state) => state.eventId === 1);

    const held = await server.request('POST', '/api/holds', { token, body: { eventId: 1, quantity: 1 } });
    expect(held.status).toBe(201);
    const holdId = held.body.hold.id as number;
    await owner.seen.holdFrom(0, (message) => message.type === 'hold_expiring' && message.holdId === holdId);
    const extended = await server.request('POST', `/api/holds/${holdId}/extend`, { token });
    expect(extended.status).toBe(200);
    const newExpiry = extended.body.hold.expiresAt as string;
    expect(Date.parse(newExpiry)).toBeGreaterThan(Date.parse(held.body.hold.expiresAt));

    const second = await owner.seen.holdFrom(1, (message) => message.type === 'hold_expiring', 5000);
    expect(second.message).toEqual({ type: 'hold_expiring', holdId, eventId: 1, expiresAt: newExpiry });
    const released = await server.request('DELETE', `/api/holds/${holdId}`, { token });
    expect(released.status).toBe(200);
    const gone = await owner.seen.seatsFrom(1, (state) => state.heldSeats === 0);
    expect(owner.seen.messages.find((message) => message.type === 'seats_released')).toMatchObject({ reason: 'released', version: gone.version });

    // Past the extended expiry: nothing more about this hold.
    await Bun.sleep(Math.max(0, Date.parse(newExpiry) - Date.now()) + 1200);
    expect(owner.seen.holds.map((entry) => entry.message.type)).toEqual(['hold_expiring', 'hold_expiring']);
  }, 20_000);
});
