import { afterAll, beforeAll, expect, test } from 'bun:test';
import { sql } from 'drizzle-orm';
import { databaseErrorCode, openDatabase, type DatabaseHandle } from '../../src/db/client';
import { USER_DELETED_CHANNEL } from '../../src/services/known-users';
import { createTestDatabaseUrl, usingPostgres } from '../support/database';
import { expectError, registerUser, startTestServer, type TestServer } from '../support/server';
import { connect, type TestSocket } from '../support/ws';
import { roundTrip } from '../support/websocket-helpers';

/**
 * A user deleted straight from the database (there is no route for it) loses access at once,
 * on every server sharing the database: every authenticated REST route, GET /api/events with
 * the token, new WebSocket upgrades, and the sockets already open.
 */

const handles: DatabaseHandle[] = [];
/** One server per process sharing the database: two on PostgreSQL, where several may share it. */
const servers: TestServer[] = [];

beforeAll(async () => {
  const url = await createTestDatabaseUrl();
  for (let i = 0; i < (usingPostgres() ? 2 : 1); i++) {
    const database = await openDatabase(url);
    handles.push(database);
    servers.push(await startTestServer({ database, seed: i === 0 }));
  }
}, 60_000);
afterAll(async () => {
  for (const server of servers) await server.stop();
  for (const database of handles) await database.close();
});

/** Resolves once `user_deleted` with this payload reached the test's own LISTEN on every handle. */
async function deletionHeard(payload: string): Promise<() => Promise<void>> {
  const heard = await Promise.all(
    handles.map(async (database) => {
      let resolve!: () => void;
      const arrived = new Promise<void>((done) => (resolve = done));
      const stop = await database.listen(USER_DELETED_CHANNEL, (received) => {
        if (received === payload) resolve();
      });
      return { arrived, stop };
    }),
  );
  return async () => {
    // The servers listened first, so their handlers have run by the time the test's do.
    await Promise.race([Promise.all(heard.map((entry) => entry.arrived)), Bun.sleep(10_000).then(() => Promise.reject(new Error(`no ${payload} notification`)))]);
    await Promise.all(heard.map((entry) => entry.stop()));
  };
}

async function expectSocketRefused(socket: TestSocket): Promise<void> {
  const { code } = await Promise.race([socket.closed, Bun.sleep(10_000).then(() => Promise.reject(new Error(`still open after 10 s; got ${JSON.stringify(socket.messages)}`)))]);
  expect(code).toBe(4401);
  expect(socket.messages.at(-1)).toEqual({ type: 'error', code: 'unauthorized', message: expect.any(String) });
}

const deleteUser = (userId: number) => handles[0]!.db.execute(sql`delete from users where id = ${userId}`);

test("a deleted user's token is 401 on every route and WebSocket of every server, and their open sockets are closed 4401", async () => {
  const [first] = servers;
  const gone = await registerUser(first!, 'gone');
  const stays = await registerUser(first!, 'stays');
  // Each server has seen the token work, so its verdict and the user's id are remembered.
  const openSockets: TestSocket[] = [];
  for (const server of servers) {
    expect((await server.request('GET', '/api/bookings', { token: gone.token })).status).toBe(200);
    const general = connect(`${server.wsUrl}/ws?token=${gone.token}`);
    const watching = connect(`${server.wsUrl}/ws/events/1`, { headers: { authorization: `Bearer ${gone.token}` } });
    await general.nextOfType('connection_established');
    await watching.nextOfType('subscribed');
    openSockets.push(general, watching);
  }
  const bystanders = servers.map((server) => connect(`${server.wsUrl}/ws/events/1?token=${stays.token}`));
  for (const bystander of bystanders) await bystander.nextOfType('subscribed');

  const heard = await deletionHeard(String(gone.userId));
  await deleteUser(gone.userId);
  await heard();

  for (const server of servers) {
    const requests: [string, string, unknown?][] = [
      ['GET', '/api/auth/me'],
      ['POST', '/api/auth/refresh'],
      ['GET', '/api/bookings'],
      ['GET', '/api/bookings/1'],
      ['DELETE', '/api/bookings/1'],
      ['POST', '/api/bookings', { eventId: 1 }],
      ['GET', '/api/events'],
      ['GET', '/api/events/1'],
      ['POST', '/api/events', { name: 'Ghost', startsAt: '2031-06-01T19:30:00Z', capacity: 10 }],
      ['PATCH', '/api/events/1', { name: 'Ghost' }],
    ];
    for (const [method, path, body] of requests) {
      const response = await server.request(method, path, { token: gone.token, body });
      expect({ method, path, status: response.status }).toEqual({ method, path, status: 401 });
      expectError(response, 401, 'unauthorized');
    }
    for (const socket of [connect(`${server.wsUrl}/ws?token=${gone.token}`), connect(`${server.wsUrl}/ws/events/1`, { headers: { authorization: `Bearer ${gone.token}` } })]) {
      await expectSocketRefused(socket);
      expect(socket.messages).toHaveLength(1);
    }
  }
  for (const socket of openSockets) await expectSocketRefused(socket);
  // Nobody else is touched.
  for (const bystander of bystanders) {
    await roundTrip(bystander);
    expect(bystander.isClosed()).toBe(false);
    bystander.close();
  }
  expect((await first!.request('GET', '/api/bookings', { token: stays.token })).status).toBe(200);
});

test('a user with bookings cannot be deleted: the foreign key refuses, and their token keeps working', async () => {
  const [first] = servers;
  const booker = await registerUser(first!, 'booker');
  expect((await first!.request('POST', '/api/bookings', { token: booker.token, body: { eventId: 1 } })).status).toBe(201);
  const refused = await deleteUser(booker.userId).then(
    () => null,
    (error: unknown) => error,
  );
  expect(databaseErrorCode(refused)).toBe('23503');
  for (const server of servers) expect((await server.request('GET', '/api/bookings', { token: booker.token })).body.bookings).toHaveLength(1);
});

test('TRUNCATE users: every open socket is closed 4401 and every token refused', async () => {
  const watcher = await registerUser(servers[0]!, 'watcher');
  const sockets = servers.map((server) => connect(`${server.wsUrl}/ws?token=${watcher.token}`));
  for (const socket of sockets) await socket.nextOfType('connection_established');
  const heard = await deletionHeard('*');
  await handles[0]!.db.execute(sql`truncate users cascade`);
  await heard();
  for (const socket of sockets) await expectSocketRefused(socket);
  for (const server of servers) expectError(await server.request('GET', '/api/bookings', { token: watcher.token }), 401, 'unauthorized');
});
