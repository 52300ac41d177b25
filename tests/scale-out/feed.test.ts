import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import postgres from 'postgres';
import { loadConfig } from '../../src/config';
import { openDatabase, type DatabaseHandle } from '../../src/db/client';
import { createLogger } from '../../src/lib/logger';
import { createSeatFeed } from '../../src/services/seat-feed-transport';
import { createTestDatabaseUrl, sayNeedsPostgres, usingPostgres } from '../support/database';
import { login, openTestDatabase, startTestServer, type TestServer } from '../support/server';
import { seatMessages, untilHolds } from '../support/websocket-helpers';
import { connect, waitFor, type TestSocket } from '../support/ws';

/**
 * SPEC §4: several server processes on one PostgreSQL. Two servers in this process, each with
 * its own pool and its own LISTEN connection on one fresh database, stand in for two processes
 * (tests/scale-out/workers.test.ts runs real ones).
 */

if (!usingPostgres()) {
  sayNeedsPostgres('SPEC §4, two servers sharing seat changes through one PostgreSQL,');
  // CI's PGlite run: PGlite is one process, so there is nothing to scale out; check that it stays so.
  test('PGlite run: the seat feed stays in-process and WORKERS>1 is refused (scale-out tests need DATABASE_URL=postgres://…)', async () => {
    expect(() => loadConfig({ WORKERS: '2' })).toThrow('WORKERS above 1 needs DATABASE_URL on PostgreSQL');
    expect(() => loadConfig({ WORKERS: '2', DATABASE_URL: 'memory://' })).toThrow('WORKERS above 1 needs DATABASE_URL on PostgreSQL');
    const database = await openTestDatabase();
    try {
      const feed = await createSeatFeed(database, { logger: createLogger('silent'), onReconnect: async () => {} });
      // In memory: nothing is recorded in the statement, the change travels only through `committed`.
      expect(feed.recordInStatement({ kind: 'seat_update', eventId: 1, availableSeats: 1, heldSeats: 0, capacity: 1, version: 1 })).toBeNull();
      await feed.close();
    } finally {
      await database.close();
    }
  }, 60_000);
} else {
  describe('two servers on one PostgreSQL', () => {
    interface Node extends TestServer {
      name: string;
      logLines: Record<string, any>[];
    }

    let databaseUrl: string;
    let databaseName: string;
    /** On the server's base database: pg_stat_activity, pg_terminate_backend, ALTER DATABASE. */
    let admin: postgres.Sql;
    /** On the test database, connected before any outage, to read what the database holds. */
    let inspector: postgres.Sql;
    const handles: DatabaseHandle[] = [];
    let a: Node;
    let b: Node;
    let aListenerPid: number;
    let bListenerPid: number;
    let token: string;

    async function startNode(name: string, coalesceMs: number, seed: boolean): Promise<Node> {
      // Own pool and own LISTEN connection, as a separate process would have.
      const database = await openDatabase(databaseUrl, { maxConnections: 5 });
      handles.push(database);
      const logLines: Record<string, any>[] = [];
      const logger = createLogger('info', (line) => logLines.push(JSON.parse(line)));
      const server = await startTestServer({ database, seed, config: { fanoutCoalesceMs: coalesceMs }, logger });
      return { ...server, name, logLines };
    }

    const listenerPids = async () =>
      (await admin`select pid from pg_stat_activity where datname = ${databaseName} and application_name = 'seatwatch-listener'`).map((row) => Number(row.pid));

    async function createEvent(capacity: number): Promise<number> {
      const created = await a.request('POST', '/api/events', { token, body: { name: `scale-out ${capacity}`, startsAt: '2030-01-01T20:00:00Z', capacity } });
      expect(created.status).toBe(201);
      return created.body.event.id;
    }

    async function watch(node: Node, eventId: number): Promise<TestSocket> {
      const watcher = connect(`${node.wsUrl}/ws/events/${eventId}?token=${token}`);
      await watcher.nextOfType('subscribed');
      return watcher;
    }

    async function seatsInDatabase(eventId: number) {
      const [row] = await inspector`select available_seats, capacity, version from events where id = ${eventId}`;
      return row;
    }

    beforeAll(async () => {
      databaseUrl = await createTestDatabaseUrl();
      databaseName = new URL(databaseUrl).pathname.slice(1);
      admin = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
      inspector = postgres(databaseUrl, { max: 1, onnotice: () => {}, idle_timeout: 0 });
      a = await startNode('A', 0, true);
      const before = await listenerPids();
      aListenerPid = before[0]!;
      // B coalesces bursts as the default config does; A sends every change.
      b = await startNode('B', 50, false);
      await inspector`select 1`;
      bListenerPid = (await listenerPids()).find((pid) => !before.includes(pid))!;
      expect(bListenerPid).toBeNumber();
      token = await login(a);
    }, 60_000);

    afterAll(async () => {
      await admin?.unsafe(`alter database "${databaseName}" allow_connections true`).catch(() => {});
      await Promise.all([a?.stop(), b?.stop()]);
      await Promise.all(handles.map((handle) => handle.close()));
      await Promise.all([admin?.end(), inspector?.end()]);
    }, 30_000);

    test('both servers publish from PostgreSQL LISTEN/NOTIFY', async () => {
      expect(await listenerPids()).toHaveLength(2);
    });

    test('a booking through A reaches watchers on B and on A, with the right seats and version', async () => {
      const eventId = await createEvent(100);
      const onA = await watch(a, eventId);
      const onB = await watch(b, eventId);

      const booked = await a.request('POST', '/api/bookings', { token, body: { eventId, quantity: 2 } });
      expect(booked.status).toBe(201);
      expect(booked.body.availableSeats).toBe(98);
      const expected = { type: 'booking_created', eventId, availableSeats: 98, heldSeats: 0, capacity: 100, version: 2 };
      expect(await onB.nextOfType('booking_created')).toEqual(expected);
      expect(await onA.nextOfType('booking_created')).toEqual(expected);

      // And back the other way: a cancel through B reaches A.
      const cancelled = await b.request('DELETE', `/api/bookings/${booked.body.booking.id}`, { token });
      expect(cancelled.status).toBe(200);
      const restored = { type: 'booking_cancelled', eventId, availableSeats: 100, heldSeats: 0, capacity: 100, version: 3 };
      expect(await onA.nextOfType('booking_cancelled')).toEqual(restored);
      expect(await onB.nextOfType('booking_cancelled')).toEqual(restored);
      onA.close();
      onB.close();
    });

    test('400 concurrent bookings over both servers: no oversell, versions only rise, every watcher ends on the database state', async () => {
      const capacity = 300;
      const eventId = await createEvent(capacity);
      const watchers = await Promise.all([a, a, a, b, b, b].map((node) => watch(node, eventId)));

      const results = await Promise.all(Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? a : b).request('POST', '/api/bookings', { token, body: { eventId } })));
      const statuses = results.map((result) => result.status);
      expect(statuses.filter((status) => status === 201)).toHaveLength(capacity);
      expect(statuses.filter((status) => status === 409)).toHaveLength(400 - capacity);
      expect(results.every((result) => result.status === 201 || result.body.error.code === 'sold_out')).toBe(true);

      const [confirmed] = await inspector`select coalesce(sum(quantity), 0)::int as seats from bookings where event_id = ${eventId} and status = 'confirmed'`;
      expect(confirmed!.seats).toBe(capacity);
      const final = await seatsInDatabase(eventId);
      expect(final).toEqual({ available_seats: 0, capacity, version: 1 + capacity });

      for (const watcher of watchers) {
        const last = await untilHolds(watcher, undefined, final!.version);
        expect(last).toMatchObject({ eventId, availableSeats: 0, heldSeats: 0, capacity, version: final!.version });
        const versions = seatMessages(watcher, undefined).map((message) => message.version);
        for (let i = 1; i < versions.length; i++) expect(versions[i]).toBeGreaterThan(versions[i - 1]);
        watcher.close();
      }
    });

    test('a move to draft through A removes the other watchers on B (4404 on /ws/events/:id); the organizer on B keeps watching', async () => {
      const aliceToken = await login(a, 'alice@example.com');
      const eventId = await createEvent(20);
      const booked = await a.request('POST', '/api/bookings', { token, body: { eventId, quantity: 2 } });
      expect(booked.status).toBe(201);
      const organizerOnB = await watch(b, eventId);
      const dedicatedOnB = connect(`${b.wsUrl}/ws/events/${eventId}?token=${aliceToken}`);
      await dedicatedOnB.nextOfType('subscribed');
      const generalOnB = connect(`${b.wsUrl}/ws?token=${aliceToken}`);
      await generalOnB.nextOfType('connection_established');
      generalOnB.send({ type: 'subscribe_event', eventId });
      await generalOnB.nextOfType('subscribed');

      expect((await a.request('PATCH', `/api/events/${eventId}`, { token, body: { status: 'draft' } })).status).toBe(200);
      const notFound = { type: 'error', code: 'event_not_found', eventId, message: expect.any(String) };
      expect(await generalOnB.nextOfType('error', 10_000)).toEqual(notFound);
      expect(await dedicatedOnB.nextOfType('error', 10_000)).toEqual(notFound);
      expect((await dedicatedOnB.closed).code).toBe(4404);

      // A cancel through A: the organizer on B hears it, the other watcher on B does not.
      expect((await a.request('DELETE', `/api/bookings/${booked.body.booking.id}`, { token })).status).toBe(200);
      await untilHolds(organizerOnB, eventId, 3);
      generalOnB.send({ type: 'ping' });
      await generalOnB.nextOfType('pong');
      expect(seatMessages(generalOnB, eventId).map((message) => message.version)).toEqual([2]);
      expect(b.websocket.subscribersByEvent.get(eventId)).toEqual(new Set([organizerOnB.messages[0].clientId]));
      organizerOnB.close();
      generalOnB.close();
    });

    test("B's LISTEN connection killed and held down: a booking through A meanwhile still reaches B's watcher after recovery", async () => {
      const eventId = await createEvent(50);
      const onA = await watch(a, eventId);
      const onB = await watch(b, eventId);
      expect((await a.request('POST', '/api/bookings', { token, body: { eventId } })).status).toBe(201);
      await untilHolds(onB, undefined, 2);

      // The database refuses new connections (as while restarting), then B's listener is killed:
      // it cannot come back until connections are allowed again.
      await admin.unsafe(`alter database "${databaseName}" allow_connections false`);
      try {
        const [terminated] = await admin`select pg_terminate_backend(${bListenerPid}) as done`;
        expect(terminated!.done).toBe(true);
        await waitFor(() => b.logLines.some((line) => line.msg.startsWith('seat feed: LISTEN reconnect failed')), 10_000, 'a failed reconnect on B');
        expect(b.logLines.some((line) => line.level === 'warn' && line.msg.startsWith('seat feed: LISTEN connection lost'))).toBe(true);

        // A's pool is still connected; its own listener is untouched.
        for (let i = 0; i < 3; i++) expect((await a.request('POST', '/api/bookings', { token, body: { eventId, quantity: 2 } })).status).toBe(201);
        await untilHolds(onA, undefined, 5);
        // B heard none of it: its listener is down.
        expect(seatMessages(onB, undefined).at(-1).version).toBe(2);
      } finally {
        await admin.unsafe(`alter database "${databaseName}" allow_connections true`);
      }

      const final = await seatsInDatabase(eventId);
      expect(final).toEqual({ available_seats: 43, capacity: 50, version: 5 });
      // Recovery re-reads the watched events and publishes what B's watcher missed.
      const last = await untilHolds(onB, undefined, 5, 20_000);
      expect(last).toMatchObject({ eventId, availableSeats: 43, heldSeats: 0, capacity: 50, version: 5 });
      const recovered = b.logLines.find((line) => line.msg.startsWith('seat feed: LISTEN connection recovered'));
      expect(recovered).toMatchObject({ level: 'info' });
      expect(recovered!.outageMs).toBeGreaterThan(0);
      expect((await listenerPids()).filter((pid) => pid !== bListenerPid)).toHaveLength(2);

      // And it is live again: the next booking arrives as a notification.
      expect((await a.request('POST', '/api/bookings', { token, body: { eventId } })).status).toBe(201);
      expect(await onB.next((message) => message.version === 6)).toEqual({ type: 'booking_created', eventId, availableSeats: 42, heldSeats: 0, capacity: 50, version: 6 });
      onA.close();
      onB.close();
    });

    test("a move to draft while B's LISTEN connection is down: B's catch-up still removes the other watchers", async () => {
      const aliceToken = await login(a, 'alice@example.com');
      const eventId = await createEvent(10);
      const organizerOnB = await watch(b, eventId);
      const aliceOnB = connect(`${b.wsUrl}/ws/events/${eventId}?token=${aliceToken}`);
      await aliceOnB.nextOfType('subscribed');
      const currentB = (await listenerPids()).find((pid) => pid !== aListenerPid)!;
      const logsFrom = b.logLines.length;

      await admin.unsafe(`alter database "${databaseName}" allow_connections false`);
      try {
        const [terminated] = await admin`select pg_terminate_backend(${currentB}) as done`;
        expect(terminated!.done).toBe(true);
        await waitFor(() => b.logLines.slice(logsFrom).some((line) => line.msg.startsWith('seat feed: LISTEN reconnect failed')), 10_000, 'a failed reconnect on B');
        // The notice is sent while B cannot hear it.
        expect((await a.request('PATCH', `/api/events/${eventId}`, { token, body: { status: 'draft' } })).status).toBe(200);
      } finally {
        await admin.unsafe(`alter database "${databaseName}" allow_connections true`);
      }
      expect(await aliceOnB.nextOfType('error', 20_000)).toEqual({ type: 'error', code: 'event_not_found', eventId, message: expect.any(String) });
      expect((await aliceOnB.closed).code).toBe(4404);
      expect(b.websocket.subscribersByEvent.get(eventId)).toEqual(new Set([organizerOnB.messages[0].clientId]));
      organizerOnB.close();
    });
  });
}
