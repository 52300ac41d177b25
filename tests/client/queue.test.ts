import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { createSeatwatchClient, placeInLine, type LineProgress, type SeatwatchClient } from '../../src/client';
import { createLineProgress } from '../../src/client/line-progress';
import { registerUser, startTestServer, type TestServer } from '../support/server';
import { createWaiter } from '../support/waiter';

/**
 * The waiting room through the client library (SPEC §5, §9) against a real server: line progress
 * from `subscribed` snapshots and `queue_progress` as typed events, and the caller's live place
 * (`queuePosition`) for the ticket the REST API gave, counting down to 0 as the line moves.
 */

interface QueueBody {
  eventId: number;
  ticket: number | null;
  position: number | null;
  status: 'waiting' | 'admitted' | 'expired';
  admittedAt: string | null;
}

test('line progress: a servingThrough below the last one seen is dropped, a repeat is no news, the pace outlives a snapshot', () => {
  const lines = createLineProgress();
  expect(lines.accept({ eventId: 1, servingThrough: 0, waiting: 4 })).toEqual({ eventId: 1, servingThrough: 0, waiting: 4 });
  expect(lines.accept({ eventId: 1, servingThrough: 2, waiting: 2, ratePerMinute: 60 })).toEqual({ eventId: 1, servingThrough: 2, waiting: 2, ratePerMinute: 60 });
  // Another process read the line a moment earlier: its word arrives late and is dropped.
  expect(lines.accept({ eventId: 1, servingThrough: 1, waiting: 3, ratePerMinute: 60 })).toBeNull();
  expect(lines.accept({ eventId: 1, servingThrough: 2, waiting: 2, ratePerMinute: 60 })).toBeNull();
  // A snapshot says no pace: the last one heard stays, and the same line is no news.
  expect(lines.accept({ eventId: 1, servingThrough: 2, waiting: 2 })).toBeNull();
  expect(lines.accept({ eventId: 1, servingThrough: 2, waiting: 5 })).toEqual({ eventId: 1, servingThrough: 2, waiting: 5, ratePerMinute: 60 });
  expect(lines.get(1)).toEqual({ eventId: 1, servingThrough: 2, waiting: 5, ratePerMinute: 60 });
  lines.forget(1);
  expect(lines.get(1)).toBeUndefined();
  expect(lines.accept({ eventId: 1, servingThrough: 1, waiting: 0 })).toEqual({ eventId: 1, servingThrough: 1, waiting: 0 });
  expect([placeInLine(5, 2), placeInLine(5, 5), placeInLine(5, 9)]).toEqual([3, 0, 0]);
});

