import { describe, expect, test } from 'bun:test';
import { createLogger } from '../../src/lib/logger';
import type { SeatStateFields } from '../../src/protocol';
import type { EventHidden, SeatChange } from '../../src/services/seat-feed';
import { createWebSocketManager, type ManagedSocket, type Publisher, type SeatSnapshot, type SeatStateLoader } from '../../src/services/websocket';
import { expectStrictlyIncreasing } from '../support/websocket-helpers';
import { waitFor } from '../support/ws';

/**
 * Manager-level tests for what a real socket cannot show deterministically: the rate bucket
 * against an injected clock, and the exact interleaving of a snapshot read with a committed
 * change. Everything else is tested against a real server in tests/routes/websocket*.test.ts.
 *
 * The fakes stand in for Bun (a socket and the server's topic publish), not for our code.
 */
class FakeSocket implements ManagedSocket {
  readonly data: { clientId?: string } = {};
  readonly received: any[] = [];
  readonly topics = new Set<string>();
  closedWith: { code?: number; reason?: string } | null = null;
  send(data: string): number {
    this.received.push(JSON.parse(data));
    return data.length;
  }
  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
  }
  subscribe(topic: string): void {
    this.topics.add(topic);
  }
  unsubscribe(topic: string): void {
    this.topics.delete(topic);
  }
  ofType(type: string) {
    return this.received.filter((message) => message.type === type);
  }
  /** Versions of everything this socket received about an event, snapshots included, in order. */
  versions(eventId: number): number[] {
    return this.received.filter((message) => message.eventId === eventId && typeof message.version === 'number').map((message) => message.version);
  }
  last(eventId: number) {
    return this.received.filter((message) => message.eventId === eventId && typeof message.version === 'number').at(-1);
  }
}

/** Bun's server.publish: delivers to the sockets subscribed to the topic at that moment, and counts them. */
function fakeServer(sockets: () => FakeSocket[]): Publisher {
  return {
    publish(topic, data) {
      let delivered = 0;
      for (const socket of sockets()) {
        if (socket.topics.has(topic) && !socket.closedWith) {
          socket.send(data);
          delivered += 1;
        }
      }
      return delivered;
    },
    subscriberCount(topic) {
      return sockets().filter((socket) => socket.topics.has(topic) && !socket.closedWith).length;
    },
  };
}

const user = (id: number) => ({ id, email: `u${id}@example.com`, name: null });
const farFuture = () => Math.floor(Date.now() / 1000) + 3600;
const flushMicrotasks = () => new Promise((resolve) => setTimeout(resolve, 0));

/** A database stand-in whose reads the test releases one by one, to place commits between read and reply. */
function controlledLoader() {
  const waiting: { eventId: number; resolve: (state: SeatSnapshot | null) => void }[] = [];
  const loader: SeatStateLoader = (eventId) => new Promise((resolve) => waiting.push({ eventId, resolve }));
  return {
    loader,
    pending: () => waiting.length,
    release(state: SeatSnapshot | null) {
      const next = waiting.shift();
      if (!next) throw new Error('no read in flight');
      next.resolve(state);
    },
  };
}

function managerWith(options: { loader: SeatStateLoader; coalesceMs?: number; now?: () => number }) {
  const sockets: FakeSocket[] = [];
  const manager = createWebSocketManager({
    loadSeatState: options.loader,
    // Token refresh is tested on a real server (tests/routes/websocket-refresh.test.ts).
    verifyToken: async () => null,
    coalesceMs: options.coalesceMs ?? 0,
    logger: createLogger('silent'),
    now: options.now,
  });
  manager.attachPublisher(fakeServer(() => sockets));
  const open = (userId = 1) => {
    const socket = new FakeSocket();
    sockets.push(socket);
    manager.openGeneral(socket, user(userId), farFuture());
    return socket;
  };
  /** `/ws/events/:id`; resolves once the open is answered. */
  const openFor = (eventId: number, userId = 1) => {
    const socket = new FakeSocket();
    sockets.push(socket);
    return { socket, opened: manager.openForEvent(socket, user(userId), farFuture(), eventId) };
  };
  return { manager, open, openFor };
}

const state = (version: number, availableSeats = 100 - version): SeatStateFields => ({ eventId: 7, availableSeats, heldSeats: 0, capacity: 100, version });

