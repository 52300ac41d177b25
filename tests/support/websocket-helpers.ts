import { expect } from 'bun:test';
import type { TestServer } from './server';
import { waitFor, type TestSocket } from './ws';

/** Shared by the WebSocket tests (tests/routes/websocket*.test.ts, tests/scale-out/feed.test.ts): small checks on what watchers hold. */

const SEAT_MESSAGE_TYPES = new Set(['subscribed', 'booking_created', 'booking_cancelled', 'seats_held', 'seats_released', 'seat_update']);

/** Every message carrying a seat state (of `eventId`; of any event when undefined), the snapshot included, in arrival order. */
export function seatMessages(socket: TestSocket, eventId: number | undefined): any[] {
  return socket.messages.filter((message) => SEAT_MESSAGE_TYPES.has(message?.type) && (eventId === undefined || message.eventId === eventId));
}

export function expectStrictlyIncreasing(versions: number[], label: string): void {
  for (let i = 1; i < versions.length; i++) {
    if (!(versions[i]! > versions[i - 1]!)) throw new Error(`${label}: version ${versions[i]} after ${versions[i - 1]} (all: ${versions.join(',')})`);
  }
}

export async function createEvent(server: TestServer, token: string, body: Record<string, unknown> = {}): Promise<any> {
  const response = await server.request('POST', '/api/events', {
    token,
    body: { name: 'Feed test', startsAt: '2030-01-01T20:00:00Z', capacity: 100, ...body },
  });
  if (response.status !== 201) throw new Error(`create event failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.event;
}

export async function eventState(server: TestServer, token: string, eventId: number) {
  const response = await server.request('GET', `/api/events/${eventId}`, { token });
  expect(response.status).toBe(200);
  const { availableSeats, heldSeats, capacity, version } = response.body.event;
  return { eventId, availableSeats, heldSeats, capacity, version };
}

/**
 * Waits until the watcher's latest seat message about the event (about any event when `eventId`
 * is undefined) carries `version`, then returns that message.
 */
export async function untilHolds(socket: TestSocket, eventId: number | undefined, version: number, timeoutMs = 10_000): Promise<any> {
  const latest = () => seatMessages(socket, eventId).at(-1);
  await waitFor(() => latest()?.version === version, timeoutMs, `watcher to hold version ${version} of event ${eventId ?? '(any)'}; holds ${JSON.stringify(latest())}`);
  return latest();
}

/**
 * A round trip through the connection: whatever the server sent this socket before answering the
 * ping (a published seat change included) is in `messages` when this resolves. On PostgreSQL a
 * change is published when its notification arrives, which may be after the HTTP response, so
 * wait for that publish elsewhere (another watcher) before relying on this.
 */
export async function roundTrip(socket: TestSocket): Promise<void> {
  socket.send({ type: 'ping' });
  await socket.nextOfType('pong');
}

export async function closed(socket: TestSocket): Promise<void> {
  if (!socket.isClosed()) socket.close();
  await socket.closed;
}