describe('queue progress and the live place (a line of 30 a minute: 2 s a step)', () => {
  const RATE = 30;
  let server: TestServer;
  let organizer: string;
  const clients: SeatwatchClient[] = [];

  beforeAll(async () => {
    server = await startTestServer({ seed: false });
    organizer = (await registerUser(server, 'organizer')).token;
  }, 60_000);
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });
  afterAll(() => server.stop());

  async function createEvent(fields: Record<string, unknown>): Promise<number> {
    const created = await server.request('POST', '/api/events', { token: organizer, body: { name: 'On sale', startsAt: '2031-01-01T20:00:00Z', capacity: 10, ...fields } });
    expect(created.status).toBe(201);
    return created.body.event.id as number;
  }

  /** A client watching these events, and what its queue handler heard, with waits that wake on each report. */
  function watching(token: string, eventIds: number[]) {
    const client = createSeatwatchClient({ url: server.url, token, reconnectBaseMs: 20, reconnectCapMs: 200 });
    clients.push(client);
    const heard: LineProgress[] = [];
    const waiter = createWaiter();
    client.onQueueProgress((progress) => {
      heard.push(progress);
      waiter.wake();
    });
    client.onStateChange(() => waiter.wake());
    for (const eventId of eventIds) client.subscribe(eventId);
    const until = <T>(label: string, find: () => T | undefined, timeoutMs = 8000) =>
      waiter.until(find, timeoutMs, () => `timed out after ${timeoutMs} ms waiting for ${label}; heard ${JSON.stringify(heard.slice(-5))}`);
    return { client, heard, until };
  }

  const placeOf = async (token: string, eventId: number) => {
    const answer = await server.request('GET', `/api/events/${eventId}/queue`, { token });
    expect(answer.status).toBe(200);
    return answer.body.queue as QueueBody;
  };

  test('joined before the sale: no place until the lottery; then each ticket’s live place counts down to 0 as servingThrough rises', async () => {
    // Far enough ahead for a slow machine to sign everyone up; brought near once they are in line.
    const eventId = await createEvent({ queueRatePerMinute: RATE, salesStartAt: new Date(Date.now() + 120_000).toISOString(), admissionSeconds: 60 });
    const plainEventId = await createEvent({});
    const buyers = await Promise.all([1, 2, 3].map((n) => registerUser(server, `buyer${n}`)));
    const watcher = watching(buyers[0]!.token, [eventId, plainEventId]);
    await watcher.until('open', () => (watcher.client.state === 'open' ? true : undefined));

    // The snapshot of an event with a line carries where it stands; it says no pace.
    const snapshot = await watcher.until('the snapshot', () => watcher.heard.find((progress) => progress.eventId === eventId));
    expect(snapshot).toEqual({ eventId, servingThrough: 0, waiting: 0 });

    for (const { token } of buyers) {
      const joined = await server.request('POST', `/api/events/${eventId}/queue`, { token });
      expect(joined.status).toBe(200);
      expect(joined.body.queue).toMatchObject({ eventId, ticket: null, position: null, status: 'waiting' });
      expect(watcher.client.queuePosition(eventId, joined.body.queue.ticket)).toBeNull();
    }
    // Before the lottery the line is moving too: everyone in it is waiting.
    const beforeDraw = await watcher.until('3 waiting', () => watcher.heard.find((progress) => progress.waiting === 3 && progress.servingThrough === 0));
    expect(beforeDraw).toEqual({ eventId, servingThrough: 0, waiting: 3, ratePerMinute: RATE });
    const salesStartAt = new Date(Date.now() + 1500).toISOString();
    expect((await server.request('PATCH', `/api/events/${eventId}`, { token: organizer, body: { salesStartAt } })).status).toBe(200);

    // The lottery at salesStartAt admits ticket 1 at once.
    const drawn = await watcher.until('the lottery', () => watcher.heard.find((progress) => progress.servingThrough >= 1), 8000);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(salesStartAt) - 50);
    expect(drawn).toMatchObject({ eventId, ratePerMinute: RATE });
    const places = await Promise.all(buyers.map(({ token }) => placeOf(token, eventId)));
    expect(places.map((place) => place.ticket).sort()).toEqual([1, 2, 3]);
    for (const place of places) {
      const live = watcher.client.queuePosition(eventId, place.ticket);
      expect(live).toBe(placeInLine(place.ticket!, watcher.client.queueProgress(eventId)!.servingThrough));
      // The REST answer was read at about the same moment: the same place, or the line moved on a step in between.
      if (place.status === 'waiting') expect(Math.abs(live! - place.position!)).toBeLessThanOrEqual(1);
      else expect(live).toBe(0);
    }

    // Ticket 3 is admitted 4 s after the sale opens; its live place reaches 0 then, never going back on the way.
    await watcher.until('everyone admitted', () => watcher.heard.find((progress) => progress.servingThrough === 3), 10_000);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(salesStartAt) + (3 - 1) * (60_000 / RATE) - 100);
    const lineHeard = watcher.heard.filter((progress) => progress.eventId === eventId);
    const servingThrough = lineHeard.map((progress) => progress.servingThrough);
    expect(servingThrough).toEqual([...servingThrough].sort((a, b) => a - b));
    const lastTicketPlaces = [...new Set(lineHeard.filter((progress) => progress.servingThrough > 0).map((progress) => placeInLine(3, progress.servingThrough)))];
    expect(lastTicketPlaces[0]).toBeGreaterThanOrEqual(1);
    expect(lastTicketPlaces.at(-1)).toBe(0);
    expect(lastTicketPlaces).toEqual([...lastTicketPlaces].sort((a, b) => b - a));
    expect(watcher.client.queuePosition(eventId, 3)).toBe(0);
    expect(await placeOf(buyers[2]!.token, eventId)).toMatchObject({ position: 0, status: 'admitted' });

    // A later joiner queues behind, one step after the last ticket: its place from the client, then 0.
    const late = await registerUser(server, 'late');
    const joined = await server.request('POST', `/api/events/${eventId}/queue`, { token: late.token });
    expect(joined.body.queue.ticket).toBe(4);
    const lateLive = watcher.client.queuePosition(eventId, 4)!;
    // The watcher heard the line at most a second ago, so its place never runs ahead of the server's;
    // nobody else waits, so it is at most one ticket past servingThrough 3.
    expect(lateLive).toBeGreaterThanOrEqual(joined.body.queue.position);
    expect(lateLive).toBeLessThanOrEqual(1);
    await watcher.until('the late joiner admitted', () => (watcher.client.queuePosition(eventId, 4) === 0 ? true : undefined));

    // Subscribing again: the same line is no news, and the pace heard before is kept.
    const heardBefore = watcher.heard.length;
    watcher.client.subscribe(eventId);
    await Bun.sleep(300);
    expect(watcher.heard.length).toBe(heardBefore);
    expect(watcher.client.queueProgress(eventId)).toMatchObject({ servingThrough: 4, ratePerMinute: RATE });

    // The event without a line: nothing heard, no place.
    expect(watcher.heard.some((progress) => progress.eventId === plainEventId)).toBe(false);
    expect(watcher.client.queueProgress(plainEventId)).toBeUndefined();
    expect(watcher.client.queuePosition(plainEventId, 1)).toBeNull();

    // A newcomer learns where the line stands from its snapshot alone.
    const newcomer = watching(late.token, [eventId]);
    expect(await newcomer.until('the snapshot', () => newcomer.heard[0])).toEqual({ eventId, servingThrough: 4, waiting: 0 });
    expect(newcomer.client.queuePosition(eventId, 4)).toBe(0);

    // Unwatched: forgotten.
    watcher.client.unsubscribe(eventId);
    expect(watcher.client.queueProgress(eventId)).toBeUndefined();
    expect(watcher.client.queuePosition(eventId, 4)).toBeNull();
  }, 30_000);
});