const subscribeToEvent7 = JSON.stringify({ type: 'subscribe_event', eventId: 7 });
const booked = (version: number): SeatChange => ({ ...state(version), kind: 'booking_created' });
/** Event 7 became a draft of user 1 at `version`. */
const hidden = (version: number): EventHidden => ({ kind: 'event_hidden', eventId: 7, organizerId: 1, version });

/** `subscribe_event` for event 7, its snapshot read answered with `answer` once it is in flight. */
async function subscribeAnswered(
  manager: ReturnType<typeof managerWith>['manager'],
  socket: FakeSocket,
  db: ReturnType<typeof controlledLoader>,
  answer: SeatSnapshot | null,
): Promise<void> {
  const subscribing = manager.handleMessage(socket, subscribeToEvent7);
  await flushMicrotasks();
  db.release(answer);
  await subscribing;
}

/** One watcher at version 1 under a 20 ms window: 2 went out at once and opened the window, 3 waits in it. */
async function watcherWithWindowOpen() {
  const db = controlledLoader();
  const { manager, open } = managerWith({ loader: db.loader, coalesceMs: 20 });
  const first = open();
  await subscribeAnswered(manager, first, db, state(1));
  manager.handleSeatChange(booked(2)); // sent at once, window opens
  manager.handleSeatChange(booked(3)); // pending in the window
  return { db, manager, open, first };
}

describe('snapshot read racing a committed change', () => {
  test('first watcher: a change committed after the read but handled before the reply is not lost', async () => {
    const db = controlledLoader();
    const { manager, open } = managerWith({ loader: db.loader });
    const socket = open();
    const subscribing = manager.handleMessage(socket, subscribeToEvent7);
    await flushMicrotasks();
    expect(db.pending()).toBe(1);
    // The read saw version 5; version 6 commits and reaches the manager before the read returns.
    manager.handleSeatChange(booked(6));
    db.release(state(5));
    await subscribing;
    // Changes stop here: the watcher must hold the database's state (version 6).
    expect(socket.last(7)).toMatchObject({ version: 6, availableSeats: 94 });
    manager.stop();
  });

  test('a read in flight keeps the event tracked even when the last other watcher leaves meanwhile', async () => {
    const db = controlledLoader();
    const { manager, open } = managerWith({ loader: db.loader });
    const first = open();
    await subscribeAnswered(manager, first, db, state(3));

    const second = open();
    const secondSubscribed = manager.handleMessage(second, subscribeToEvent7);
    await flushMicrotasks();
    await manager.handleMessage(first, JSON.stringify({ type: 'unsubscribe_event', eventId: 7 }));
    manager.handleSeatChange(booked(4));
    db.release(state(3));
    await secondSubscribed;
    expect(second.last(7)).toMatchObject({ version: 4 });
    manager.stop();
  });

  test('a read newer than what was sent: others are brought level before the newcomer joins, nobody goes back', async () => {
    const { db, manager, open, first } = await watcherWithWindowOpen();
    const second = open();
    const secondSubscribed = manager.handleMessage(second, subscribeToEvent7);
    await flushMicrotasks();
    db.release(state(5)); // the database is already at 5; 4 and 5 are still on their way
    await secondSubscribed;
    manager.handleSeatChange(booked(4));
    manager.handleSeatChange(booked(5));
    manager.handleSeatChange(booked(6));
    await waitFor(() => [first, second].every((socket) => socket.last(7)?.version === 6), 2_000, 'both watchers at version 6');
    for (const socket of [first, second]) {
      expectStrictlyIncreasing(socket.versions(7), 'watcher');
      expect(socket.last(7)).toMatchObject({ version: 6 });
    }
    expect(second.versions(7)).toEqual([5, 6]);
    manager.stop();
  });

  test('a stale change arriving after the snapshot is never sent', async () => {
    const db = controlledLoader();
    const { manager, open } = managerWith({ loader: db.loader });
    const socket = open();
    await subscribeAnswered(manager, socket, db, state(9));
    manager.handleSeatChange(booked(8));
    manager.handleSeatChange(booked(9));
    expect(socket.versions(7)).toEqual([9]);
    manager.stop();
  });

  test('the tracking of an event whose read found nothing is let go', async () => {
    const db = controlledLoader();
    const { manager, open } = managerWith({ loader: db.loader, coalesceMs: 20 });
    const socket = open();
    const subscribing = manager.handleMessage(socket, subscribeToEvent7);
    await flushMicrotasks();
    manager.handleSeatChange(booked(2));
    db.release(null);
    await subscribing;
    expect(socket.ofType('error')).toEqual([expect.objectContaining({ code: 'event_not_found', eventId: 7 })]);
    expect(manager.watchedEventIds()).toEqual([]);
    manager.stop();
  });
});

describe('a move to draft', () => {
  test('every watcher but the organizer gets event_not_found and leaves, whatever the version; a connection opened for the event closes 4404', async () => {
    const db = controlledLoader();
    const { manager, open, openFor } = managerWith({ loader: db.loader, coalesceMs: 20 });
    const organizer = open(1);
    await subscribeAnswered(manager, organizer, db, state(4));
    const other = open(2);
    await subscribeAnswered(manager, other, db, state(4));
    const dedicated = openFor(7, 3);
    await flushMicrotasks();
    db.release(state(4));
    await dedicated.opened;
    // At the version everyone holds: a status change does not bump it, and the notice still counts.
    manager.handleSeatChange(hidden(4));
    const notFound = { type: 'error', code: 'event_not_found', eventId: 7, message: expect.any(String) };
    expect(other.received.at(-1)).toEqual(notFound);
    expect(other.closedWith).toBeNull();
    expect(dedicated.socket.received.at(-1)).toEqual(notFound);
    expect(dedicated.socket.closedWith).toEqual({ code: 4404, reason: 'event not found' });
    expect(organizer.ofType('error')).toEqual([]);
    expect(manager.subscribersByEvent.get(7)?.size).toBe(1);
    manager.handleSeatChange(booked(5));
    await Bun.sleep(30);
    expect(organizer.last(7)).toMatchObject({ version: 5 });
    expect(other.versions(7)).toEqual([4]);
    expect(dedicated.socket.versions(7)).toEqual([4]);
    manager.stop();
  });

  for (const endpoint of ['subscribe_event', '/ws/events/:id']) {
    test(`${endpoint}: a read that saw the event published, answered after the notice, is read again and attaches nobody`, async () => {
      const db = controlledLoader();
      const { manager, open, openFor } = managerWith({ loader: db.loader });
      const organizer = open(1);
      await subscribeAnswered(manager, organizer, db, state(4));
      let watcher: FakeSocket;
      let answered: Promise<void>;
      if (endpoint === 'subscribe_event') {
        watcher = open(2);
        answered = manager.handleMessage(watcher, subscribeToEvent7);
      } else {
        ({ socket: watcher, opened: answered } = openFor(7, 2));
      }
      await flushMicrotasks();
      expect(db.pending()).toBe(1);
      // The read saw the event published; the move to draft commits and is heard before it returns.
      manager.handleSeatChange(hidden(4));
      db.release(state(4));
      await flushMicrotasks();
      expect(db.pending()).toBe(1);
      db.release(null);
      await answered;
      expect(watcher.received.filter((message) => message.eventId === 7)).toEqual([{ type: 'error', code: 'event_not_found', eventId: 7, message: expect.any(String) }]);
      if (endpoint === '/ws/events/:id') expect(watcher.closedWith).toEqual({ code: 4404, reason: 'event not found' });
      expect(manager.subscribersByEvent.get(7)?.size).toBe(1);
      manager.handleSeatChange(booked(5));
      await waitFor(() => organizer.last(7)?.version === 5, 1_000, 'the organizer at version 5');
      expect(watcher.versions(7)).toEqual([]);
      manager.stop();
    });
  }

  test('a read that began after the notice is not read again', async () => {
    const db = controlledLoader();
    const { manager, open } = managerWith({ loader: db.loader });
    const organizer = open(1);
    await subscribeAnswered(manager, organizer, db, state(4));
    manager.handleSeatChange(hidden(4));
    // Published again since: a newcomer subscribes with one read.
    const newcomer = open(2);
    await subscribeAnswered(manager, newcomer, db, state(4));
    expect(db.pending()).toBe(0);
    expect(newcomer.last(7)).toEqual({ type: 'subscribed', ...state(4) });
    manager.stop();
  });
});

describe('coalescing', () => {
  test('first change of a quiet spell goes at once, the burst collapses to its latest, nothing is skipped at the end', async () => {
    const db = controlledLoader();
    const { manager, open } = managerWith({ loader: db.loader, coalesceMs: 30 });
    const socket = open();
    await subscribeAnswered(manager, socket, db, state(1));
    for (let version = 2; version <= 20; version++) manager.handleSeatChange(booked(version));
    expect(socket.versions(7)).toEqual([1, 2]);
    // At the window's end (later on a busy machine): one message, the latest.
    await waitFor(() => socket.versions(7).length >= 3, 1_000, "the window's message");
    expect(socket.versions(7)).toEqual([1, 2, 20]);
    // At least a whole window with nothing to send.
    await Bun.sleep(45);
    // The window closed quietly; the next change is sent at once again.
    manager.handleSeatChange({ ...state(21), kind: 'booking_cancelled' });
    expect(socket.received.at(-1)).toEqual({ type: 'booking_cancelled', eventId: 7, availableSeats: 79, heldSeats: 0, capacity: 100, version: 21 });
    manager.stop();
  });

  test('a window closing late (the loop was blocked) first lets what was read meanwhile join its message', async () => {
    const { manager, first: socket } = await watcherWithWindowOpen();
    // Handled in the same timer turn as the window's end, just after it: a model of a change read
    // from a database connection once the loop is free again (in the server that read comes in
    // the poll that follows the late timer, which the zero-delay close also waits for).
    setTimeout(() => manager.handleSeatChange(booked(4)), 20);
    // A second change read in another callback of that turn: the two ride in one message.
    setTimeout(() => manager.handleSeatChange(booked(5)), 20);
    // Blocked past the window's end, as by a write to thousands of sockets.
    const blockedUntil = Date.now() + 60;
    while (Date.now() < blockedUntil);
    await waitFor(() => socket.last(7)?.version === 5, 2_000, 'the late window\'s message');
    expect(socket.versions(7)).toEqual([1, 2, 5]);
    manager.stop();
  });
});

describe('queue_progress (SPEC §9)', () => {
  const line = (servingThrough: number, waiting: number) => ({ eventId: 7, servingThrough, waiting, ratePerMinute: 60 });

  test('each process reads the line at its own moments: a lower servingThrough is dropped, a repeat is no news, a newcomer never sees less than was given out', async () => {
    const db = controlledLoader();
    const { manager, open } = managerWith({ loader: db.loader });
    const first = open();
    await subscribeAnswered(manager, first, db, { ...state(1), queue: line(5, 10) });
    expect(first.ofType('subscribed')).toEqual([{ type: 'subscribed', ...state(1), servingThrough: 5, waiting: 10 }]);

    manager.handleQueueProgress(line(8, 7));
    manager.handleQueueProgress(line(6, 9)); // read before the one above, handled after it
    manager.handleQueueProgress(line(8, 7)); // another read of the same moment
    manager.handleQueueProgress(line(8, 8)); // someone joined at the back
    expect(first.ofType('queue_progress')).toEqual([
      { type: 'queue_progress', ...line(8, 7) },
      { type: 'queue_progress', ...line(8, 8) },
    ]);

    // A snapshot read before servingThrough 8 went out: the newcomer is told 8, not 7.
    const second = open(2);
    await subscribeAnswered(manager, second, db, { ...state(1), queue: line(7, 9) });
    expect(second.ofType('subscribed')).toEqual([{ type: 'subscribed', ...state(1), servingThrough: 8, waiting: 8 }]);
    manager.stop();
  });
});

describe('slices (fan-out-slices.ts) with the manager', () => {
  test('more watchers than a turn writes: a change reaches them over a few turns, each once, and a newcomer meanwhile never goes back', async () => {
    const { manager, open } = managerWith({ loader: async () => state(1), coalesceMs: 20 });
    const watchers = Array.from({ length: 2_500 }, () => open());
    await Promise.all(watchers.map((socket) => manager.handleMessage(socket, subscribeToEvent7)));
    manager.handleSeatChange(booked(2));
    const reachedAtOnce = watchers.filter((socket) => socket.last(7).version === 2).length;
    expect(reachedAtOnce).toBeGreaterThan(0);
    expect(reachedAtOnce).toBeLessThan(watchers.length);
    // Subscribing while the rest of the message waits for its turn.
    const newcomer = open();
    await manager.handleMessage(newcomer, subscribeToEvent7);
    await waitFor(() => watchers.every((socket) => socket.last(7).version === 2), 2_000, 'every slice at version 2');
    manager.handleSeatChange(booked(3));
    await waitFor(() => [...watchers, newcomer].every((socket) => socket.last(7)?.version === 3), 2_000, 'every watcher at version 3');
    for (const socket of [...watchers, newcomer]) {
      expectStrictlyIncreasing(socket.versions(7), 'watcher');
      expect(socket.versions(7).at(-1)).toBe(3);
    }
    expect(watchers.every((socket) => socket.versions(7).join() === '1,2,3')).toBe(true);
    manager.stop();
  });
});

describe('rate bucket (injected clock)', () => {
  function clocked() {
    let nowMs = 1_000_000;
    const db = controlledLoader();
    const { manager, open } = managerWith({ loader: db.loader, now: () => nowMs });
    return { manager, socket: open(), advance: (ms: number) => (nowMs += ms) };
  }

  const ping = JSON.stringify({ type: 'ping' });

  test('40 at once, then 20 a second; one rate_limited error a second at most', async () => {
    const { manager, socket, advance } = clocked();
    for (let i = 0; i < 45; i++) await manager.handleMessage(socket, ping);
    expect(socket.ofType('pong')).toHaveLength(40);
    expect(socket.ofType('error')).toEqual([expect.objectContaining({ code: 'rate_limited' })]);

    advance(500); // refills 10
    for (let i = 0; i < 12; i++) await manager.handleMessage(socket, ping);
    expect(socket.ofType('pong')).toHaveLength(50);
    expect(socket.ofType('error')).toHaveLength(1); // within a second of the last error

    advance(500);
    for (let i = 0; i < 12; i++) await manager.handleMessage(socket, ping);
    expect(socket.ofType('pong')).toHaveLength(60);
    expect(socket.ofType('error')).toHaveLength(2);

    advance(10_000); // the bucket never holds more than 40
    for (let i = 0; i < 50; i++) await manager.handleMessage(socket, ping);
    expect(socket.ofType('pong')).toHaveLength(100);
    expect(socket.closedWith).toBeNull();
    manager.stop();
  });

  test('the 200th drop within 10 s closes 4429; drops spread wider do not', async () => {
    const { manager, socket, advance } = clocked();
    for (let i = 0; i < 40; i++) await manager.handleMessage(socket, ping);
    for (let i = 0; i < 199; i++) await manager.handleMessage(socket, ping);
    expect(socket.closedWith).toBeNull();
    advance(10_001);
    // A new window: the bucket refilled (40 answered), then 199 more drops stay under the limit.
    for (let i = 0; i < 40 + 199; i++) await manager.handleMessage(socket, ping);
    expect(socket.closedWith).toBeNull();
    await manager.handleMessage(socket, ping);
    expect(socket.closedWith).toEqual({ code: 4429, reason: expect.any(String) });
    manager.stop();
  });

  test('drops spread over most of the 10 s window still add up to the 4429 close', async () => {
    const { manager, socket, advance } = clocked();
    for (let i = 0; i < 40; i++) await manager.handleMessage(socket, ping);
    for (let i = 0; i < 100; i++) await manager.handleMessage(socket, ping);
    advance(9_000); // same window; the bucket refills to its 40
    for (let i = 0; i < 40 + 99; i++) await manager.handleMessage(socket, ping);
    expect(socket.closedWith).toBeNull();
    await manager.handleMessage(socket, ping); // the 200th drop, 9 s after the first
    expect(socket.closedWith).toEqual({ code: 4429, reason: expect.any(String) });
    manager.stop();
  });

  test('the rate_limited answer waits its turn behind answers still in progress', async () => {
    const db = controlledLoader();
    const { manager, open } = managerWith({ loader: db.loader });
    const socket = open();
    const replies: Promise<void>[] = [manager.handleMessage(socket, subscribeToEvent7)];
    for (let i = 0; i < 45; i++) replies.push(manager.handleMessage(socket, ping));
    await flushMicrotasks();
    db.release(state(1));
    await Promise.all(replies);
    const types = socket.received.map((message) => message.type);
    expect(types.slice(0, 2)).toEqual(['connection_established', 'subscribed']);
    expect(types.slice(2, 41)).toEqual(Array(39).fill('pong'));
    expect(types.slice(41)).toEqual(['error']);
    manager.stop();
  });
});
